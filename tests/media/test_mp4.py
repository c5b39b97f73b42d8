"""The MP4 export: stream copy of recorded segments into one fragmented MP4, made as it is read.

Segments are made the way the adapter makes them (media encoded in the test,
cut by the real `Segmenter`) and written to files as the blob store keeps them.
Each regression test's docstring names the rule it protects.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import threading
import time
from collections.abc import Iterator
from fractions import Fraction
from itertools import pairwise
from pathlib import Path

import anyio
import av
import pytest

from camloft.media.mp4 import THREAD_NAME, ExportPart, remux_fmp4, stream_fmp4
from camloft.media.segment import Segment
from camloft.media.segmenter import Segmenter
from tests.media.conftest import FPS, encode_camera
from tests.mediafiles import decodes_cleanly

T0_S = 1_700_000_000.0


def cut(data: bytes, start_s: float = T0_S) -> list[Segment]:
    """Segments of `data` as the adapter's segmenter cuts them, its clock reading `start_s`."""
    segments: list[Segment] = []
    with av.open(io.BytesIO(data), "r") as container:
        Segmenter(container, segments.append, clock=lambda: start_s).run()
    return segments


def on_disk(segments: list[Segment], folder: Path) -> list[ExportPart]:
    folder.mkdir(parents=True, exist_ok=True)
    parts = []
    for segment in segments:
        path = folder / f"{segment.start_ms}.ts"
        path.write_bytes(segment.data)
        parts.append(ExportPart(path, segment.duration_ms))
    return parts


@pytest.fixture(scope="module")
def recording() -> list[Segment]:
    """8 s of camera video and audio: four 2 s segments that meet exactly."""
    segments = cut(encode_camera(8.0))
    assert [s.duration_ms for s in segments] == [2000] * 4
    return segments


@pytest.fixture(scope="module")
def restarted() -> list[Segment]:
    """A camera restart 30 s later: 4 s more whose MPEG-TS clock starts again from zero."""
    return cut(encode_camera(4.0), T0_S + 30)


class Collect:
    """A sink with no seek: what the muxer writes, write by write."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.writes.append(bytes(data))
        return len(data)

    @property
    def data(self) -> bytes:
        return b"".join(self.writes)


def export(parts: list[ExportPart]) -> bytes:
    sink = Collect()
    remux_fmp4(parts, sink)
    return sink.data


def nal_units_annex_b(data: bytes) -> list[bytes]:
    return [unit.rstrip(b"\x00") for unit in re.split(b"\x00\x00\x01", data) if unit.strip(b"\x00")]


def nal_units_length_prefixed(data: bytes) -> list[bytes]:
    units, at = [], 0
    while at < len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        units.append(data[at + 4 : at + 4 + size])
        at += 4 + size
    return units


def without_adts(frame: bytes) -> bytes:
    assert frame[0] == 0xFF and frame[1] & 0xF0 == 0xF0, "not an ADTS frame"
    return frame[7 if frame[1] & 1 else 9 :]


def payloads(data: bytes) -> tuple[list[list[bytes]], list[bytes]]:
    """(NAL units of each video packet, raw AAC of each audio packet), in demux order."""
    video, audio = [], []
    mp4 = data[4:8] == b"ftyp"
    with av.open(io.BytesIO(data), "r") as container:
        for packet in container.demux():
            if packet.pts is None or packet.size == 0:
                continue
            raw = bytes(packet)
            if packet.stream.type == "video":
                video.append(nal_units_length_prefixed(raw) if mp4 else nal_units_annex_b(raw))
            elif packet.stream.type == "audio":
                audio.append(raw if mp4 else without_adts(raw))
    return video, audio


def timings(data: bytes) -> dict[str, list[tuple[Fraction, Fraction, Fraction]]]:
    """(pts, dts, duration) in seconds of every packet, by stream type, in decode order."""
    found: dict[str, list[tuple[Fraction, Fraction, Fraction]]] = {"video": [], "audio": []}
    with av.open(io.BytesIO(data), "r") as container:
        for packet in container.demux():
            if packet.pts is None or packet.dts is None or packet.time_base is None:
                continue
            base = packet.time_base
            found[packet.stream.type].append(
                (packet.pts * base, packet.dts * base, packet.duration * base)
            )
    return found


def ffprobe(path: Path) -> dict[str, object]:
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name:format=duration,format_name",
            "-of",
            "json",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert done.stderr == "", done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_export_is_a_fragmented_mp4_of_h264_and_aac(
    recording: list[Segment], tmp_path: Path
) -> None:
    """The export is an MP4 that ffprobe reads as H.264 + AAC, as long as the segments, which
    ffmpeg decodes without one error (the AAC config is in the header)."""
    data = export(on_disk(recording, tmp_path / "in"))
    assert data[4:8] == b"ftyp" and b"moof" in data and b"mfra" in data
    (tmp_path / "out.mp4").write_bytes(data)
    probe = ffprobe(tmp_path / "out.mp4")
    assert [s["codec_name"] for s in probe["streams"]] == ["h264", "aac"]  # type: ignore[index]
    assert float(probe["format"]["duration"]) == pytest.approx(8.0, abs=0.1)  # type: ignore[index]
    decodes_cleanly(tmp_path / "out.mp4")


def test_packets_are_copied_not_transcoded(recording: list[Segment], tmp_path: Path) -> None:
    """No decoder or encoder runs: every video packet keeps its NAL units byte for byte (only the
    Annex B start codes become MP4 length prefixes), every audio packet its AAC payload (only the
    ADTS header goes), and none is added or lost."""
    data = export(on_disk(recording, tmp_path))
    video_in: list[list[bytes]] = []
    audio_in: list[bytes] = []
    for segment in recording:
        video, audio = payloads(segment.data)
        video_in += video
        audio_in += audio
    video_out, audio_out = payloads(data)
    assert len(video_in) == 8 * FPS and len(audio_in) > 300
    assert video_out == video_in
    assert audio_out == audio_in


def test_timestamps_run_straight_through_a_camera_restart(
    recording: list[Segment], restarted: list[Segment], tmp_path: Path
) -> None:
    """Segments play back to back: across a gap of 26 s and a restarted MPEG-TS clock the video
    keeps one frame every 1/15 s, no stream's timestamps go back, audio resumes as late after
    the cut as it started after the video in the restarted source (no later), and the export
    lasts the segments' total, not the wall-clock span."""
    parts = on_disk([*recording, *restarted], tmp_path)
    data = export(parts)
    found = timings(data)
    video_pts = sorted(pts for pts, _, _ in found["video"])
    assert len(video_pts) == 12 * FPS
    assert video_pts[0] == 0
    assert {b - a for a, b in pairwise(video_pts)} == {Fraction(1, FPS)}
    for kind in ("video", "audio"):
        dts = [d for _, d, _ in found[kind]]
        assert all(b > a for a, b in pairwise(dts)), kind
    source = timings(restarted[0].data)
    audio_lead = source["audio"][0][0] - source["video"][0][0]  # the encoder's delay
    audio_dts = [d for _, d, _ in found["audio"]]
    steps = [b - a for a, b in pairwise(audio_dts)]
    assert max(steps) <= audio_lead + Fraction(1024, 48_000) + Fraction(1, 1000)
    audio_end = max(pts + duration for pts, _, duration in found["audio"])
    assert float(audio_end) == pytest.approx(12.0, abs=0.1)
    (tmp_path / "out.mp4").write_bytes(data)
    decodes_cleanly(tmp_path / "out.mp4")


def test_an_index_shorter_than_the_video_cannot_make_time_go_back(
    recording: list[Segment], tmp_path: Path
) -> None:
    """When the index says a segment is shorter than its video (1 s for 2 s), the next segment is
    not laid over it: its video is pushed after the last frame, no dts goes back in any stream,
    and every video frame is kept."""
    parts = [ExportPart(p.path, 1000) for p in on_disk(recording, tmp_path)]
    data = export(parts)
    found = timings(data)
    for kind in ("video", "audio"):
        dts = [d for _, d, _ in found[kind]]
        assert all(b > a for a, b in pairwise(dts)), kind
    assert len(found["video"]) == 8 * FPS
    (tmp_path / "out.mp4").write_bytes(data)
    decodes_cleanly(tmp_path / "out.mp4")


def test_b_frames_keep_their_order(tmp_path: Path) -> None:
    """With B-frames (dts before pts) no timestamp goes negative and the packets are the same."""
    segments = cut(encode_camera(6.0, bframes=2))
    data = export(on_disk(segments, tmp_path))
    found = timings(data)
    assert min(d for _, d, _ in found["video"]) >= 0
    assert any(p != d for p, d, _ in found["video"])
    assert payloads(data)[0] == [v for s in segments for v in payloads(s.data)[0]]
    (tmp_path / "out.mp4").write_bytes(data)
    decodes_cleanly(tmp_path / "out.mp4")


def test_video_only_segments_export_video_only(tmp_path: Path) -> None:
    """A camera without a microphone gives an MP4 with one H.264 stream."""
    data = export(on_disk(cut(encode_camera(4.0, audio=False)), tmp_path))
    (tmp_path / "out.mp4").write_bytes(data)
    assert [s["codec_name"] for s in ffprobe(tmp_path / "out.mp4")["streams"]] == [  # type: ignore[index]
        "h264"
    ]


def test_an_unreadable_segment_is_skipped(recording: list[Segment], tmp_path: Path) -> None:
    """A segment gone from disk or not MPEG-TS is left out with a warning; the rest exports."""
    parts = on_disk(recording, tmp_path)
    parts[1].path.unlink()
    parts[2].path.write_bytes(b"\x47" + b"\x00" * 187)
    data = export(parts)
    assert len(payloads(data)[0]) == 4 * FPS
    assert export([parts[1]]) == b""


@pytest.mark.anyio
async def test_the_first_bytes_arrive_before_the_input_is_read(
    recording: list[Segment], tmp_path: Path
) -> None:
    """Streaming: the header and the first fragments reach the reader while the last segment
    has not even been handed to the remux, so the file is never built whole first."""
    parts = on_disk(recording, tmp_path)
    gate = threading.Event()

    def slow_parts() -> Iterator[ExportPart]:
        yield from parts[:-1]
        assert gate.wait(30), "the test never opened the gate"
        yield parts[-1]

    chunks = []
    generator = stream_fmp4(slow_parts())
    with anyio.fail_after(20):
        async for chunk in generator:
            chunks.append(chunk)
            if b"".join(chunks).count(b"moof") >= 2:
                break
    assert not gate.is_set()
    assert chunks[0][4:8] == b"ftyp"
    gate.set()
    with anyio.fail_after(20):
        chunks += [chunk async for chunk in generator]
    path = tmp_path / "out.mp4"
    path.write_bytes(b"".join(chunks))
    assert len(payloads(path.read_bytes())[0]) == 8 * FPS
    decodes_cleanly(path)


@pytest.mark.anyio
async def test_a_stalled_reader_pauses_the_remux_and_closing_stops_it(
    recording: list[Segment], tmp_path: Path
) -> None:
    """Memory stays bounded: while nobody reads, the remux thread reads no further than a few
    segments past the queue's few chunks; closing the stream (a client that went away) ends
    the thread."""
    parts = on_disk(recording, tmp_path) * 25  # 100 segments, 200 s
    handed: list[int] = []

    def counted() -> Iterator[ExportPart]:
        for n, part in enumerate(parts):
            handed.append(n)
            yield part

    generator = stream_fmp4(counted(), max_chunks=2)
    with anyio.fail_after(20):
        first = await generator.__anext__()
    assert first[4:8] == b"ftyp"
    await anyio.sleep(1.0)
    paused_at = len(handed)
    await anyio.sleep(0.5)
    assert len(handed) == paused_at < 12, f"the remux read {len(handed)} of 100 segments"
    started = time.monotonic()
    await generator.aclose()
    assert time.monotonic() - started < 2
    assert THREAD_NAME not in [t.name for t in threading.enumerate()]
    assert len(handed) == paused_at


@pytest.mark.anyio
async def test_an_export_read_to_the_end_leaves_no_thread(
    recording: list[Segment], tmp_path: Path
) -> None:
    """A finished export ends its thread; nothing lingers per download."""
    data = b"".join([chunk async for chunk in stream_fmp4(on_disk(recording, tmp_path))])
    assert data[4:8] == b"ftyp"
    await anyio.sleep(0.2)
    assert THREAD_NAME not in [t.name for t in threading.enumerate()]
