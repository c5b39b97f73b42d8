"""The README's "viewing live video" walk-through, run with curl against the demo.

The shell blocks of README.md's "Try it with curl" (log in, then live) run as
they are written, against a `camloft serve --demo` with its in-process
cameras (on a free port instead of 8080; `ffplay`, which opens a window, is
replaced by a no-op). ffprobe must read the live playlist, the status must
say live; then nobody sends `livecommand` again and the stream must stop by
itself a minute after it, as the reference says (real time: 60 s).
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import Server, auth_header, camloft_env, login, new_secret

pytestmark = pytest.mark.e2e
README = Path(__file__).resolve().parents[2] / "README.md"


def shell_blocks() -> list[str]:
    """The README's sh blocks that the walk-through needs: the login, and live video."""
    blocks = re.findall(r"```sh\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    login_block = next(b for b in blocks if "# 1. log in" in b)
    live_block = next(b for b in blocks if "action=livecommand" in b)
    return [login_block, live_block]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """What `make run` starts: a fresh demo, whose owner is uid 1 as the README says."""
    env = camloft_env(new_secret(), None, demo_cameras="true")
    server = Server(tmp_path_factory.mktemp("demo-live"), env, ["--demo"]).start()
    yield server
    server.stop()


@pytest.mark.timeout(240)
def test_the_live_walkthrough_with_curl(demo: Server, tmp_path: Path) -> None:
    script = "set -euo pipefail\nffplay() { :; }\n" + "\n".join(shell_blocks())
    script = script.replace("http://127.0.0.1:8080", demo.url)
    token = login(demo.url, "demo@example.com", "demo")
    deadline = time.monotonic() + 60
    while not httpx.get(
        f"{demo.url}/cameras/status", params={"uid": "1.1"}, headers=auth_header(token)
    ).json()["result"]:  # the demo camera links once the server has started it
        assert time.monotonic() < deadline
        time.sleep(0.5)

    done = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    asked = time.monotonic()  # just after its livecommand (the ffprobe takes ~5 s)
    assert done.returncode == 0, done.stderr
    assert '{"result":"request sent to camera"}' in done.stdout
    counts = dict(re.findall(r"codec_name=(\w+)\nnb_read_frames=(\d+)", done.stdout))
    assert int(counts["h264"]) >= 4 * 15 and int(counts["aac"]) > 0, done.stdout
    status = json.loads(done.stdout.strip().splitlines()[-1])
    camera = status["result"]["1"]["devices"]["1"]
    assert camera["live"] is True and camera["status"] == "live"
    assert camera["wowza"] == demo.url.removeprefix("http://")

    def live() -> bool:
        answer = httpx.get(
            f"{demo.url}/cameras/status", params={"uid": "1.1"}, headers=auth_header(token)
        )
        return bool(answer.json()["result"]["1"]["devices"]["1"]["live"])

    time.sleep(max(0.0, asked + 45 - time.monotonic()))
    assert live(), "still streaming 45 s after the livecommand"
    while live():
        assert time.monotonic() - asked < 75, "streaming did not stop a minute after"
        time.sleep(1)
    stopped_after = time.monotonic() - asked
    assert stopped_after >= 50, stopped_after  # 60 s after the livecommand, less the ffprobe
