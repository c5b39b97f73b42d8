"""Live video on demand, end to end (reference 1.1.2, 1.3.4, 1.4.1).

`camloft adapter` runs as a child process with a synthetic camera, linked to
`camloft serve` in another; a second `camloft serve` on the same database
plays a second live origin. A viewer does what the reference says: send
`livecommand`, keep sending it, play the playlist; then stops, and the
stream must stop by itself after the tail (shortened to 4 s here by the
camera's `live_tail_seconds`, which defaults to the reference's 60). A device
moved to the other origin streams there from its next `livecommand`.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx
import pytest

from tests.conftest import Deployment, start_deployment
from tests.logger.test_alerts import PASSWORD
from tests.support import CAMLOFT, Server, auth_header, login

pytestmark = pytest.mark.e2e
TAIL_SECONDS = 4


@dataclass
class Site:
    logger: Deployment
    other_origin: Server
    uidd: str
    token: str
    adapter: subprocess.Popen[bytes]
    root: Path

    def adapter_log(self) -> str:
        return (self.root / "adapter.log").read_text(errors="replace")

    def get(self, path: str, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.logger.url}{path}", params=params, headers=auth_header(self.token), timeout=30
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    def livecommand(self) -> None:
        self.get("/sendcameratask", uidd=self.uidd, action="livecommand")

    def device_info(self) -> dict[str, Any]:
        owner, device = self.uidd.split(".")
        info: dict[str, Any] = self.get("/devices/viewerInfo", uidd=self.uidd)["result"][owner]
        return dict(info["devices"][device])

    def status(self) -> dict[str, Any]:
        owner, device = self.uidd.split(".")
        found: dict[str, Any] = self.get("/cameras/status", uidd=self.uidd)["result"]
        return dict(found[owner]["devices"][device]) if found else {}

    def playlist_url(self) -> str:
        info = self.device_info()
        query = urlencode({"userToken": self.token})
        return f"{info['wowzaUrl']}/manything/{info['streamname']}/playlist.m3u8?{query}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    root = tmp_path_factory.mktemp("live-site")
    logger, _ = start_deployment("sqlite", root / "logger")
    other = Server(root / "origin-2", logger.server.env).start()  # same database and secret
    owner = logger.new_user()
    created = httpx.post(
        f"{logger.url}/admin/devices",
        headers=auth_header(logger.admin_token),
        json={"owner": owner["email"], "name": "Porch"},
    ).json()["result"]
    config = root / "cameras.toml"
    config.write_text(
        f'logger_url = "{logger.url}"\nspool_dir = "{root / "spool"}"\n'
        f'[[cameras]]\nuidd = "{created["uidd"]}"\nkey = "{created["deviceKey"]}"\n'
        f'name = "porch"\nsource = "synthetic"\nlive_tail_seconds = {TAIL_SECONDS}\n'
        "[cameras.synthetic]\nrandom_motion = false\n"
    )
    with (root / "adapter.log").open("ab") as log:
        adapter = subprocess.Popen(
            [*CAMLOFT, "adapter", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
        )
    token = login(logger.url, str(owner["email"]), PASSWORD)
    found = Site(logger, other, created["uidd"], token, adapter, root)
    deadline = time.monotonic() + 30
    while found.status().get("status") != "online":
        assert time.monotonic() < deadline, (root / "adapter.log").read_text()
        time.sleep(0.3)
    yield found
    adapter.terminate()
    adapter.wait(30)
    other.stop()
    logger.server.stop()


def realtime(site: Site, seen: list[dict[str, Any]], stop: threading.Event) -> None:
    """Collect the device's liveSession messages until `stop`."""
    url = f"{site.logger.url}/cameras/realtime/live"
    with httpx.stream(
        "GET", url, params={"uidd": site.uidd}, headers=auth_header(site.token), timeout=None
    ) as answer:
        for line in answer.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line[6:])
                if message["type"] == "liveSession":
                    seen.append(message["data"])
            if stop.is_set():
                return


def uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_livecommand_streams_while_kept_alive_then_stops_by_itself(site: Site) -> None:
    seen: list[dict[str, Any]] = []
    stop = threading.Event()
    listener = threading.Thread(target=realtime, args=(site, seen, stop), daemon=True)
    listener.start()
    assert site.status()["live"] is False
    url = site.playlist_url()

    asked = time.monotonic()
    site.livecommand()
    first = httpx.get(url, timeout=30)  # the origin holds it until the first segment
    assert first.status_code == 200, first.text
    assert time.monotonic() - asked < 2.0  # the first segment comes from the pre-roll
    assert uris(first.text)[0].startswith("media_0.ts?userToken=")

    # Kept alive for twice the tail: it goes on, one unbroken stream.
    for _ in range(4):
        time.sleep(TAIL_SECONDS / 2)
        site.livecommand()
        text = httpx.get(url).text
        assert "#EXT-X-ENDLIST" not in text and "#EXT-X-DISCONTINUITY\n" not in text
    status = site.status()
    assert status["live"] is True and status["status"] == "live"
    assert status["wowza"] == urlsplit(site.logger.url).netloc
    assert status["session"] == status["startt"] and status["session"] > 0
    last_keepalive = time.monotonic()

    # Then nobody asks: the stream ends a tail after the last livecommand.
    while "#EXT-X-ENDLIST" not in (text := httpx.get(url).text):
        assert time.monotonic() - last_keepalive < TAIL_SECONDS + 5, text
        time.sleep(0.2)
    stopped_after = time.monotonic() - last_keepalive
    assert TAIL_SECONDS - 0.5 <= stopped_after <= TAIL_SECONDS + 3
    deadline = time.monotonic() + 5
    while site.status()["live"]:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert site.status()["status"] == "online"

    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", url],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert probe.returncode == 0 and probe.stderr == "", probe.stderr
    # The window's last 6 segments of 1 s, 15 fps: every frame decodes, audio too.
    assert min(int(n) for n in probe.stdout.split()) >= 5 * 15

    time.sleep(1.5)
    stop.set()
    live_flags = [message["live"] for message in seen]
    assert live_flags[0] is False and True in live_flags and live_flags[-1] is False
    went_live = next(message for message in seen if message["live"])
    assert went_live["status"] == "live" and went_live["wowza"] == status["wowza"]
    assert went_live["session"] == status["session"]


def test_a_moved_device_streams_to_its_new_origin(site: Site) -> None:
    moved = httpx.post(
        f"{site.logger.url}/admin/devices/{site.uidd}/move",
        headers=auth_header(site.logger.admin_token),
        json={"wowza": site.other_origin.url},
    )
    assert moved.status_code == 200, moved.text
    try:
        info = site.device_info()
        assert info["wowzaUrl"] == site.other_origin.url
        assert info["wowza"] == urlsplit(site.other_origin.url).netloc
        url = site.playlist_url()
        assert url.startswith(site.other_origin.url)

        site.livecommand()
        answer = httpx.get(url, timeout=30)
        assert answer.status_code == 200, answer.text
        segment = httpx.get(url.rsplit("/", 1)[0] + "/" + uris(answer.text)[0])
        assert segment.status_code == 200 and segment.content[:1] == b"\x47"
        deadline = time.monotonic() + 5
        while site.status().get("wowza") != info["wowza"] or not site.status()["live"]:
            assert time.monotonic() < deadline, site.status()
            time.sleep(0.2)
    finally:
        httpx.post(
            f"{site.logger.url}/admin/devices/{site.uidd}/move",
            headers=auth_header(site.logger.admin_token),
            json={"wowza": ""},
        )
    # Moved back while streaming: its next livecommand moves the stream too.
    site.livecommand()
    back = f"{site.logger.url}/manything/{url.split('/manything/')[1]}"
    answer = httpx.get(back, timeout=30)
    assert answer.status_code == 200 and uris(answer.text)
    ended = httpx.get(url, timeout=30).text
    deadline = time.monotonic() + 5
    while "#EXT-X-ENDLIST" not in ended:  # the session at the other origin was ended
        assert time.monotonic() < deadline, ended
        time.sleep(0.2)
        ended = httpx.get(url, timeout=30).text


def test_no_part_logged_a_traceback(site: Site) -> None:
    logs = [site.logger.server.log(), site.other_origin.log(), site.adapter_log()]
    assert not any("Traceback" in text for text in logs)
