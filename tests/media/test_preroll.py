"""The pre-roll buffer: the newest segments covering the window, and nothing older."""

from __future__ import annotations

import pytest

from camloft.media.preroll import PreRollBuffer
from camloft.media.segment import Segment

T0 = 1_700_000_000_000


def segments(*durations_ms: int, start_ms: int = T0, size: int = 100) -> list[Segment]:
    """Contiguous segments of the given durations."""
    made = []
    for sequence, duration in enumerate(durations_ms):
        made.append(Segment(start_ms, duration, bytes(size), sequence, has_audio=True))
        start_ms += duration
    return made


def test_keeps_at_least_the_window() -> None:
    buffer = PreRollBuffer(seconds=5.0)
    for seg in segments(2000, 2000, 2000, 2000, 2000):
        buffer.add(seg)
        held = buffer.segments()
        assert held[-1] is seg
        covered = sum(s.duration_ms for s in held)
        assert covered >= min(5000, seg.end_ms - T0)
    assert [s.sequence for s in buffer.segments()] == [2, 3, 4]
    assert buffer.duration_ms == 6000


def test_drops_the_oldest_only_while_the_rest_cover_the_window() -> None:
    """Rule: the pre-roll never holds less than its window once that much video came in."""
    buffer = PreRollBuffer(seconds=5.0)
    for seg in segments(3000, 1000, 1000, 3000):
        buffer.add(seg)
    # Without the 3 s segment, 1 + 1 + 3 = 5 s still cover the window: it goes.
    assert [s.sequence for s in buffer.segments()] == [1, 2, 3]
    buffer.add(segments(1000, start_ms=buffer.segments()[-1].end_ms)[0])
    # 1 + 3 + 1 = 5 s without the oldest 1 s segment: it goes too.
    assert [s.duration_ms for s in buffer.segments()] == [1000, 3000, 1000]


def test_keeps_everything_while_the_window_is_not_filled() -> None:
    buffer = PreRollBuffer(seconds=5.0)
    for seg in segments(2000, 2000):
        buffer.add(seg)
    assert len(buffer) == 2


def test_since_gives_segments_ending_after_a_time() -> None:
    buffer = PreRollBuffer(seconds=10.0)
    for seg in segments(2000, 2000, 2000, 2000):
        buffer.add(seg)
    assert [s.sequence for s in buffer.since(T0 + 3000)] == [1, 2, 3]
    assert [s.sequence for s in buffer.since(T0 + 4000)] == [2, 3]  # 1 ends exactly there
    assert [s.sequence for s in buffer.since(T0 - 60_000)] == [0, 1, 2, 3]
    assert buffer.since(T0 + 8000) == []


def test_clear_and_bytes_held() -> None:
    buffer = PreRollBuffer(seconds=5.0)
    for seg in segments(2000, 2000, 2000, size=1000):
        buffer.add(seg)
    assert buffer.bytes_held == 3000
    buffer.clear()
    assert buffer.segments() == []
    assert (buffer.bytes_held, buffer.duration_ms, len(buffer)) == (0, 0, 0)


def test_memory_stays_bounded_by_max_bytes() -> None:
    """Rule: memory is bounded even by segments of no duration or a huge bit rate."""
    buffer = PreRollBuffer(seconds=5.0, max_bytes=10_000)
    for seg in segments(*[0] * 1000, size=3000):
        buffer.add(seg)
    assert buffer.bytes_held <= 10_000
    assert len(buffer) == 3
    big = segments(2000, start_ms=T0 + 10_000, size=50_000)[0]
    buffer.add(big)
    assert buffer.segments() == [big]  # the newest is always kept


def test_a_clock_stepping_back_does_not_grow_the_buffer() -> None:
    """Rule: coverage is the sum of durations, so wall-clock jumps cannot keep old segments."""
    buffer = PreRollBuffer(seconds=5.0)
    for seg in segments(2000, 2000, 2000):
        buffer.add(seg)
    for seg in segments(2000, 2000, 2000, start_ms=T0 - 3_600_000):
        buffer.add(seg)
    assert [s.start_ms for s in buffer.segments()] == [
        T0 - 3_600_000,
        T0 - 3_598_000,
        T0 - 3_596_000,
    ]


@pytest.mark.parametrize(("seconds", "max_bytes"), [(-1.0, 1000), (5.0, 0)])
def test_refuses_bad_settings(seconds: float, max_bytes: int) -> None:
    with pytest.raises(ValueError):
        PreRollBuffer(seconds, max_bytes=max_bytes)
