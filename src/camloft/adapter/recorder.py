"""What to keep and when: record on motion (with pre-roll and tail) or continuously.

The recorder sits between the segmenter and the spool. It is told of every
finished segment and of every trigger (motion, sound, a `triggerevent` task),
and decides which segments are stored and what events say:

- Record on motion (`rom=1`): segments wait in the pre-roll buffer. A trigger
  at time t opens an event whose video starts with the pre-roll before t; it
  records until 20 s after the last trigger (a trigger in the tail extends it),
  and its play-out `end` is 5 s after the last trigger.
- Continuous (`rom=0`): every segment is stored; triggers still mark events.

A trigger can hold: a `triggerevent` counts as triggering for 15 s.
Events are reported through `on_event` when they open, as their recording
grows, and when they close. Thread-safe: segments come from the camera's
thread, tasks from the link.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from camloft.events import PLAYOUT_TAIL_MS, RECORDING_TAIL_MS, EventRecord, EventType
from camloft.media.preroll import PreRollBuffer
from camloft.media.segment import Segment


@dataclass(slots=True)
class _Open:
    record: EventRecord
    triggered_until_ms: int  # the last trigger's time plus its hold


class Recorder:
    def __init__(
        self,
        *,
        record_on_motion: bool,
        store: Callable[[Segment], object],
        on_event: Callable[[EventRecord], None],
        pre_roll_seconds: float = 5.0,
        tail_ms: int = RECORDING_TAIL_MS,
        playout_tail_ms: int = PLAYOUT_TAIL_MS,
        tz: float = 0.0,
    ) -> None:
        self.record_on_motion = record_on_motion
        self._tz = tz
        self._store = store
        self._on_event = on_event
        self._pre_roll_ms = round(pre_roll_seconds * 1000)
        self._preroll = PreRollBuffer(pre_roll_seconds)
        self._tail_ms = tail_ms
        self._playout_tail_ms = playout_tail_ms
        self._open: _Open | None = None
        self._last_id = 0
        self._last_stored_end_ms = 0
        self._lock = threading.Lock()

    @property
    def event(self) -> EventRecord | None:
        with self._lock:
            return None if self._open is None else self._open.record

    def trigger(
        self,
        kind: EventType,
        at_ms: int,
        *,
        smx: int | None = None,
        aud: int | None = None,
        hold_ms: int = 0,
    ) -> None:
        with self._lock:
            until = at_ms + hold_ms
            current = self._open
            if current is None:
                self._start(kind, at_ms, until, smx, aud)
                return
            record = current.record
            current.triggered_until_ms = max(current.triggered_until_ms, until)
            current.record = replace(
                record,
                smx=_stronger(record.smx, smx),
                aud=_stronger(record.aud, aud),
                end=max(record.end, current.triggered_until_ms + self._playout_tail_ms),
            )

    def _start(
        self, kind: EventType, at_ms: int, until: int, smx: int | None, aud: int | None
    ) -> None:
        earlier = self._preroll.since(at_ms - self._pre_roll_ms)
        if not self.record_on_motion:
            start_ms = at_ms - self._pre_roll_ms  # every segment is kept: the pre-roll is there
        elif earlier:
            start_ms = max(earlier[0].start_ms, self._last_stored_end_ms)
        else:
            start_ms = at_ms
        # An event's id is its start second, unique per device.
        event_id = max(start_ms // 1000, self._last_id + 1)
        start_ms = max(start_ms, event_id * 1000)
        self._last_id = event_id
        record = EventRecord(
            id=event_id,
            startt=start_ms,
            endt=max(start_ms, at_ms),
            end=until + self._playout_tail_ms,
            type=kind,
            smx=smx,
            aud=aud,
            rom=self.record_on_motion,
            recording=True,
            tz=self._tz,
        )
        self._open = _Open(record, until)
        if self.record_on_motion:
            for segment in earlier:
                if segment.end_ms > self._last_stored_end_ms:
                    self._keep(segment)
            self._preroll.clear()
        self._on_event(record)

    def on_segment(self, segment: Segment) -> None:
        with self._lock:
            current = self._open
            if current is not None and segment.start_ms >= (
                current.triggered_until_ms + self._tail_ms
            ):
                self._close(current)
                current = None
            if current is not None or not self.record_on_motion:
                self._keep(segment)
                if current is not None:
                    current.record = replace(
                        current.record, endt=max(current.record.endt, segment.end_ms)
                    )
                    self._on_event(current.record)
            else:
                self._preroll.add(segment)

    def _keep(self, segment: Segment) -> None:
        self._store(segment)
        self._last_stored_end_ms = max(self._last_stored_end_ms, segment.end_ms)

    def _close(self, current: _Open) -> None:
        record = current.record
        final = replace(record, recording=False, end=min(record.end, record.endt))
        self._open = None
        self._on_event(final)

    def close(self) -> None:
        """The camera stops: close the open event with what was recorded."""
        with self._lock:
            if self._open is not None:
                self._close(self._open)


def _stronger(first: int | None, second: int | None) -> int | None:
    if first is None:
        return second
    return first if second is None else max(first, second)
