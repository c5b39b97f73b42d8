"""The live origin's streams: the last few live segments of each camera, in memory.

What this module owns: `LiveStreams`, the registry of streams on this origin,
and `LiveStream`, one camera's. Nothing here touches the web or a database;
everything runs on the event loop's thread.

A stream exists from the first segment an adapter pushes until it has ended
(the adapter's last segment, its DELETE, or no segment for `idle_seconds`)
and `ended_keep_seconds` have passed; then it and its bytes are gone. It
holds at most `window + SPARE` segments: memory per stream is bounded however
long it runs. Media sequence numbers are the origin's own and only grow for
the life of the stream; a new adapter session (a camera restarted, moved, or
asked again after its tail) continues it after an `EXT-X-DISCONTINUITY`, as
does a gap in an adapter's own sequence (a segment dropped on the way). A new
session of a stream that had ended starts with an empty window: the old
session's segments are dropped, so a new viewer starts at the present.

Readers wait for what is not there yet with `wait_for`: a playlist before
the first segment, or (blocking playlist reload) for a media sequence number.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from camloft.ids import DeviceRef
from camloft.media import playlist

WINDOW = 6  # segments in a playlist (6 s of 1 s segments: hls.js starts 3 from the end)
SPARE = 4  # older segments still served to players a little behind
IDLE_SECONDS = 15.0
ENDED_KEEP_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class PushedSegment:
    """One segment as an adapter pushes it (see `camloft.media.live.LiveSegment`)."""

    session: int
    sequence: int
    start_ms: int
    duration_ms: int
    data: bytes
    independent: bool


@dataclass(frozen=True, slots=True)
class LiveSegmentEntry:
    media_sequence: int
    session: int
    adapter_sequence: int
    start_ms: int
    duration_ms: int
    data: bytes
    discontinuity: bool
    independent: bool
    arrived: float  # time.time() when the origin got it


class LiveStream:
    """One camera's live stream on this origin."""

    def __init__(
        self,
        device: DeviceRef,
        *,
        window: int = WINDOW,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.device = device
        self.window = window
        self._clock = clock
        self.segments: deque[LiveSegmentEntry] = deque()
        self.session: int | None = None
        self.ended = False
        self.updated = clock()
        self.ended_at: float | None = None
        self.target_seconds = 1
        self._next_sequence = 0
        self._last_adapter_sequence: int | None = None
        self._dropped_discontinuities = 0
        self._changed = asyncio.Event()

    @property
    def bytes_held(self) -> int:
        return sum(len(segment.data) for segment in self.segments)

    @property
    def newest_sequence(self) -> int | None:
        return self.segments[-1].media_sequence if self.segments else None

    def add(self, pushed: PushedSegment) -> bool:
        """Take one pushed segment; False when it was taken before (a retried push)."""
        session, sequence = pushed.session, pushed.sequence
        same_session = session == self.session
        last = self._last_adapter_sequence
        if same_session and last is not None and sequence <= last:
            return False
        discontinuity = bool(self.segments) and (not same_session or sequence != (last or 0) + 1)
        if not same_session and self.ended:
            # A new session after the end: its viewers want now, not the old session's tail.
            self._dropped_discontinuities += sum(1 for s in self.segments if s.discontinuity)
            self.segments.clear()
        if not same_session:
            self.session = session
        self.ended = False
        self.ended_at = None
        self._last_adapter_sequence = sequence
        self.segments.append(
            LiveSegmentEntry(
                media_sequence=self._next_sequence,
                session=session,
                adapter_sequence=sequence,
                start_ms=pushed.start_ms,
                duration_ms=pushed.duration_ms,
                data=pushed.data,
                discontinuity=discontinuity,
                independent=pushed.independent,
                arrived=time.time(),
            )
        )
        self._next_sequence += 1
        # RFC 8216 4.3.3.1: each EXTINF *rounded to the nearest integer* must not exceed it.
        self.target_seconds = max(self.target_seconds, math.floor(pushed.duration_ms / 1000 + 0.5))
        while len(self.segments) > self.window + SPARE:
            if self.segments.popleft().discontinuity:
                self._dropped_discontinuities += 1
        self._touch()
        return True

    def end(self, session: int | None = None) -> None:
        """The adapter ended `session` (None: whatever runs)."""
        if session is not None and session != self.session:
            return
        if not self.ended:
            self.ended = True
            self.ended_at = self._clock()
            self._touch()

    def _touch(self) -> None:
        self.updated = self._clock()
        self._changed.set()
        self._changed = asyncio.Event()

    def segment(self, media_sequence: int) -> LiveSegmentEntry | None:
        for segment in self.segments:
            if segment.media_sequence == media_sequence:
                return segment
        return None

    def in_window(self) -> list[LiveSegmentEntry]:
        return list(self.segments)[-self.window :]

    def playlist(self, uri: Callable[[LiveSegmentEntry], str]) -> str:
        shown = self.in_window()
        hidden = len(self.segments) - len(shown)
        # Discontinuities of every segment before the window, and of its first one
        # (a tag before the first segment is not written: the count says it).
        skipped = self._dropped_discontinuities + sum(
            1 for segment in list(self.segments)[: hidden + 1] if segment.discontinuity
        )
        return playlist.live_playlist(
            shown,
            uri,
            target_seconds=self.target_seconds,
            discontinuity_sequence=skipped,
            ended=self.ended,
        )

    async def wait_for(self, ready: Callable[[], bool], seconds: float) -> bool:
        """Wait until `ready()` or the stream ends, at most `seconds`; answers `ready()`."""
        deadline = time.monotonic() + seconds
        while not ready() and not self.ended:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except TimeoutError:
                break
        return ready()


class LiveStreams:
    """Every stream on this origin, by device."""

    def __init__(
        self,
        *,
        window: int = WINDOW,
        idle_seconds: float = IDLE_SECONDS,
        ended_keep_seconds: float = ENDED_KEEP_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._streams: dict[DeviceRef, LiveStream] = {}
        self._waiting: dict[DeviceRef, asyncio.Event] = {}
        self._window = window
        self._idle_seconds = idle_seconds
        self._ended_keep_seconds = ended_keep_seconds

    def get(self, device: DeviceRef) -> LiveStream | None:
        return self._streams.get(device)

    def all(self) -> list[LiveStream]:
        return [self._streams[device] for device in sorted(self._streams)]

    def add(self, device: DeviceRef, pushed: PushedSegment) -> bool:
        """Take one pushed segment of `device`; False when it was taken before."""
        stream = self._streams.get(device)
        if stream is None:
            stream = LiveStream(device, window=self._window, clock=self._clock)
            self._streams[device] = stream
        added = stream.add(pushed)
        waiting = self._waiting.pop(device, None)
        if waiting is not None:
            waiting.set()
        return added

    def end(self, device: DeviceRef, session: int | None = None) -> None:
        stream = self._streams.get(device)
        if stream is not None:
            stream.end(session)

    async def wait_for_stream(self, device: DeviceRef, seconds: float) -> LiveStream | None:
        """The device's stream, waiting up to `seconds` for its first segment."""
        stream = self._streams.get(device)
        if stream is not None or seconds <= 0:
            return stream
        event = self._waiting.setdefault(device, asyncio.Event())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), seconds)
        return self._streams.get(device)

    def sweep(self) -> int:
        """End idle streams, free those ended long enough ago; answers how many were freed."""
        now = self._clock()
        freed = 0
        for device, stream in list(self._streams.items()):
            if not stream.ended and now - stream.updated > self._idle_seconds:
                stream.end()
            if stream.ended_at is not None and now - stream.ended_at > self._ended_keep_seconds:
                del self._streams[device]
                freed += 1
        return freed

    async def sweep_forever(self, every_seconds: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every_seconds)
            self.sweep()
