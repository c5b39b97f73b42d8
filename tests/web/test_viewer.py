"""The web viewer in a real browser: Debian's Chromium driven by Playwright against
`camloft serve --demo` with its synthetic cameras recording (one server for the module).

Each screen is saved to `tests/artifacts/web-*.png`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import ARTIFACTS, browser, browser_page  # noqa: F401  (fixtures)
from tests.support import Server, auth_header, camloft_env, login, new_secret, playable_event

pytestmark = pytest.mark.e2e

OWNER = ("demo@example.com", "demo")
VIEWER = ("viewer@example.com", "viewer")
PLAY_SECONDS = 2.0
EVENT_SECONDS = 8.0  # video an event must hold before it is played
# What the browser does when the tab is hidden or shown again.
SET_VISIBILITY = """(state) => {
  Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    env = camloft_env(new_secret(), None, demo_cameras="true")
    server = Server(tmp_path_factory.mktemp("camloft-web"), env, ["--demo"]).start()
    yield server
    server.stop()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


# Collects what the page's Content-Security-Policy refused, from before its scripts run.
WATCH_CSP = """window.cspViolations = [];
document.addEventListener("securitypolicyviolation",
  (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"""


def csp_violations(page: Page) -> list[str]:
    found: list[str] = page.evaluate("() => window.cspViolations || []")
    return found


def log_in(page: Page, server: Server, who: tuple[str, str]) -> None:
    page.add_init_script(WATCH_CSP)
    page.goto(f"{server.url}/")
    page.fill("#login-email", who[0])
    page.fill("#login-password", who[1])
    page.click("#login-submit")
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("a.camera")).to_have_count(3)


def events_of(server: Server, token: str, uidd: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{server.url}/alert", params={"uidd": uidd}, headers=auth_header(token))
    response.raise_for_status()
    events: list[dict[str, Any]] = response.json()["result"]
    return events


def wait_playing(page: Page, selector: str, seconds: float, timeout: float) -> float:
    """Waits until the video's currentTime has moved on `seconds` from where it first moved."""
    deadline = time.monotonic() + timeout
    first: float | None = None
    now = 0.0
    while time.monotonic() < deadline:
        now = page.eval_on_selector(selector, "video => video.currentTime")
        if first is None and now > 0:
            first = now
        if first is not None and now - first >= seconds:
            return now
        time.sleep(0.25)
    state = page.eval_on_selector(
        selector,
        "v => ({t: v.currentTime, rs: v.readyState, err: v.error && v.error.message,"
        " src: v.currentSrc})",
    )
    pytest.fail(f"{selector} did not play {seconds} s in {timeout} s: {state}")


def test_root_answers_the_page_to_browsers_and_json_to_api_clients(demo_server: Server) -> None:
    page = httpx.get(f"{demo_server.url}/", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/static/hls.min.js" in page.text and "/static/app.js" in page.text
    assert "//cdn" not in page.text
    described = httpx.get(f"{demo_server.url}/")
    assert described.json()["name"] == "camloft"
    assert httpx.get(f"{demo_server.url}/", headers={"Accept": "text/html;q=0"}).json()
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    script = httpx.get(f"{demo_server.url}/static/app.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert httpx.get(f"{demo_server.url}/static/hls.min.js").status_code == 200


def test_login_cameras_and_cookie_login(demo_server: Server, browser_page: Page) -> None:  # noqa: F811
    """Email and password, then the cameras grouped under the owner's alias, with their
    realtime state and thumbs; a reload gets back in from the cookie, with no password."""
    page = browser_page
    page.goto(f"{demo_server.url}/")
    expect(page.locator("#login-form")).to_be_visible()
    shot(page, "web-login")
    page.fill("#login-email", OWNER[0])
    page.fill("#login-password", "wrong")
    page.click("#login-submit")
    expect(page.locator("#error")).to_contain_text("wrong email or password (login_failed)")
    page.click("#error-close")

    log_in(page, demo_server, OWNER)
    expect(page.locator(".camera-group .owner")).to_have_text(["Demo Customer"])
    expect(page.locator(".camera-name")).to_have_text(["Front Door", "Garden", "Garage"])
    # The realtime stream brings each camera's state and its last thumb.
    expect(page.locator(".camera .badge.status-online, .camera .badge.status-live")).to_have_count(
        3, timeout=30_000
    )
    page.wait_for_function(
        "() => [...document.querySelectorAll('.camera img.thumb')]"
        ".every(img => img.complete && img.naturalWidth > 0)",
        timeout=30_000,
    )
    shot(page, "web-cameras")

    # The token is renewed from the cookie (what the page does before the 20 minutes).
    before = page.evaluate("() => camloft.session.token")
    page.wait_for_timeout(1100)
    page.evaluate("() => camloft.session.refresh()")
    assert page.evaluate("() => camloft.session.token") != before

    page.reload()
    expect(page.locator("#app")).to_be_visible()
    expect(page.locator("#login-screen")).to_be_hidden()
    expect(page.locator("#user-email")).to_have_text(OWNER[0])

    page.click("#logout")
    expect(page.locator("#login-screen")).to_be_visible()
    page.reload()
    expect(page.locator("#login-screen")).to_be_visible()


def test_search_and_filter(demo_server: Server, browser_page: Page) -> None:  # noqa: F811
    page = browser_page
    log_in(page, demo_server, OWNER)
    visible = page.locator("a.camera:visible .camera-name")
    page.fill("#camera-search", "gar")
    expect(visible).to_have_text(["Garden", "Garage"])
    expect(page.locator("#camera-count")).to_have_text("2 of 3 cameras")
    page.fill("#camera-search", "demo customer")  # the owner's alias matches too
    expect(visible).to_have_count(3)
    page.fill("#camera-search", "nothing like it")
    expect(visible).to_have_count(0)
    expect(page.locator(".camera-group")).to_be_hidden()
    page.fill("#camera-search", "")
    page.select_option("#camera-status-filter", "offline")
    expect(page.locator("a.camera:visible")).to_have_count(0, timeout=30_000)
    page.select_option("#camera-status-filter", "")
    expect(visible).to_have_count(3)
    shot(page, "web-search")


def test_search_stays_fast_with_thousands_of_cameras(
    demo_server: Server,
    browser_page: Page,  # noqa: F811
) -> None:
    """5,000 cameras of 500 owners: a keystroke flips the visibility of what changed and
    makes no new element."""
    owners: dict[str, Any] = {}
    for uid in range(1000, 1500):
        devices = {
            str(n): {
                "uidd": f"{uid}.{n}",
                "phonename": f"Camera {n} of shop {uid}",
                "permissions": ["r"],
                "wowzaUrl": demo_server.url,
                "streamname": f"{uid}.{n}_000000-nr",
            }
            for n in range(1, 11)
        }
        owners[str(uid)] = {"alias": f"Shop {uid}", "devices": devices}
    body = json.dumps({"result": owners, "errors": []})
    page = browser_page
    page.route(
        "**/devices/viewerInfo*",
        lambda route: route.fulfill(status=200, content_type="application/json", body=body),
    )
    page.route("**/cameras/realtime/live*", lambda route: route.abort())
    page.goto(f"{demo_server.url}/")
    page.fill("#login-email", OWNER[0])
    page.fill("#login-password", OWNER[1])
    page.click("#login-submit")
    expect(page.locator("#camera-count")).to_have_text("5000 cameras", timeout=30_000)
    timing = page.evaluate(
        """() => {
          const search = document.getElementById("camera-search");
          const before = document.getElementsByTagName("*").length;
          const times = [];
          for (const text of ["shop 12", "shop 1234", "camera 3 of shop 1234", ""]) {
            search.value = text;
            const start = performance.now();
            camloft.cameras.applyFilter();
            document.body.offsetHeight;  // and the layout it causes
            times.push(performance.now() - start);
          }
          search.value = "camera 3 of shop 1234";
          camloft.cameras.applyFilter();
          return {times, made: document.getElementsByTagName("*").length - before,
                  count: document.getElementById("camera-count").textContent};
        }"""
    )
    print(f"\nfilter over 5000 cameras: {[round(t, 1) for t in timing['times']]} ms")
    assert timing["made"] == 0
    assert timing["count"] == "1 of 5000 cameras"
    assert max(timing["times"]) < 250, timing
    expect(page.locator("a.camera:visible")).to_have_count(1)


def test_event_plays_with_scrubbing_and_download(
    demo_server: Server,
    browser_page: Page,  # noqa: F811
) -> None:
    event = playable_event(
        demo_server.url, login(demo_server.url, *OWNER), "1.1", seconds=EVENT_SECONDS, timeout=120
    )
    page = browser_page
    log_in(page, demo_server, OWNER)
    page.click("a.camera[data-uidd='1.1']")
    first = page.locator("#event-list .event-item").first
    expect(first).to_be_visible(timeout=30_000)
    # Newest first; start time in the camera's zone, duration, type and magnitude.
    expect(first.locator("time")).to_contain_text("UTC+0")
    expect(first.locator(".event-type")).to_contain_text("motion")
    ids = [
        int(i)
        for i in page.locator("#event-list .event-item").evaluate_all(
            "items => items.map(item => item.dataset.id)"
        )
    ]
    assert ids == sorted(ids, reverse=True)

    page.locator(f".event-item[data-id='{event['id']}'] a.event").click()
    expect(page.locator("#event-view")).to_be_visible()
    wait_playing(page, "#event-video", PLAY_SECONDS, timeout=30)
    assert page.evaluate("() => window.Hls.isSupported()")
    shot(page, "web-event")

    # Scrubbing: a seek back to the start plays on from there.
    page.eval_on_selector("#event-video", "video => { video.currentTime = 0.5; }")
    page.wait_for_function(
        "() => { const v = document.getElementById('event-video');"
        " return !v.seeking && v.currentTime > 0.7 && v.currentTime < 6; }",
        timeout=15_000,
    )

    assert csp_violations(page) == []
    download = page.get_attribute("#download", "href")
    assert download is not None and "buildmp4=1" in download
    with httpx.stream("GET", f"{demo_server.url}{download}") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "video/mp4"
        assert "attachment" in response.headers["content-disposition"]


def test_live_view_plays_and_controls(demo_server: Server, browser_page: Page) -> None:  # noqa: F811
    page = browser_page
    log_in(page, demo_server, OWNER)
    with page.expect_request(lambda r: "action=livecommand" in r.url):
        page.click("a.camera[data-uidd='1.2']")
        page.click("#tab-live")
    wait_playing(page, "#live-video", PLAY_SECONDS, timeout=60)
    expect(page.locator("#camera-status")).to_have_text("live", timeout=15_000)

    # The owner holds the admin right: PTZ pad and "record now".
    expect(page.locator("#ptz")).to_be_visible()
    page.locator("#ptz button[data-dir='left']").hover()
    with page.expect_request(lambda r: "action=ptzstart_left" in r.url):
        page.mouse.down()
    with page.expect_request(lambda r: "action=ptzstop" in r.url):
        page.mouse.up()
    page.locator("#ptz button[data-dir='in']").focus()
    with page.expect_request(lambda r: "action=ptzstart_in" in r.url):
        page.keyboard.down("Enter")
    with page.expect_request(lambda r: "action=ptzstop" in r.url):
        page.keyboard.up("Enter")
    with page.expect_request(lambda r: "action=triggerevent" in r.url):
        page.click("#record-now")
    expect(page.locator("#record-now")).to_have_attribute("aria-pressed", "true")
    page.click("#record-now")
    expect(page.locator("#record-now")).to_have_attribute("aria-pressed", "false")

    # Capture still: the new still is shown.
    page.click("#capture-still")
    page.wait_for_function(
        "() => { const img = document.querySelector('#still img');"
        " return img.src.includes('/getstill/1.2/') && img.complete && img.naturalWidth > 0; }",
        timeout=30_000,
    )
    expect(page.locator("#still")).to_be_visible()
    shot(page, "web-live")
    assert csp_violations(page) == []

    # A hidden tab sends no keepalive and lets the player go; visible again, it starts over.
    page.evaluate(SET_VISIBILITY, "hidden")
    page.wait_for_function(
        "() => { const video = document.getElementById('live-video');"
        " return video.readyState === 0 && !video.getAttribute('src'); }"
    )
    with page.expect_request(lambda r: "action=livecommand" in r.url):
        page.evaluate(SET_VISIBILITY, "visible")
    wait_playing(page, "#live-video", 1.0, timeout=60)


def test_delete_as_admin(demo_server: Server, browser_page: Page) -> None:  # noqa: F811
    """The owner deletes an event from the list, after confirming. (The demo's events
    often record for minutes: one still recording is created anew, from the video after
    the delete, by the adapter's next update of it.)"""
    event = playable_event(
        demo_server.url, login(demo_server.url, *OWNER), "1.3", seconds=EVENT_SECONDS, timeout=120
    )
    page = browser_page
    log_in(page, demo_server, OWNER)
    page.click("a.camera[data-uidd='1.3']")
    item = page.locator(f".event-item[data-id='{event['id']}']")
    expect(item).to_be_visible(timeout=30_000)
    item.locator("button.delete-event").click()
    expect(page.locator("#confirm-dialog")).to_be_visible()
    expect(page.locator("#confirm-text")).to_contain_text("Delete the event of Garage at")
    shot(page, "web-delete-confirm")
    with page.expect_response(lambda r: r.request.method == "DELETE") as answer:
        page.click("#confirm-ok")
    assert answer.value.status == 200 and answer.value.json()["result"] == "deleted"
    assert page.evaluate(f"() => !camloft.events.ids.has({event['id']})")
    expect(page.locator("#error")).to_be_hidden()
    if not event["recording"]:
        expect(item).to_have_count(0)
        token = login(demo_server.url, *OWNER)
        assert event["id"] not in [e["id"] for e in events_of(demo_server, token, "1.3")]


def test_read_only_viewer_is_refused(demo_server: Server, browser_page: Page) -> None:  # noqa: F811
    event = playable_event(
        demo_server.url, login(demo_server.url, *OWNER), "1.1", seconds=EVENT_SECONDS, timeout=120
    )
    page = browser_page
    log_in(page, demo_server, VIEWER)
    expect(page.locator("#nav-sharing")).to_be_hidden()  # owns no camera
    page.click("a.camera[data-uidd='1.1']")
    expect(page.locator("#event-list .event-item").first).to_be_visible(timeout=30_000)
    expect(page.locator("button.delete-event")).to_have_count(0)
    page.click("#tab-live")
    expect(page.locator("#live-view")).to_be_visible()
    expect(page.locator("#ptz")).to_be_hidden()
    expect(page.locator("#record-now")).to_be_hidden()
    # A forged delete, as the page's own code would send it: the server says no, and the
    # page shows why.
    deleted = page.evaluate(f"() => camloft.deleteEvent('1.1', {event['id']})")
    assert deleted is False
    expect(page.locator("#error")).to_contain_text("no admin access to device 1.1 (forbidden)")
    shot(page, "web-viewer-refused")


def test_sharing_grant_and_revoke(demo_server: Server, browser_page: Page) -> None:  # noqa: F811
    page = browser_page
    log_in(page, demo_server, OWNER)
    page.click("#nav-sharing")
    rows = page.locator("#grant-rows tr")
    expect(rows).to_have_count(1)  # the demo's read grant to the viewer
    expect(rows.first).to_contain_text("viewer@example.com")
    expect(rows.first).to_contain_text("All my cameras")

    page.fill("#share-email", "nobody@example.com")
    page.click("#share-submit")
    expect(page.locator("#error")).to_contain_text("no user with email nobody@example.com")
    page.click("#error-close")

    page.fill("#share-email", VIEWER[0])
    page.select_option("#share-device", "1.3")
    page.select_option("#share-right", "a")
    page.click("#share-submit")
    granted = page.locator("#grant-rows tr[data-target='1.3']")
    expect(granted).to_contain_text("Admin")
    shot(page, "web-sharing")
    token = login(demo_server.url, *VIEWER)
    devices = httpx.get(f"{demo_server.url}/devices", headers=auth_header(token)).json()
    assert devices["result"]["1"]["devices"]["3"]["permissions"] == ["a"]

    granted.locator("button").click()
    expect(granted).to_have_count(0)
    expect(rows).to_have_count(1)
    devices = httpx.get(f"{demo_server.url}/devices", headers=auth_header(token)).json()
    assert devices["result"]["1"]["devices"]["3"]["permissions"] == ["r"]


def test_phone_layout(demo_server: Server, browser: Browser) -> None:  # noqa: F811
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    try:
        page = context.new_page()
        log_in(page, demo_server, OWNER)
        expect(page.locator("#camera-pane")).to_be_visible()
        expect(page.locator("#detail-pane")).to_be_hidden()
        overflow = "() => document.documentElement.scrollWidth - window.innerWidth"
        assert page.evaluate(overflow) <= 0
        shot(page, "web-phone-cameras")
        page.click("a.camera[data-uidd='1.1']")
        expect(page.locator("#camera-pane")).to_be_hidden()
        expect(page.locator("#camera-view .back")).to_be_visible()
        expect(page.locator("#event-list .event-item").first).to_be_visible(timeout=60_000)
        assert page.evaluate(overflow) <= 0
        shot(page, "web-phone-events")
        page.click("#tab-live")
        wait_playing(page, "#live-video", 1.0, timeout=60)
        assert page.evaluate(overflow) <= 0
        box = page.locator("#live-video").bounding_box()
        assert box is not None and box["width"] <= 390
        shot(page, "web-phone-live")
        page.click("#camera-view .back")
        expect(page.locator("#camera-pane")).to_be_visible()
    finally:
        context.close()


def test_the_page_renews_its_token_before_it_expires(
    tmp_path_factory: pytest.TempPathFactory,
    browser_page: Page,  # noqa: F811
) -> None:
    """With 8 s tokens, the page is still signed in and working 20 s later, on the
    tokens it renewed by itself from the cookie (no test code calls the renewal)."""
    env = camloft_env(new_secret(), None, demo_cameras="false", token_ttl_seconds="8")
    server = Server(tmp_path_factory.mktemp("camloft-web-ttl"), env, ["--demo"]).start()
    try:
        page = browser_page
        page.goto(f"{server.url}/")
        page.fill("#login-email", OWNER[0])
        page.fill("#login-password", OWNER[1])
        page.click("#login-submit")
        expect(page.locator("a.camera")).to_have_count(3)
        tokens = {page.evaluate("() => camloft.session.token")}
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            page.wait_for_timeout(1000)
            tokens.add(page.evaluate("() => camloft.session.token"))
        assert len(tokens) >= 3  # renewed about every 6 s (75 % of 8 s), never let lapse
        token = page.evaluate("() => camloft.session.token")
        mine = httpx.get(f"{server.url}/devices", headers=auth_header(token))
        assert mine.status_code == 200  # the page's current token is valid
        page.click("#nav-sharing")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#login-screen")).to_be_hidden()
    finally:
        server.stop()
