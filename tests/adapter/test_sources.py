"""Camera inputs against a real RTSP server (GStreamer, tests/rtsp_server.py) and real files.

No mocks: the camera drops, hangs and comes back for real, on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import pytest
from av.container import InputContainer

from camloft.adapter.sources import (
    NOVIDEO,
    ONLINE,
    Backoff,
    CameraReader,
    SourceError,
    Status,
    open_input,
    redact_url,
)
from tests.adapter.conftest import RtspCamera
from tests.media.conftest import encode_camera
from tests.support import free_port

QUICK = Backoff(first_s=0.5, max_s=2.0)


class StatusLog:
    """The statuses a reader reported, in order, with a way to wait for the next one."""

    def __init__(self) -> None:
        self.seen: list[Status] = []
        self._changed = threading.Condition()

    def __call__(self, status: Status) -> None:
        with self._changed:
            self.seen.append(status)
            self._changed.notify_all()

    def wait_for(self, status: Status, timeout_s: float, *, after: int = 0) -> float:
        """Seconds until `status` is among the statuses from index `after` on; fails on timeout."""
        start = time.monotonic()
        with self._changed:
            found = self._changed.wait_for(lambda: status in self.seen[after:], timeout_s)
        assert found, f"no {status!r} within {timeout_s} s; seen {self.seen}"
        return time.monotonic() - start


@dataclass
class PacketCounter:
    """A `consume` that demuxes until the input ends or `stop` is set, counting what it read."""

    opens: int = 0
    packets: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, container: InputContainer, stop: threading.Event) -> None:
        with self._lock:
            self.opens += 1
        for packet in container.demux():
            if stop.is_set():
                return
            if packet.size == 0:  # the demuxer's flush packets at EOF
                continue
            with self._lock:
                self.packets[packet.stream.type] = self.packets.get(packet.stream.type, 0) + 1

    def total(self) -> int:
        with self._lock:
            return sum(self.packets.values())

    def wait_for_more(self, than: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self.total() <= than:
            assert time.monotonic() < deadline, f"no packets beyond {than} in {timeout_s} s"
            time.sleep(0.05)


@pytest.fixture
def readers() -> Iterator[list[CameraReader]]:
    """Readers a test started: stopped and joined whatever the test's outcome."""
    started: list[CameraReader] = []
    yield started
    for reader in started:
        reader.stop()
    for reader in started:
        reader.join(15)


def start_reader(readers: list[CameraReader], reader: CameraReader) -> CameraReader:
    readers.append(reader)
    reader.start()
    return reader


def closed_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (connecting is refused at once)."""
    return free_port()


def our_udp_sockets() -> int:
    """How many UDP sockets this process holds (RTP over UDP would open some)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(match.group(1))
    count = 0
    for table in ("/proc/self/net/udp", "/proc/self/net/udp6"):
        with open(table) as lines:
            next(lines)
            count += sum(1 for line in lines if line.split()[9] in inodes)
    return count


def test_open_input_reads_h264_and_aac_from_the_camera_over_tcp(rtsp_camera: RtspCamera) -> None:
    """RTSP is read interleaved over TCP: video and audio arrive, and no UDP port is opened."""
    kinds: dict[str, int] = {}
    with open_input(rtsp_camera.url, timeout_s=5.0) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert (container.streams.video[0].width, container.streams.video[0].height) == (640, 360)
        keyframes = 0
        for packet in container.demux():
            if packet.size == 0:
                continue
            kinds[packet.stream.type] = kinds.get(packet.stream.type, 0) + 1
            if packet.stream.type == "video" and packet.is_keyframe:
                keyframes += 1
            if kinds.get("video", 0) >= 45 and kinds.get("audio", 0) >= 20:
                break
        assert our_udp_sockets() == 0
    assert kinds["video"] >= 45 and kinds["audio"] >= 20
    assert keyframes >= 2  # a key frame every 15 frames, as asked of x264enc


def test_a_closed_port_raises_our_error_at_once() -> None:
    """An unreachable camera is a SourceError (PyAV's error chained), never a hang."""
    url = f"rtsp://127.0.0.1:{closed_port()}/cam"
    start = time.monotonic()
    with pytest.raises(SourceError, match="cannot open") as raised:
        open_input(url, timeout_s=3.0)
    assert time.monotonic() - start < 3.0 + 2.0
    assert isinstance(raised.value.__cause__, av.error.FFmpegError)


def test_a_camera_that_accepts_but_never_answers_times_out() -> None:
    """The RTSP `timeout` option bounds the open: a silent peer fails after timeout_s."""
    with socket.create_server(("127.0.0.1", 0)) as silent:
        url = f"rtsp://127.0.0.1:{silent.getsockname()[1]}/cam"
        start = time.monotonic()
        with pytest.raises(SourceError):
            open_input(url, timeout_s=1.5)
        elapsed = time.monotonic() - start
    assert 1.0 < elapsed < 1.5 + 2.0


def test_a_password_in_the_url_stays_out_of_the_error() -> None:
    """PyAV quotes the URL it failed on; our error redacts it and drops that cause."""
    url = f"rtsp://admin:hunter2@127.0.0.1:{closed_port()}/cam"
    with pytest.raises(SourceError) as raised:
        open_input(url, timeout_s=2.0)
    assert "hunter2" not in str(raised.value)
    assert "admin:***@127.0.0.1" in str(raised.value)
    assert raised.value.__cause__ is None
    assert redact_url("rtsp://127.0.0.1/cam") == "rtsp://127.0.0.1/cam"
    assert redact_url("rtsp://[::1]:554/cam") == "rtsp://[::1]:554/cam"
    assert redact_url("rtsp://u:p:q@[::1]:554/c?x=1") == "rtsp://u:***@[::1]:554/c?x=1"


def test_a_missing_file_raises_our_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as raised:
        open_input(str(tmp_path / "nothing.ts"))
    assert isinstance(raised.value.__cause__, FileNotFoundError)


def test_reader_goes_novideo_when_the_camera_drops_and_online_when_it_is_back(
    rtsp_camera: RtspCamera, readers: list[CameraReader]
) -> None:
    """A camera that restarts: "novideo" within seconds, then reconnection and packets again."""
    statuses = StatusLog()
    counter = PacketCounter()
    reader = start_reader(
        readers,
        CameraReader(
            "front", rtsp_camera.url, counter, on_status=statuses, timeout_s=5.0, backoff=QUICK
        ),
    )
    assert reader.name == "front"
    assert any(t.name == "camera-front" for t in threading.enumerate())
    statuses.wait_for(ONLINE, 10)
    counter.wait_for_more(30, 10)

    rtsp_camera.stop()
    assert statuses.wait_for(NOVIDEO, 5, after=1) < 5
    assert reader.status == NOVIDEO
    time.sleep(1.0)  # down for a while: the reader keeps trying, refused each time
    rtsp_camera.start()
    statuses.wait_for(ONLINE, 15, after=2)
    before = counter.total()
    counter.wait_for_more(before + 30, 10)
    assert statuses.seen[:3] == [ONLINE, NOVIDEO, ONLINE]
    assert counter.opens == 2
    assert counter.packets["audio"] > 0
    assert reader.failure is None


def test_reader_detects_a_camera_that_hangs_with_the_connection_open(
    rtsp_camera: RtspCamera, readers: list[CameraReader]
) -> None:
    """No EOF ever comes from a frozen camera: the read timeout turns it into "novideo"."""
    statuses = StatusLog()
    counter = PacketCounter()
    start_reader(
        readers,
        CameraReader(
            "hung", rtsp_camera.url, counter, on_status=statuses, timeout_s=2.0, backoff=QUICK
        ),
    )
    statuses.wait_for(ONLINE, 10)
    counter.wait_for_more(15, 10)
    rtsp_camera.freeze()
    assert statuses.wait_for(NOVIDEO, 2.0 * 2 + 3, after=1) > 1.0
    rtsp_camera.stop()
    rtsp_camera.start()
    statuses.wait_for(ONLINE, 15, after=2)


def test_reader_thread_ends_within_2_s_of_stop(
    rtsp_camera: RtspCamera, readers: list[CameraReader]
) -> None:
    statuses = StatusLog()
    counter = PacketCounter()
    reader = start_reader(
        readers, CameraReader("porch", rtsp_camera.url, counter, on_status=statuses)
    )
    statuses.wait_for(ONLINE, 10)
    counter.wait_for_more(15, 10)
    start = time.monotonic()
    reader.stop()
    reader.join(2.0)
    assert not reader.is_alive()
    assert time.monotonic() - start < 2.0
    assert statuses.seen == [ONLINE]  # stopping is not a camera failure


def test_reader_stops_during_its_backoff_wait(readers: list[CameraReader]) -> None:
    """An unreachable camera is retried with growing waits, and `stop()` cuts a wait short."""
    statuses = StatusLog()
    reader = start_reader(
        readers,
        CameraReader(
            "gone",
            f"rtsp://127.0.0.1:{closed_port()}/cam",
            PacketCounter(),
            on_status=statuses,
            backoff=Backoff(first_s=30.0, max_s=30.0),
        ),
    )
    statuses.wait_for(NOVIDEO, 5)
    start = time.monotonic()
    reader.stop()
    reader.join(2.0)
    assert not reader.is_alive()
    assert time.monotonic() - start < 2.0
    assert statuses.seen == [NOVIDEO]


@pytest.fixture(scope="module")
def short_ts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """1 s of H.264 + AAC in MPEG-TS, made in the test."""
    path = tmp_path_factory.mktemp("sources") / "short.ts"
    path.write_bytes(encode_camera(1.0))
    return path


def test_a_looping_file_is_reopened_at_eof_and_stays_online(
    short_ts: Path, readers: list[CameraReader]
) -> None:
    statuses = StatusLog()
    counter = PacketCounter()
    reader = start_reader(
        readers,
        CameraReader(
            "demo", short_ts.as_uri(), counter, on_status=statuses, loop=True, backoff=QUICK
        ),
    )
    deadline = time.monotonic() + 10
    while counter.opens < 4:
        assert time.monotonic() < deadline, f"only {counter.opens} opens"
        time.sleep(0.02)
    reader.stop()
    reader.join(2.0)
    assert not reader.is_alive()
    assert statuses.seen == [ONLINE]
    assert counter.packets["video"] >= 3 * 15 and counter.packets["audio"] > 0


def test_a_file_without_loop_is_read_once_then_novideo(
    short_ts: Path, readers: list[CameraReader]
) -> None:
    statuses = StatusLog()
    counter = PacketCounter()
    reader = start_reader(
        readers, CameraReader("clip", str(short_ts), counter, on_status=statuses)
    )
    reader.join(10)
    assert not reader.is_alive()
    assert statuses.seen == [ONLINE, NOVIDEO]
    assert counter.opens == 1
    assert counter.packets["video"] == 15


def test_a_bug_in_consume_ends_the_thread_and_is_kept(
    short_ts: Path, readers: list[CameraReader], caplog: pytest.LogCaptureFixture
) -> None:
    """Only camera and network errors are retried; anything else surfaces, with its traceback."""

    def broken(container: InputContainer, stop: threading.Event) -> None:
        raise KeyError("a bug")

    statuses = StatusLog()
    reader = start_reader(
        readers, CameraReader("buggy", str(short_ts), broken, on_status=statuses, loop=True)
    )
    reader.join(10)
    assert not reader.is_alive()
    assert isinstance(reader.failure, KeyError)
    assert statuses.seen == [ONLINE, NOVIDEO]
    assert any(r.exc_info for r in caplog.records if "unexpected" in r.getMessage())


def test_backoff_doubles_up_to_its_cap_and_restarts_after_a_healthy_spell() -> None:
    backoff = Backoff(first_s=1.0, max_s=30.0, healthy_s=60.0)
    assert [backoff.failed() for _ in range(7)] == [1, 2, 4, 8, 16, 30, 30]
    assert backoff.failed(up_for_s=59.0) == 30
    assert backoff.failed(up_for_s=60.0) == 1
    assert backoff.failed() == 2
    backoff.reset()
    assert backoff.failed() == 1
    assert [Backoff().failed() for _ in range(1)] == [1.0]
    with pytest.raises(ValueError):
        Backoff(first_s=0)
