"""The pre-roll: the last few seconds of segments, kept in memory until an event wants them.

The segmenter adds every finished segment; when motion, sound or a trigger
starts an event, the recorder takes `since(event_start - pre_roll)` so the
event's video begins before what set it off.

How much is kept: the newest segments whose durations add up to at least
`seconds`. The oldest segment is dropped only while the others still cover the
window on their own, so the window is always covered once enough video came
in. Durations are summed rather than wall-clock times compared, so a clock
that steps backwards cannot make the buffer grow; `max_bytes` bounds memory
even against segments of zero duration or a huge bit rate (the newest segment
is always kept).
"""

from __future__ import annotations

import threading
from collections import deque

from camloft.media.segment import Segment


class PreRollBuffer:
    """A thread-safe ring of the most recent segments covering at least `seconds`."""

    def __init__(self, seconds: float = 5.0, *, max_bytes: int = 64 * 1024 * 1024) -> None:
        if seconds < 0:
            raise ValueError(f"seconds must not be negative, not {seconds}")
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, not {max_bytes}")
        self._window_ms = round(seconds * 1000)
        self._max_bytes = max_bytes
        self._segments: deque[Segment] = deque()
        self._duration_ms = 0  # sum of the held segments' durations
        self._bytes = 0
        self._lock = threading.Lock()

    def add(self, segment: Segment) -> None:
        """Keeps `segment` (the newest) and drops the oldest ones the window no longer needs."""
        with self._lock:
            self._segments.append(segment)
            self._duration_ms += segment.duration_ms
            self._bytes += len(segment.data)
            while len(self._segments) > 1 and (
                self._duration_ms - self._segments[0].duration_ms >= self._window_ms
                or self._bytes > self._max_bytes
            ):
                oldest = self._segments.popleft()
                self._duration_ms -= oldest.duration_ms
                self._bytes -= len(oldest.data)

    def segments(self) -> list[Segment]:
        """Every segment held, oldest first."""
        with self._lock:
            return list(self._segments)

    def since(self, ms: int) -> list[Segment]:
        """The segments held that end after `ms` (wall-clock ms since the epoch), oldest first."""
        with self._lock:
            return [segment for segment in self._segments if segment.end_ms > ms]

    def clear(self) -> None:
        with self._lock:
            self._segments.clear()
            self._duration_ms = 0
            self._bytes = 0

    @property
    def bytes_held(self) -> int:
        """The size of the MPEG-TS data held."""
        return self._bytes

    @property
    def duration_ms(self) -> int:
        """The sum of the held segments' durations."""
        return self._duration_ms

    def __len__(self) -> int:
        return len(self._segments)
