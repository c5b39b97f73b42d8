"""Reading a live input in batches: the pause after a read that waited, and arrival times."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

from camloft.media.batching import WAITED_S, ArrivalClock, batched


def slow_then_fast(delays: list[float]) -> Iterator[int]:
    for n, delay in enumerate(delays):
        time.sleep(delay)
        yield n


def test_a_pause_follows_only_a_read_that_waited() -> None:
    """Reads that found data buffered go on at once; one that waited is followed by the pause,
    so that the next reads find a batch. (Times are generous: a loaded machine delays any read
    a little; only the 0.6 s pause may make a gap that long.)"""
    stop = threading.Event()
    times: list[float] = []
    started = time.monotonic()
    packets = slow_then_fast([0.0, 0.0, 0.3, 0.0, 0.0])
    for _ in batched(packets, stop, 0.6, waited_s=0.15):
        times.append(time.monotonic() - started)
    assert times[1] - times[0] < 0.3  # no wait before: no pause
    assert times[2] - times[1] >= 0.3  # this read waited ...
    assert times[3] - times[2] >= 0.6  # ... so the next comes after the pause
    assert times[4] - times[3] < 0.3
    assert WAITED_S < 0.05


def test_stop_cuts_the_pause_short_and_zero_means_no_pause() -> None:
    stop = threading.Event()
    packets = batched(slow_then_fast([0.05, 0.0]), stop, 30.0)
    assert next(packets) == 0
    stop.set()
    started = time.monotonic()
    assert next(packets) == 1
    assert time.monotonic() - started < 1.0
    assert list(batched(iter([1, 2, 3]), threading.Event(), 0.0)) == [1, 2, 3]


def test_arrival_clock_places_a_batch_by_pts() -> None:
    """Packets read together after a pause keep their own times (25 pts ticks = 1 s here)."""
    clock = ArrivalClock({0: 1 / 25}, max_late_ms=2500)
    assert clock.at_ms(0, 100, 10_000) == 10_000  # the first anchors the timeline
    batch = [clock.at_ms(0, pts, 10_520) for pts in (101, 105, 110, 113)]
    assert batch == [10_040, 10_200, 10_400, 10_520]
    assert clock.at_ms(0, None, 10_600) == 10_600
    assert clock.at_ms(1, 5, 10_600) == 10_600  # an unknown stream: by arrival


def test_arrival_clock_follows_early_packets_and_reanchors_late_ones() -> None:
    """Early (a file read fast, a fast camera clock): the arrival. Too late (a jump): again."""
    clock = ArrivalClock({0: 1 / 1000}, max_late_ms=1000)
    assert clock.at_ms(0, 0, 5_000) == 5_000
    assert clock.at_ms(0, 500, 5_100) == 5_100  # earlier than its place: moves the anchor
    assert clock.at_ms(0, 600, 5_300) == 5_200
    assert clock.at_ms(0, 700, 9_000) == 9_000  # 1.7 s late: anchored again
    assert clock.at_ms(0, 800, 9_150) == 9_100
