"""Reading a live input in batches: fewer wake-ups of a camera's thread per second of video.

A live camera's packets trickle in, and a thread that blocks on each read
wakes up some 20 times a second to demux one or two of them. On the 2-core
machine of bench/adapter each wake-up cost more CPU than the packets it
brought: a bare PyAV demux loop on a live 2 Mbit/s stream took 3.5 ms of CPU
per second of video, 1.4 ms when it paused 0.5 s after each read that waited
for data, so that the next reads found a batch already received (the kernel's
socket buffer holds it; TCP flow control keeps the camera from overrunning it).

`batched(packets, stop, pause_s)` does that: it yields `packets` unchanged,
and after one whose read waited (took more than `WAITED_S`) it waits
`pause_s`, or until `stop` is set. Packets are then handled up to `pause_s`
after they arrived, so whoever times packets by arrival must time them by pts
instead. A file, whose reads never wait for a camera, is read with `pause_s` 0.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

#: How long a camera's thread waits after a read that waited for the network.
READ_PAUSE_SECONDS = 0.5
#: A read that took longer than this waited for data to arrive.
WAITED_S = 0.002

T = TypeVar("T")


def batched(
    packets: Iterator[T], stop: threading.Event, pause_s: float, *, waited_s: float = WAITED_S
) -> Iterator[T]:
    """`packets` as they come, with a wait of `pause_s` after each that the input made us wait
    for (a read that took over `waited_s`; cut short by `stop`). Errors of the input propagate
    unchanged."""
    if pause_s <= 0:
        yield from packets
        return
    clock = time.monotonic
    while True:
        started = clock()
        try:
            packet = next(packets)
        except StopIteration:
            return
        waited = clock() - started > waited_s
        yield packet
        if waited:
            stop.wait(pause_s)


class ReadPause:
    """The rest a camera's thread takes after a read that waited: `seconds` (0 for a file).

    No rest is taken while `urgent()` says so (someone watches the camera live:
    each key frame should go out the moment it arrives), and `hurry()`, from any
    thread, ends a rest at once (a `livecommand`, or the reader stopping).
    """

    def __init__(self, seconds: float, *, urgent: Callable[[], bool] | None = None) -> None:
        self.seconds = seconds
        self._urgent = urgent
        self._hurry = threading.Event()

    def hurry(self) -> None:
        self._hurry.set()

    def rest(self) -> None:
        if self.seconds > 0 and (self._urgent is None or not self._urgent()):
            self._hurry.wait(self.seconds)
        self._hurry.clear()


class ArrivalClock:
    """Capture times (ms since the epoch) of a live input's packets when read in batches.

    Each stream's packets are placed by pts on a timeline anchored at the arrival
    of its first packet, as if each were read the moment it arrived. A packet
    that arrives before its place (the anchor was read late, or the camera's
    clock runs fast) moves the anchor to it; one later than `max_late_ms` (a
    jump of pts, a slow camera clock, a stall) anchors the timeline again at
    its arrival. So a file read faster than real time is timed by arrival.
    `seconds_per_tick` maps each stream's index to its time base, in seconds.
    """

    def __init__(self, seconds_per_tick: dict[int, float], *, max_late_ms: float) -> None:
        self._ms_per_tick = {index: 1000.0 * base for index, base in seconds_per_tick.items()}
        self._origins: dict[int, float] = {}  # stream -> arrival ms minus pts ms
        self._max_late_ms = max_late_ms

    def at_ms(self, index: int, pts: int | None, arrived_ms: int) -> int:
        ms_per_tick = self._ms_per_tick.get(index)
        if pts is None or not ms_per_tick:
            return arrived_ms
        pts_ms = pts * ms_per_tick
        origin = self._origins.get(index)
        if origin is not None:
            at_ms = origin + pts_ms
            if arrived_ms - self._max_late_ms <= at_ms <= arrived_ms:
                return round(at_ms)
        self._origins[index] = arrived_ms - pts_ms
        return arrived_ms
