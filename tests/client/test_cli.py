"""`camloft-cli` as a script runs it: a child process, its output and exit codes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import Deployment

CLI = [sys.executable, "-m", "camloft.client.cli"]


class Cli:
    def __init__(self, url: str, home: Path) -> None:
        self.credentials = home / "config" / "camloft" / "credentials.json"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CAMLOFT_")}
        self.env |= {
            "CAMLOFT_URL": url,
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_CACHE_HOME": str(home / "cache"),
            "COLUMNS": "200",
        }
        self.home = home

    def __call__(self, *args: str, code: int = 0) -> str:
        done = subprocess.run(
            [*CLI, *args],
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
        assert done.returncode == code, f"{args}: {done.returncode}\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr


@pytest.fixture
def cli(demo: Deployment, tmp_path: Path) -> Cli:
    return Cli(demo.url, tmp_path)


def test_login_is_kept_for_the_user_only(cli: Cli) -> None:
    cli("devices", code=3)  # not logged in yet
    cli("login", "--email", "demo@example.com", "--password", "wrong", code=3)
    assert "logged in as demo@example.com" in cli(
        "login", "--email", "demo@example.com", "--password", "demo"
    )
    assert stat.S_IMODE(cli.credentials.stat().st_mode) == 0o600
    stored = json.loads(cli.credentials.read_text())
    assert stored["session"]["web_login"] and "demo" not in json.dumps(stored).replace(
        "demo@example.com", ""
    )  # the password is not kept
    devices = json.loads(cli("devices", "--json"))
    assert [d["uidd"] for d in devices] == ["1.1", "1.2", "1.3"]
    assert "Front Door" in cli("devices")
    assert "logged out" in cli("logout")
    assert not cli.credentials.exists()
    cli("devices", code=3)


def test_listings_and_exit_codes(cli: Cli, demo: Deployment) -> None:
    cli("login", "--email", "viewer@example.com", "--password", "viewer")
    statuses = json.loads(cli("status", "1.1", "1.2", "--json"))
    assert [s["uidd"] for s in statuses] == ["1.1", "1.2"]
    assert "STATUS" in cli("status")
    events = json.loads(cli("events", "1.1", "--limit", "3", "--json"))
    assert len(events) <= 3 and all(e["uid"] == "1.1" for e in events)
    assert "START (UTC)" in cli("events", "1.1", "--limit", "2")
    cli("events", "1.99", code=4)  # not visible
    cli("events", "x.y", code=2)  # malformed
    cli("ptz", "1.1", "left", code=4)  # read-only viewer
    cli("record", "1.1", "--seconds", "0", code=4)
    cli("ptz", "1.1", "sideways", code=2)
    lines = cli("watch", "--json", "--count", "3").splitlines()
    assert {json.loads(line)["data"]["uidd"] for line in lines[:3]} == {"1.1", "1.2", "1.3"}
    assert "liveSession status=" in cli("watch", "1.2", "--count", "1")


def test_live_record_snapshot_ptz_download(cli: Cli) -> None:
    cli("login", "--email", "demo@example.com", "--password", "demo")
    url = cli("live", "1.2", "--seconds", "1").splitlines()[0]
    assert "/manything/1.2_" in url and "/playlist.m3u8?userToken=" in url
    played = cli("live", "1.2", "--player", f"{sys.executable} -c 'import sys; print(sys.argv)'")
    assert "userToken=" in played
    assert "recording on 1.1" in cli("record", "1.1", "--seconds", "1")
    assert "1.1: left" in cli("ptz", "1.1", "left")
    assert "(moving until stop)" in cli("ptz", "1.1", "up", "--start")
    cli("ptz", "1.1", "stop")
    shot = cli.home / "still.jpg"
    cli("snapshot", "1.3", "-o", str(shot))
    assert shot.read_bytes()[:2] == b"\xff\xd8"
    events = [e for e in json.loads(cli("events", "1.2", "--json")) if not e.get("recording")]
    if events:
        out = cli("download", "1.2", str(events[0]["id"]), "-o", str(cli.home / "e.mp4"))
        assert "e.mp4" in out and (cli.home / "e.mp4").read_bytes()[4:8] == b"ftyp"
    cli("download", "1.2", "5", code=4)  # no such event
