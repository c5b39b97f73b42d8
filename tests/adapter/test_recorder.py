"""Record on motion: pre-roll, the event, a 20 s tail that motion extends; continuous keeps all."""

from __future__ import annotations

from camloft.adapter.recorder import Recorder
from camloft.events import EventRecord, EventType
from camloft.media.segment import Segment

T0 = 1_800_000_000_000  # a whole second
SEG = 2000


class Harness:
    def __init__(self, *, record_on_motion: bool = True) -> None:
        self.stored: list[Segment] = []
        self.events: list[EventRecord] = []
        self.recorder = Recorder(record_on_motion=record_on_motion, store=self.stored.append,
                                 on_event=lambda e: self.events.append(e.check()))
        self.next_start = T0
        self.sequence = 0

    def segments(self, count: int) -> None:
        for _ in range(count):
            self.recorder.on_segment(Segment(self.next_start, SEG, b"", self.sequence, False))
            self.next_start += SEG
            self.sequence += 1

    def stored_span(self) -> tuple[int, int]:
        return self.stored[0].start_ms, self.stored[-1].end_ms


def test_motion_event_has_pre_roll_and_twenty_second_tail() -> None:
    """A motion event's video runs from 5 s before the trigger to 20 s after the last."""
    h = Harness()
    h.segments(10)  # 20 s of nothing: nothing stored
    assert h.stored == []
    trigger = h.next_start + 500  # during the next segment
    h.recorder.trigger(EventType.MOTION, trigger, smx=7)
    h.segments(20)
    start, end = h.stored_span()
    assert trigger - 5000 - SEG < start <= trigger - 5000
    assert trigger + 20_000 <= end < trigger + 20_000 + SEG
    final = h.events[-1]
    assert not final.recording and final.type is EventType.MOTION and final.smx == 7
    assert final.id == final.startt // 1000 and final.startt == start
    assert final.endt == end
    assert final.end == trigger + 5000  # play-out: 5 s after the last trigger
    assert [e.recording for e in h.events].count(False) == 1


def test_motion_in_the_tail_extends_the_recording() -> None:
    h = Harness()
    h.segments(5)
    first = h.next_start + 100
    h.recorder.trigger(EventType.MOTION, first, smx=3)
    h.segments(5)  # 10 s later, still within the tail
    second = h.next_start + 100
    h.recorder.trigger(EventType.MOTION, second, smx=9)
    h.segments(20)
    _, end = h.stored_span()
    assert end >= second + 20_000
    final = h.events[-1]
    assert final.smx == 9 and final.end == second + 5000
    assert len({e.id for e in h.events}) == 1  # one event, not two


def test_trigger_task_holds_for_fifteen_seconds() -> None:
    h = Harness()
    h.segments(3)
    at = h.next_start
    h.recorder.trigger(EventType.TRIGGER, at, hold_ms=15_000)
    h.segments(30)
    _, end = h.stored_span()
    assert at + 35_000 <= end < at + 35_000 + SEG
    assert h.events[-1].end == at + 20_000
    assert h.events[-1].type is EventType.TRIGGER


def test_a_new_event_after_the_tail_gets_a_new_id_and_no_double_video() -> None:
    h = Harness()
    h.segments(3)
    h.recorder.trigger(EventType.MOTION, h.next_start)
    h.segments(12)  # past the 20 s tail: closed
    assert not h.events[-1].recording
    h.recorder.trigger(EventType.AUDIO, h.next_start, aud=4)
    h.segments(12)
    ids = [e.id for e in h.events]
    assert len(set(ids)) == 2 and ids == sorted(ids)
    starts = [s.start_ms for s in h.stored]
    assert starts == sorted(set(starts))  # no segment stored twice


def test_continuous_keeps_every_segment_and_still_marks_events() -> None:
    h = Harness(record_on_motion=False)
    h.segments(5)
    h.recorder.trigger(EventType.MOTION, h.next_start + 10, smx=2)
    h.segments(15)
    assert len(h.stored) == 20
    final = h.events[-1]
    assert final.rom is False and not final.recording
    assert final.startt == T0 + 5 * SEG + 10 - 5000  # the pre-roll is part of the event


def test_close_ends_the_open_event() -> None:
    h = Harness()
    h.recorder.trigger(EventType.MOTION, T0)
    h.segments(2)
    h.recorder.close()
    assert h.events[-1].recording is False
    assert h.recorder.event is None
