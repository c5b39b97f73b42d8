"""The live cutter: short MPEG-TS segments while someone watches, from the GOP buffer on.

A camera-like stream (`conftest.encode_camera`: a key frame every second) goes
through the recording segmenter, whose `on_packet` hook feeds the cutter, as
in the adapter. Checked as a viewer would: the segments play in order, the
first one comes at once when live is asked for mid-GOP, every later one
starts with a key frame, and the packets are the camera's, unchanged.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable

import av
import pytest
from av.packet import Packet as AvPacket
from av.stream import Stream

from camloft.media.live import LiveCutter, LiveSegment
from camloft.media.segmenter import Segmenter
from tests.media.conftest import FPS, demux_packets

EPOCH_S = 1_700_000_000.0
FRAME_MS = 1000 / FPS


def run_live(
    data: bytes,
    *,
    start_at_s: float | None,
    stop_at_s: float | None = None,
    from_buffer: bool = True,
) -> tuple[list[LiveSegment], list[tuple[float, int]]]:
    """Segment `data`, asking for live at `start_at_s` into the stream (and ending at `stop_at_s`).

    Answers the live segments and, for each, (seconds into the stream when it
    was handed over, how many packets had been fed by then).
    """
    segments: list[LiveSegment] = []
    handed: list[tuple[float, int]] = []
    fed = 0
    now_s = 0.0
    start_ms = EPOCH_S * 1000

    def on_segment(segment: LiveSegment) -> None:
        segments.append(segment)
        handed.append((now_s, fed))

    with av.open(io.BytesIO(data)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        cutter = LiveCutter(
            video, audio, on_segment, from_buffer=from_buffer, clock=lambda: EPOCH_S + now_s
        )

        def on_packet(packet: AvPacket[Stream], at_ms: int) -> None:
            nonlocal fed, now_s
            now_s = max(now_s, (at_ms - start_ms) / 1000)  # audio lags video a little
            before_stop = stop_at_s is None or now_s < stop_at_s
            if start_at_s is not None and start_at_s <= now_s and before_stop:
                cutter.start()
            if stop_at_s is not None and now_s >= stop_at_s:
                cutter.stop()
            cutter.feed(packet, at_ms)
            fed += 1

        Segmenter(container, lambda _: None, clock=lambda: EPOCH_S, on_packet=on_packet).run()
        cutter.close()
    return segments, handed


def decoded_frames(data: bytes) -> int:
    with av.open(io.BytesIO(data)) as container:
        return sum(1 for _ in container.decode(video=0))


def test_nothing_is_cut_while_nobody_watches(camera_ts: bytes) -> None:
    segments, _ = run_live(camera_ts, start_at_s=None)
    assert segments == []


def test_live_starts_at_once_from_the_gop_buffer(camera_ts: bytes) -> None:
    """The first segment is handed over at the packet after the request, not at the next
    key frame: it holds the group of pictures so far, starting with its key frame."""
    segments, handed = run_live(camera_ts, start_at_s=2.5)
    first = segments[0]
    asked_at_s = handed[0][0]
    assert 2.5 <= asked_at_s < 2.5 + 2 * FRAME_MS / 1000
    assert first.independent and first.sequence == 0
    assert first.start_ms == EPOCH_S * 1000 + 2000  # the key frame at 2 s
    assert first.duration_ms == pytest.approx(500, abs=2 * FRAME_MS)
    assert decoded_frames(first.data) == pytest.approx(7, abs=1)  # plays on its own


def test_later_segments_are_cut_at_every_key_frame(camera_ts: bytes) -> None:
    segments, _ = run_live(camera_ts, start_at_s=2.5)
    # 2.0-2.5 (the buffer), 2.5-3.0 (the rest of that group), then one per second.
    assert [s.sequence for s in segments] == list(range(len(segments)))
    assert segments[1].independent is False
    assert segments[1].start_ms == segments[0].start_ms + segments[0].duration_ms
    for before, after in itertools.pairwise(segments[1:]):
        assert after.start_ms == before.start_ms + before.duration_ms
    for segment in segments[2:-1]:
        assert segment.independent
        assert segment.duration_ms == pytest.approx(1000, abs=1)
        assert segment.start_ms % 1000 == 0
        assert decoded_frames(segment.data) == FPS


def test_the_segments_hold_the_camera_packets_unchanged(camera_ts: bytes) -> None:
    segments, _ = run_live(camera_ts, start_at_s=2.5)
    joined = b"".join(s.data for s in segments)
    live_video = [p.data for p in demux_packets(joined) if p.kind == "video"]
    camera_video = [p.data for p in demux_packets(camera_ts) if p.kind == "video"]
    assert live_video == camera_video[2 * FPS :]
    live_audio = [p for p in demux_packets(joined) if p.kind == "audio"]
    assert len(live_audio) > 6 * 40  # AAC at 48 kHz: ~47 packets a second, 6.5 s of them
    assert decoded_frames(joined) == len(camera_video) - 2 * FPS


def test_stop_hands_over_the_last_segment(camera_ts: bytes) -> None:
    segments, handed = run_live(camera_ts, start_at_s=2.5, stop_at_s=5.2)
    assert segments[-1].last and all(not s.last for s in segments[:-1])
    assert segments[-1].start_ms + segments[-1].duration_ms <= EPOCH_S * 1000 + 5200 + FRAME_MS
    assert handed[-1][0] == pytest.approx(5.2, abs=FRAME_MS / 1000 + 0.001)


def test_a_new_session_after_a_stop(camera_ts: bytes) -> None:
    """Asked again after a stop, a new session starts: its own start and sequence."""
    segments: list[LiveSegment] = []
    now_s = 0.0
    with av.open(io.BytesIO(camera_ts)) as container:
        cutter = LiveCutter(
            container.streams.video[0],
            container.streams.audio[0],
            segments.append,
            clock=lambda: EPOCH_S + now_s,
        )
        plan: dict[float, Callable[[], None]] = {1.5: cutter.start, 3.5: cutter.stop}
        plan |= {5.5: cutter.start}

        def on_packet(packet: AvPacket[Stream], at_ms: int) -> None:
            nonlocal now_s
            now_s = max(now_s, at_ms / 1000 - EPOCH_S)
            for at_s in [t for t in plan if now_s >= t]:
                plan.pop(at_s)()
            cutter.feed(packet, at_ms)

        Segmenter(container, lambda _: None, clock=lambda: EPOCH_S, on_packet=on_packet).run()
    sessions = sorted({s.session for s in segments})
    assert len(sessions) == 2
    assert sessions[1] - sessions[0] == pytest.approx(4000, abs=FRAME_MS)
    second = [s for s in segments if s.session == sessions[1]]
    assert second[0].sequence == 0 and second[0].independent


def test_without_the_buffer_live_waits_for_the_next_key_frame(camera_ts: bytes) -> None:
    segments, handed = run_live(camera_ts, start_at_s=2.5, from_buffer=False)
    assert segments[0].start_ms == EPOCH_S * 1000 + 3000
    assert handed[0][0] == pytest.approx(4.0, abs=0.15)  # at the key frame after (audio leads)
    assert all(s.independent for s in segments)


def test_no_segment_of_a_frame_or_two_when_asked_just_before_a_key_frame(
    camera_ts: bytes,
) -> None:
    """Asked late in a group of pictures, the rest of it joins the next group."""
    segments, _ = run_live(camera_ts, start_at_s=3.0 - 2.5 * FRAME_MS / 1000)
    buffered, rest = segments[0], segments[1]
    assert 500 < buffered.duration_ms < 1000
    assert rest.independent is False and rest.start_ms == buffered.start_ms + buffered.duration_ms
    assert rest.duration_ms == 2000 - buffered.duration_ms  # its group's rest and the next
    assert segments[2].start_ms % 1000 == 0 and segments[2].independent
