"""hls.js in headless Chromium plays camloft's live HLS and a recorded event.

The player a browser user has: Debian's Chromium driven by Playwright, hls.js
from npm (`tests/browser.py`), against `camloft serve --demo` with its
synthetic cameras recording in-process (640x360 H.264 + AAC).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page

from tests.browser import HlsPlayer, browser, browser_page  # noqa: F401  (fixtures)
from tests.support import Server, auth_header, camloft_env, login, new_secret, playable_event

pytestmark = pytest.mark.e2e

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo"
CAMERA = "1.1"  # Front Door
WIDTH, HEIGHT = 640, 360  # the synthetic camera's default picture
PLAY_SECONDS = 3.0
EVENT_SECONDS = 12.0  # video an event must hold before it is played


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`camloft serve --demo` on SQLite with the demo cameras on (the session's
    `deployment` turns them off)."""
    env = camloft_env(new_secret(), None, demo_cameras="true")
    server = Server(tmp_path_factory.mktemp("camloft-browser"), env, ["--demo"]).start()
    yield server
    server.stop()


@pytest.fixture
def demo_token(demo_server: Server) -> str:
    return login(demo_server.url, DEMO_EMAIL, DEMO_PASSWORD)


def camera_details(server: Server, token: str, uidd: str) -> dict[str, Any]:
    response = httpx.get(
        f"{server.url}/devices/viewerInfo", params={"uidd": uidd}, headers=auth_header(token)
    )
    response.raise_for_status()
    uid, device_id = uidd.split(".")
    details: dict[str, Any] = response.json()["result"][uid]["devices"][device_id]
    return details


def send_livecommand(server: Server, token: str, uidd: str, timeout: float = 30.0) -> None:
    """The camera's link may not be up the moment the server starts: a 409 is retried."""
    deadline = time.monotonic() + timeout
    while True:
        response = httpx.get(
            f"{server.url}/sendcameratask",
            params={"uidd": uidd, "action": "livecommand"},
            headers=auth_header(token),
        )
        if response.status_code != 409 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.text


def report(player: HlsPlayer, name: str, state: dict[str, Any]) -> Path:
    shot = player.screenshot(name)
    print(
        f"\n{name}: played {state['played']:.1f} s to {state['currentTime']:.1f} s, "
        f"{state['videoWidth']}x{state['videoHeight']}; hls.js errors {state['errors']}; "
        f"screenshot {shot}"
    )
    return shot


@pytest.mark.timeout(120)
def test_live_stream_plays_in_hls_js(
    demo_server: Server,
    demo_token: str,
    browser_page: Page,  # noqa: F811
) -> None:
    """The live origin's playlist (1.4.1) plays in a browser: after `livecommand`,
    hls.js plays at least 3 s of the camera's real 640x360 picture with no fatal error."""
    details = camera_details(demo_server, demo_token, CAMERA)
    send_livecommand(demo_server, demo_token, CAMERA)
    playlist = (
        f"{details['wowzaUrl']}/manything/{details['streamname']}/playlist.m3u8"
        f"?userToken={demo_token}"
    )

    player = HlsPlayer.open(browser_page, playlist)
    state = player.play_for(PLAY_SECONDS, timeout=60)

    assert (state["videoWidth"], state["videoHeight"]) == (WIDTH, HEIGHT), state
    assert state["fatal"] is None, state
    report(player, "live-1.1", state)


@pytest.mark.timeout(180)
def test_recorded_event_plays_in_hls_js(
    demo_server: Server,
    demo_token: str,
    browser_page: Page,  # noqa: F811
) -> None:
    """A recorded event's playlist (`/alerturl.m3u8`, 1.1.4) plays in a browser: the
    token rides in the segment URIs, so hls.js needs no headers."""
    event = playable_event(demo_server.url, demo_token, CAMERA, seconds=EVENT_SECONDS, timeout=120)
    playlist = f"{demo_server.url}/alerturl.m3u8?uidd={CAMERA}&id={event['id']}&token={demo_token}"

    player = HlsPlayer.open(browser_page, playlist)
    state = player.play_for(PLAY_SECONDS, timeout=30)

    assert (state["videoWidth"], state["videoHeight"]) == (WIDTH, HEIGHT), state
    assert state["fatal"] is None, state
    kind = "recording" if event["recording"] else "finished"
    report(player, f"event-1.1-{event['id']}-{kind}", state)
