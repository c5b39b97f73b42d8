"""The adapter end to end: a camera recorded to a real logger, with events as the reference says.

A synthetic camera (real H.264 + AAC, motion at known times) or GStreamer's
RTSP camera is read by `Adapter`, which uploads to `camloft serve` running in a
child process; the test reads what the logger stored.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from camloft.adapter.config import AdapterSettings, CameraSettings, SyntheticSettings
from camloft.adapter.motion import MotionSettings
from camloft.adapter.runner import Adapter
from camloft.adapter.synthetic_source import SyntheticServer
from camloft.ids import DeviceRef
from tests.support import Server, camloft_env, login, new_secret, run_cli


@dataclass
class Logger:
    server: Server
    device: DeviceRef
    key: str
    owner_token: str

    def segments(self) -> list[tuple[int, int]]:
        with sqlite3.connect(self.server.data_dir / "camloft.db") as db:
            return db.execute(
                "SELECT start_ms, duration_ms FROM segments WHERE owner_uid = ? AND device_id = ? "
                "ORDER BY start_ms", (self.device.uid, self.device.device_id)).fetchall()

    def events(self) -> list[dict[str, object]]:
        with sqlite3.connect(self.server.data_dir / "camloft.db") as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT * FROM events WHERE owner_uid = ? AND device_id = ? ORDER BY id",
                (self.device.uid, self.device.device_id)).fetchall()
            return [dict(row) for row in rows]

    def segment_files(self) -> list[Path]:
        folder = self.server.data_dir / "video" / str(self.device.uid) / str(self.device.device_id)
        return sorted(folder.rglob("*.ts"))


@pytest.fixture
def logger(tmp_path: Path) -> Iterator[Logger]:
    env = camloft_env(new_secret(), None)
    data = tmp_path / "logger"
    assert run_cli(["admin", "--data-dir", str(data), "user", "add", "o@example.com",
                    "--password", "pw"], env).returncode == 0
    added = run_cli(["admin", "--data-dir", str(data), "device", "add", "o@example.com",
                     "Yard"], env).stdout
    uidd, key = re.search(r"uidd: (\S+)", added), re.search(r"device key: (\S+)", added)
    assert uidd and key
    server = Server(data, env).start()
    try:
        yield Logger(server, DeviceRef.parse(uidd[1]), key[1],
                     login(server.url, "o@example.com", "pw"))
    finally:
        server.stop()


def run_adapter(logger: Logger, spool: Path, camera: CameraSettings, seconds: float) -> Adapter:
    adapter = Adapter(AdapterSettings(logger_url=logger.server.url, spool_dir=spool,
                                      cameras=[camera]))
    adapter.start()
    try:
        time.sleep(seconds)
    finally:
        adapter.stop()
    return adapter


def ffprobe_ok(path: Path) -> bool:
    ffprobe = shutil.which("ffprobe")
    assert ffprobe, "ffprobe is missing: `make test` installs Debian's ffmpeg"
    done = subprocess.run(
        [ffprobe, "-v", "error", "-show_entries", "stream=codec_name", "-of", "json", str(path)],
        capture_output=True, text=True, check=False)
    codecs = {s["codec_name"] for s in json.loads(done.stdout or "{}").get("streams", [])}
    return done.returncode == 0 and not done.stderr and "h264" in codecs


def assert_contiguous(segments: list[tuple[int, int]]) -> None:
    for (start, duration), (following, _) in itertools.pairwise(segments):
        assert following == start + duration, f"gap or overlap at {start}"


def test_motion_event_with_pre_roll_and_tail(logger: Logger, tmp_path: Path) -> None:
    """Motion from 8 s to 11 s: the event's video runs from ~3 s to ~31 s, play-out to ~16 s."""
    camera = CameraSettings(
        uidd=str(logger.device), key=logger.key, name="yard", source="synthetic",
        record="motion", tz=1.0,
        synthetic=SyntheticSettings(motion=[(8.0, 3.0)], random_motion=False),
        motion=MotionSettings(sensitivity=5),
    )
    started = time.time() * 1000
    adapter = run_adapter(logger, tmp_path / "spool", camera, 38)
    assert adapter.cameras[0].spool.pending() == []

    (event,) = logger.events()
    motion_start = started + 8000
    motion_end = started + 11_000
    # Connecting and probing take a moment: allow 1.5 s of slack on the capture clock.
    assert motion_start - 7000 - 1500 <= event["startt"] <= motion_start - 5000 + 1500
    assert motion_end + 20_000 - 500 <= event["endt"] <= motion_end + 22_000 + 1500
    assert motion_end + 5000 - 1000 <= event["end_ms"] <= motion_end + 5000 + 1500
    assert event["type"] == "motion" and event["rom"] and not event["recording"]
    assert event["id"] == event["startt"] // 1000 and event["tz"] == 1.0
    assert 1 <= event["smx"] <= 10

    segments = logger.segments()
    assert segments[0][0] == event["startt"]
    assert_contiguous(segments)
    assert segments[-1][0] + segments[-1][1] == event["endt"]
    for path in logger.segment_files():
        assert ffprobe_ok(path), path
    thumbs = list((logger.server.data_dir / "images").rglob("alert/*.jpg"))
    assert [p.stem for p in thumbs] == [str(event["id"])]


def test_rtsp_camera_triggered_event_to_the_second(
    logger: Logger, tmp_path: Path, rtsp_camera: object
) -> None:
    """A triggerevent through /sendcameratask at T: video from T-5 s to T+15+20 s."""
    camera = CameraSettings(
        uidd=str(logger.device), key=logger.key, name="rtsp", source=rtsp_camera.url,  # type: ignore[attr-defined]
        record="motion", motion=MotionSettings(enabled=False),
    )
    adapter = Adapter(AdapterSettings(logger_url=logger.server.url, spool_dir=tmp_path / "s",
                                      cameras=[camera]))
    adapter.start()
    try:
        assert adapter.cameras[0].link.connected.wait(15)
        time.sleep(8)  # fill the pre-roll
        trigger = time.time() * 1000
        answer = httpx.get(f"{logger.server.url}/sendcameratask", params={
            "uid": str(logger.device), "action": "triggerevent", "token": logger.owner_token})
        assert answer.status_code == 200, answer.text
        time.sleep(15 + 20 + 6)
    finally:
        adapter.stop()
    (event,) = logger.events()
    assert event["type"] == "trigger"
    assert trigger - 5000 - 2500 <= event["startt"] <= trigger - 5000 + 500
    assert trigger + 35_000 - 500 <= event["endt"] <= trigger + 35_000 + 3000
    assert trigger + 20_000 - 500 <= event["end_ms"] <= trigger + 20_000 + 1000
    segments = logger.segments()
    assert segments[0][0] == event["startt"]
    assert_contiguous(segments)
    for path in logger.segment_files():
        assert ffprobe_ok(path), path


def test_motion_from_a_substream(logger: Logger, tmp_path: Path) -> None:
    """With a sub-stream, motion is found there; the main stream is only copied."""
    scene = SyntheticSettings(motion=[(5.0, 3.0)], random_motion=False)
    sub = SyntheticServer("sub", scene.model_copy(update={"width": 320, "height": 180}).scene())
    sub.start()
    camera = CameraSettings(
        uidd=str(logger.device), key=logger.key, name="main", source="synthetic",
        substream=sub.url, synthetic=scene, record="continuous",
    )
    adapter = Adapter(AdapterSettings(logger_url=logger.server.url, spool_dir=tmp_path / "s",
                                      cameras=[camera]))
    adapter.start()
    try:
        time.sleep(12)
    finally:
        adapter.stop()
        sub.stop()
    main = adapter.cameras[0]
    assert main._analyzer is None  # the main stream was never decoded
    (event,) = logger.events()
    assert event["type"] == "motion" and event["rom"] == 0
    thumbs = list((logger.server.data_dir / "images").rglob("alert/*.jpg"))
    assert [p.stem for p in thumbs] == [str(event["id"])]  # pictures from the sub-stream
