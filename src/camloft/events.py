"""Events (the reference's alerts): what the adapter reports and the logger keeps.

`id` is the event's start time in seconds, unique per device; `startt` and
`endt` are ms: `endt` is when recording stopped (20 s after the last trigger,
longer while motion goes on) and `end` where play-out stops (5 s after the last
trigger). `smx`/`aud` are magnitudes 0..10, shown as two hex digits.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from camloft.errors import BadRequest

MAX_MAGNITUDE = 10
RECORDING_TAIL_MS = 20_000
PLAYOUT_TAIL_MS = 5_000
TRIGGER_HOLD_MS = 15_000  # one `triggerevent` task keeps recording this long


class EventType(enum.StrEnum):
    MOTION = "motion"
    AUDIO = "audio"
    TRIGGER = "trigger"


@dataclass(frozen=True, slots=True)
class EventRecord:
    id: int
    startt: int
    endt: int  # while recording: how far recording has got
    end: int
    type: EventType
    smx: int | None
    aud: int | None
    rom: bool
    recording: bool  # True until the recording tail has run out
    tz: float = 0.0  # the camera's offset from UTC in hours, for showing local time

    def check(self) -> EventRecord:
        """Refuse values no adapter can honestly send."""
        if self.id != self.startt // 1000:
            raise BadRequest("an event's id is its start time in seconds")
        if not (self.startt <= self.end and self.startt <= self.endt):
            raise BadRequest("an event cannot end before it starts")
        if not self.recording and self.end > self.endt:
            raise BadRequest("a finished event's play-out cannot end after its recording")
        if max(self.end, self.endt) - self.startt > 86_400_000:
            raise BadRequest("an event lasts at most a day")
        if not -14 <= self.tz <= 14:
            raise BadRequest("tz is an offset from UTC in hours, -14 to 14")
        for magnitude in (self.smx, self.aud):
            if magnitude is not None and not 0 <= magnitude <= MAX_MAGNITUDE:
                raise BadRequest(f"magnitudes run from 0 to {MAX_MAGNITUDE}")
        return self


def hex_magnitude(value: int | None) -> str | None:
    """The reference's `smx`/`aud`: "00".."0a", or null."""
    return None if value is None else f"{value:02x}"
