"""A real browser for tests: Debian's Chromium driven by Playwright, with hls.js from npm.

Use the fixtures by importing them into a test module or a conftest::

    from tests.browser import browser_page  # noqa: F401  (a pytest fixture)

`browser_page` is a fresh Chromium (its own temporary profile) and a fresh
context for each test. `HlsPlayer.open` plays an HLS URL in it with hls.js,
from a page of the playlist's own origin: camloft sends no CORS headers.

Chromium comes from Debian (`make system-deps`), hls.js from the npm registry
(`make` copies it to `src/camloft/web/static/hls.min.js`). When either is
missing the test fails, saying how to install it: CI installs both, so a
skip would hide a broken set-up. Never run `playwright install`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TESTS = Path(__file__).resolve().parent
HLS_JS = TESTS.parent / "src" / "camloft" / "web" / "static" / "hls.min.js"
ARTIFACTS = TESTS / "artifacts"


def require_browser() -> None:
    """Fails (never skips) when the set-up is incomplete."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: install Debian's chromium (`make system-deps`, as root)",
            pytrace=False,
        )
    if not HLS_JS.exists():
        pytest.fail(
            f"{HLS_JS} is missing: `make test` (or `make src/camloft/web/static/hls.min.js`) "
            "installs hls.js from npm (web/package-lock.json) and copies it there",
            pytrace=False,
        )


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Debian's Chromium, headless, started for this test alone (a fresh profile)."""
    require_browser()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def browser_page(browser: Browser) -> Iterator[Page]:
    """A page in a fresh context, 1280x720."""
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        yield context.new_page()
    finally:
        context.close()


# Records what a test needs from hls.js and the <video> element on `window.camloftTest`.
_ATTACH = """
(url) => {
  const video = document.createElement("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  video.width = 640;
  document.body.replaceChildren(video);
  const state = { errors: [], fatal: null, parsed: false, levels: [] };
  window.camloftTest = state;
  if (!Hls.isSupported()) {
    state.fatal = "Hls.isSupported() is false: no MediaSource for H.264 in this browser";
    return;
  }
  const hls = new Hls({ debug: false });
  window.camloftHls = hls;
  hls.on(Hls.Events.MANIFEST_PARSED, (_event, data) => {
    state.parsed = true;
    state.levels = data.levels.map((level) => [level.width, level.height, level.codecs]);
    video.play().catch((err) => state.errors.push("play(): " + err));
  });
  hls.on(Hls.Events.ERROR, (_event, data) => {
    const text = `${data.type}/${data.details}` +
      (data.response ? ` HTTP ${data.response.code}` : "") +
      (data.reason ? ` (${data.reason})` : "") + (data.error ? ` ${data.error}` : "");
    state.errors.push((data.fatal ? "fatal " : "") + text);
    if (data.fatal) { state.fatal = text; }
  });
  hls.loadSource(url);
  hls.attachMedia(video);
}
"""

_STATE = """
() => {
  const video = document.querySelector("video");
  let played = 0;
  for (let i = 0; i < video.played.length; i++) {
    played += video.played.end(i) - video.played.start(i);
  }
  return {
    ...window.camloftTest,
    currentTime: video.currentTime,
    played: played,
    videoWidth: video.videoWidth,
    videoHeight: video.videoHeight,
    readyState: video.readyState,
    paused: video.paused,
    mediaError: video.error ? `${video.error.code} ${video.error.message}` : null,
  };
}
"""


@dataclass
class HlsPlayer:
    """hls.js playing one URL in a page."""

    page: Page

    @classmethod
    def open(cls, page: Page, playlist_url: str) -> HlsPlayer:
        """Load hls.js on the playlist's origin (same-origin: no CORS needed) and play it."""
        parts = urlsplit(playlist_url)
        page.goto(f"{parts.scheme}://{parts.netloc}/healthz")
        page.add_script_tag(path=str(HLS_JS))
        page.evaluate(_ATTACH, playlist_url)
        return cls(page)

    def state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.page.evaluate(_STATE)
        return state

    def play_for(self, seconds: float, *, timeout: float) -> dict[str, Any]:
        """Wait until `seconds` of media really played (the video's `played` ranges, and
        `currentTime` moving on as much since it first moved); fail on a fatal error."""
        deadline = time.monotonic() + timeout
        started: float | None = None
        state = self.state()
        while time.monotonic() < deadline:
            state = self.state()
            if state["fatal"]:
                pytest.fail(f"hls.js stopped: {state['fatal']}; all errors: {state['errors']}")
            if state["mediaError"]:
                pytest.fail(f"the <video> failed: {state['mediaError']}; hls.js: {state['errors']}")
            if started is None and state["currentTime"] > 0:
                started = state["currentTime"]
            if (
                started is not None
                and state["currentTime"] - started >= seconds
                and state["played"] >= seconds
            ):
                return state
            time.sleep(0.25)
        pytest.fail(f"{seconds} s did not play in {timeout} s; last state: {state}")

    def screenshot(self, name: str) -> Path:
        ARTIFACTS.mkdir(exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.locator("video").screenshot(path=str(path))
        return path
