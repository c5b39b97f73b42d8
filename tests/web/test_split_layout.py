"""The web viewer when the roles run as separate processes, on separate origins.

The page comes from an authenticator (`--role auth`); the camera's logger and live
origin are another process on another port (`--role logger,live`, with
`allow_origins` naming the authenticator), placed by the fleet (a Redis bus, one
SQLite database shared by both). A `camloft adapter` records a synthetic camera,
finding its logger through the authenticator. In Debian's Chromium the viewer
must do everything across origins: the camera's state from the logger's realtime
stream, its thumb, its events, an event played with hls.js, and live video.
"""

from __future__ import annotations

import secrets
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser import browser, browser_page  # noqa: F401  (fixtures)
from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD, fleet_env
from tests.support import (
    CAMLOFT,
    Server,
    auth_header,
    login,
    stop_process,
)
from tests.web.test_viewer import WATCH_CSP, csp_violations, shot, wait_playing

pytestmark = pytest.mark.e2e
PASSWORD = "split-pw-1"
# Online, or live: the first test's live view goes on for its 60 s tail.
ONLINE = ".camera .badge.status-online, .camera .badge.status-live"


@dataclass
class Split:
    auth: Server
    logger: Server  # the camera's logger and live origin at first
    other: Server  # another logger and live origin
    email: str
    uidd: str


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Split]:
    root = tmp_path_factory.mktemp("split")
    env = fleet_env(root, f"sqlite+aiosqlite:///{root / 'camloft.db'}")
    auth = Server(root / "auth", env | {"CAMLOFT_ROLES": "auth"}).start()
    fleet = env | {"CAMLOFT_ROLES": "logger,live", "CAMLOFT_ALLOW_ORIGINS": auth.url}
    first, second = (Server(root / name, fleet).start() for name in ("logger-1", "logger-2"))
    admin = auth_header(login(auth.url, ADMIN_EMAIL, ADMIN_PASSWORD))
    email = f"split-{secrets.token_hex(3)}@example.com"
    httpx.post(f"{auth.url}/admin/users", headers=admin,
               json={"email": email, "password": PASSWORD, "alias": "Split Owner"}
               ).raise_for_status()
    created = httpx.post(f"{auth.url}/admin/devices", headers=admin,
                         json={"owner": email, "name": "Yard"})
    created.raise_for_status()
    device = created.json()["result"]
    config = root / "cameras.toml"
    config.write_text(
        f'auth_url = "{auth.url}"\nspool_dir = "{root / "spool"}"\n'
        f'[[cameras]]\nuidd = "{device["uidd"]}"\nkey = "{device["deviceKey"]}"\n'
        'name = "yard"\nsource = "synthetic"\nthumb_every_seconds = 5\n'
        "[cameras.synthetic]\nrandom_motion = false\nmotion = [[2.0, 9.0]]\n"
        "width = 320\nheight = 180\n"
    )
    with (root / "adapter.log").open("ab") as log:
        adapter = subprocess.Popen([*CAMLOFT, "adapter", "--config", str(config)],
                                   stdout=log, stderr=subprocess.STDOUT)
    token = login(auth.url, email, PASSWORD)
    placed = httpx.get(f"{auth.url}/cameras", headers=auth_header(token)).json()[0]
    logger, other = (first, second) if placed["loggerUrl"] == first.url else (second, first)
    try:
        yield Split(auth, logger, other, email, device["uidd"])
    finally:
        stop_process(adapter)
        first.stop()
        second.stop()
        auth.stop()


@pytest.mark.timeout(300)
def test_the_viewer_works_across_origins(split: Split, browser_page: Page) -> None:  # noqa: F811
    # Only the named origin may call the logger from a page.
    preflight = {"Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"}
    allowed = httpx.options(f"{split.logger.url}/alert",
                            headers={"Origin": split.auth.url} | preflight)
    assert allowed.headers.get("access-control-allow-origin") == split.auth.url
    refused = httpx.options(f"{split.logger.url}/alert",
                            headers={"Origin": "https://elsewhere.example"} | preflight)
    assert "access-control-allow-origin" not in refused.headers
    assert httpx.get(f"{split.auth.url}/alert").status_code == 404  # not a logger

    page = browser_page
    page.add_init_script(WATCH_CSP)  # the policy allows the other origins' video and calls
    page.goto(f"{split.auth.url}/")
    page.fill("#login-email", split.email)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator(".camera-name")).to_have_text(["Yard"])
    # State from the logger's realtime stream, thumb from the logger: other origin.
    expect(page.locator(".camera .badge.status-online")).to_have_count(1, timeout=30_000)
    page.wait_for_function(
        "() => { const img = document.querySelector('.camera img.thumb');"
        " return img && img.complete && img.naturalWidth > 0"
        f" && img.src.startsWith('{split.logger.url}/getthumb/'); }}",
        timeout=30_000,
    )

    page.click(f"a.camera[data-uidd='{split.uidd}']")
    event = page.locator("#event-list .event-item a.event").first
    expect(event).to_be_visible(timeout=30_000)
    event.click()
    wait_playing(page, "#event-video", 2.0, timeout=45)
    shot(page, "web-split-event")

    with page.expect_request(lambda r: r.url.startswith(f"{split.logger.url}/sendcameratask")
                             and "action=livecommand" in r.url):
        page.click("#tab-live")
    wait_playing(page, "#live-video", 2.0, timeout=60)
    shot(page, "web-split-live")
    assert csp_violations(page) == []


@pytest.mark.timeout(300)
def test_the_viewer_follows_a_camera_whose_logger_died(
    split: Split, browser_page: Page,  # noqa: F811
) -> None:
    """The page open, the camera's logger killed: the fleet moves the camera, the page's
    realtime stream fails and it asks viewerInfo again, and shows the camera from its new
    logger, online, with live video from its new origin."""
    page = browser_page
    page.goto(f"{split.auth.url}/")
    page.fill("#login-email", split.email)
    page.fill("#login-password", PASSWORD)
    page.click("#login-submit")
    expect(page.locator(ONLINE)).to_have_count(1, timeout=30_000)
    logger_of = f"camloft.cameras.cameras.get('{split.uidd}').loggerUrl"
    assert page.evaluate(f"() => {logger_of}") == split.logger.url
    assert split.logger.process is not None
    split.logger.process.kill()  # no goodbye
    page.wait_for_function(f"() => {logger_of} === '{split.other.url}'", timeout=60_000)
    expect(page.locator(ONLINE)).to_have_count(1, timeout=30_000)
    page.click(f"a.camera[data-uidd='{split.uidd}']")
    with page.expect_request(lambda r: r.url.startswith(f"{split.other.url}/sendcameratask")
                             and "action=livecommand" in r.url):
        page.click("#tab-live")
    wait_playing(page, "#live-video", 2.0, timeout=60)
