"""Live video of one camera on demand: `livecommand` starts it, the live origin receives it.

What this module owns: `LiveStreamer`, one per camera. The reference's rule
(1.3.4): a camera streams while `livecommand` comes every 30 s and stops
`tail_seconds` (60) after the last one. Each `livecommand` names the live
origin assigned to the device now (the logger adds it to the task), so a
device moved to another origin streams there from its next `livecommand`.

The camera's thread feeds a `camloft.media.live.LiveCutter` (one per input,
made by `cutter`); the segments it cuts go through a bounded queue to this
module's thread `live-<uidd>`, which PUTs them to the origin with the
device's key::

    PUT    <origin>/live/v1/streams/<uidd>/<session>/<sequence>?start_ms=…&duration_ms=…
    DELETE <origin>/live/v1/streams/<uidd>/<session>          (the session ended)

(the PUT also says `independent=` and `last=`).

Live video is not kept: a segment the origin cannot take is dropped (and
logged), never retried later, since a viewer only wants what is new. While
pushes fail the camera does not report itself live.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import httpx
from av.audio.stream import AudioStream
from av.video.stream import VideoStream

from camloft.ids import DeviceRef
from camloft.media.live import LiveCutter, LiveSegment

log = logging.getLogger("camloft.adapter.live")

LIVE_TAIL_SECONDS = 60.0  # the reference: streaming stops 60 s after the last livecommand
QUEUE_SEGMENTS = 8
STALLED_SECONDS = 5.0  # a camera sending nothing this long after the tail: ended here
_LOG_EVERY_S = 10.0


class LiveStreamer:
    """Keeps one camera's live session: when it runs, where it goes, and the pushes."""

    def __init__(
        self,
        device: DeviceRef,
        key: str,
        *,
        on_change: Callable[[], None],
        tail_seconds: float = LIVE_TAIL_SECONDS,
        from_buffer: bool = True,
        timeout_s: float = 5.0,
    ) -> None:
        self.device = device
        self._on_change = on_change
        self._tail_seconds = tail_seconds
        self._from_buffer = from_buffer
        self._client = httpx.Client(
            timeout=timeout_s, headers={"Authorization": f"CamloftDevice {key}"}
        )
        self._lock = threading.Lock()
        self._cutter: LiveCutter | None = None
        self._origin: str | None = None  # where new sessions go
        self._deadline = 0.0  # monotonic time when streaming stops
        self._session_origins: dict[int, str] = {}
        self._queue: queue.Queue[LiveSegment] = queue.Queue(QUEUE_SEGMENTS)
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._live: tuple[int, str] | None = None  # (session, origin) while pushes succeed
        self._last_error_log = -_LOG_EVERY_S
        self.pushed = 0

    # -- the link's thread

    def keepalive(self, origin_url: str) -> None:
        """A `livecommand`: stream to `origin_url` until `tail_seconds` from now."""
        origin = origin_url.rstrip("/")
        with self._lock:
            self._deadline = time.monotonic() + self._tail_seconds
            moved = self._origin is not None and origin != self._origin
            self._origin = origin
            cutter = self._cutter
        if cutter is not None:
            if moved and cutter.active:
                log.info("camera %s: live moves to %s", self.device, origin)
                cutter.restart()
            else:
                cutter.start()
        self._wake.set()

    # -- the camera's thread

    def cutter(self, video: VideoStream, audio: AudioStream | None) -> LiveCutter:
        """A cutter for a new input of the camera; live goes on if it was asked for."""
        cutter = LiveCutter(video, audio, self._on_segment, from_buffer=self._from_buffer)
        with self._lock:
            wanted = self._origin is not None and time.monotonic() < self._deadline
            self._cutter = cutter
        if wanted:
            cutter.start()
        return cutter

    def _on_segment(self, segment: LiveSegment) -> None:
        try:
            self._queue.put_nowait(segment)
        except queue.Full:
            self._complain("live segment %d dropped: the origin is too slow", segment.sequence)
        self._wake.set()

    # -- status, any thread

    def status(self) -> dict[str, Any]:
        """What the link reports: the session and the origin's host while live."""
        live = self._live
        if live is None:
            return {"live": False}
        session, origin = live
        return {"live": True, "live_session": session, "live_origin": urlsplit(origin).netloc}

    # -- the pusher's thread

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(stop,), name=f"live-{self.device}", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        """After `stop` was set: wake the thread, so that it sees it, and wait for it."""
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, stop: threading.Event) -> None:
        try:
            while not stop.is_set():
                self._wake.wait(self._next_check())
                self._wake.clear()
                self._expire()
                while True:
                    try:
                        segment = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    self._push(segment)
        finally:
            self._client.close()

    def _next_check(self) -> float | None:
        """Seconds until `_expire` may have work; None: none until woken (an idle camera
        costs no wake-ups: a livecommand or a segment wakes this thread)."""
        with self._lock:
            left = self._deadline - time.monotonic()
            cutter = self._cutter
        if cutter is not None and cutter.active:
            return max(0.1, left)
        if self._live is not None:
            return max(0.1, left + STALLED_SECONDS + 0.1)
        return None

    def _expire(self) -> None:
        """Past the tail: stop the cutter; a camera that sends nothing is ended here."""
        with self._lock:
            overdue = time.monotonic() - self._deadline
            cutter = self._cutter
        if overdue < 0:
            return
        if cutter is not None and cutter.active:
            cutter.stop()  # its last segment comes at the next packet
        elif overdue > STALLED_SECONDS and self._live is not None and self._queue.empty():
            session, origin = self._live
            self._end(origin, session)

    def _push(self, segment: LiveSegment) -> None:
        with self._lock:
            origin = self._session_origins.setdefault(segment.session, self._origin or "")
        if not origin:
            return
        if segment.data:
            url = f"{origin}/live/v1/streams/{self.device}/{segment.session}/{segment.sequence}"
            params = {
                "start_ms": segment.start_ms,
                "duration_ms": segment.duration_ms,
                "independent": int(segment.independent),
                "last": int(segment.last),
            }
            try:
                response = self._client.put(url, params=params, content=segment.data)
                response.raise_for_status()
            except httpx.HTTPError as err:
                self._complain("live segment %d not taken by %s: %s", segment.sequence, url, err)
                self._set_live(None)
            else:
                self.pushed += 1
                self._set_live(None if segment.last else (segment.session, origin))
        if segment.last:
            self._end(origin, segment.session, sent=bool(segment.data))

    def _end(self, origin: str, session: int, *, sent: bool = False) -> None:
        """The session is over: tell the origin (unless its last segment said so)."""
        with self._lock:
            self._session_origins.pop(session, None)
        if not sent:
            try:
                self._client.delete(f"{origin}/live/v1/streams/{self.device}/{session}")
            except httpx.HTTPError as err:
                self._complain("could not end live session %d at %s: %s", session, origin, err)
        if self._live is not None and self._live[0] == session:
            self._set_live(None)

    def _set_live(self, live: tuple[int, str] | None) -> None:
        if live != self._live:
            self._live = live
            self._on_change()

    def _complain(self, message: str, *args: object) -> None:
        """Log a warning about this camera, at most once every 10 s."""
        now = time.monotonic()
        if now - self._last_error_log >= _LOG_EVERY_S:
            self._last_error_log = now
            log.warning("camera %s: %s", self.device, message % args)
