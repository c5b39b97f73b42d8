"""Spool and uploader: nothing finished is lost while the logger is away."""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest

from camloft.adapter.home import Home
from camloft.adapter.spool import Spool
from camloft.adapter.uploader import Uploader
from camloft.ids import DeviceRef
from camloft.media.segment import Segment
from tests.mediafiles import make_ts
from tests.support import Server, camloft_env, new_secret, run_cli


def wait_for(condition: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def stored_starts(data_dir: Path, device: DeviceRef) -> list[int]:
    folder = data_dir / "video" / str(device.uid) / str(device.device_id)
    return sorted(int(p.stem) for p in folder.rglob("*.ts")) if folder.exists() else []


@pytest.fixture
def logger_with_camera(tmp_path: Path) -> tuple[Server, DeviceRef, str]:
    env = camloft_env(new_secret(), None)
    data = tmp_path / "logger"
    for args in (["user", "add", "o@example.com", "--password", "pw"],):
        assert run_cli(["admin", "--data-dir", str(data), *args], env).returncode == 0
    added = run_cli(["admin", "--data-dir", str(data), "device", "add", "o@example.com", "Cam"],
                    env).stdout
    uidd = re.search(r"uidd: (\S+)", added)
    key = re.search(r"device key: (\S+)", added)
    assert uidd and key
    return Server(data, env), DeviceRef.parse(uidd[1]), key[1]


def test_backlog_waits_for_the_logger_then_uploads_in_order(
    logger_with_camera: tuple[Server, DeviceRef, str], tmp_path: Path
) -> None:
    server, device, key = logger_with_camera
    spool = Spool(tmp_path / "spool" / str(device))
    data = make_ts(2.0)
    starts = [1_800_000_000_000 + n * 2000 for n in range(5)]
    for n, start in enumerate(starts):
        spool.add(Segment(start, 2000, data, n, has_audio=False))
    megabytes, seconds = spool.backlog()
    assert seconds == 10.0 and megabytes == pytest.approx(5 * len(data) / 1e6)

    stop = threading.Event()
    uploader = Uploader(device, key, Home(device, key, logger_url=server.url, auth_url=None), spool)
    uploader.start(stop)
    try:
        time.sleep(1.5)  # the logger is not running: everything stays queued
        assert len(spool.pending()) == 5
        server.start()
        assert wait_for(lambda: not spool.pending(), 30), spool.pending()
        assert stored_starts(server.data_dir, device) == starts
        # More arrives while running: uploaded promptly.
        spool.add(Segment(starts[-1] + 2000, 2000, data, 5, has_audio=False))
        assert wait_for(lambda: len(stored_starts(server.data_dir, device)) == 6, 10)
    finally:
        stop.set()
        uploader.join(5)
        server.stop()


def test_a_wrong_key_keeps_the_video(
    logger_with_camera: tuple[Server, DeviceRef, str], tmp_path: Path
) -> None:
    server, device, _ = logger_with_camera
    spool = Spool(tmp_path / "spool")
    spool.add(Segment(1_800_000_000_000, 2000, make_ts(1.0), 0, has_audio=False))
    server.start()
    stop = threading.Event()
    home = Home(device, "wrong-key", logger_url=server.url, auth_url=None)
    uploader = Uploader(device, "wrong-key", home, spool)
    uploader.start(stop)
    try:
        time.sleep(2)
        assert len(spool.pending()) == 1
    finally:
        stop.set()
        uploader.join(5)
        server.stop()


def test_refused_segment_is_set_aside_not_deleted(
    logger_with_camera: tuple[Server, DeviceRef, str], tmp_path: Path
) -> None:
    server, device, key = logger_with_camera
    spool = Spool(tmp_path / "spool")
    spool.add(Segment(1_800_000_000_000, 2000, b"garbage", 0, has_audio=False))
    good = make_ts(1.0)
    spool.add(Segment(1_800_000_002_000, 2000, good, 1, has_audio=False))
    server.start()
    stop = threading.Event()
    uploader = Uploader(device, key, Home(device, key, logger_url=server.url, auth_url=None), spool)
    uploader.start(stop)
    try:
        assert wait_for(lambda: not spool.pending(), 15)
        assert stored_starts(server.data_dir, device) == [1_800_000_002_000]
        assert [p.name for p in (spool.folder / "rejected").iterdir()] == [
            "001800000000000_2000.ts"]
    finally:
        stop.set()
        uploader.join(5)
        server.stop()
