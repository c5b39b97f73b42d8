"""A recorded segment: MPEG-TS bytes cut at a video key frame, and its place in time."""

from __future__ import annotations

from dataclasses import dataclass

TS_PACKET = 188


def looks_like_mpegts(data: bytes) -> bool:
    """Whole 188-byte MPEG-TS packets, the first with its sync byte: not proof, a sanity check."""
    return bool(data) and len(data) % TS_PACKET == 0 and data[0] == 0x47


@dataclass(frozen=True, slots=True)
class Segment:
    """One stream-copied MPEG-TS segment that starts with a video key frame."""

    start_ms: int  # wall-clock capture time of its first video packet, ms since the epoch
    duration_ms: int  # until the next segment's start (the last: its last packet's end)
    data: bytes  # a complete MPEG-TS file, playable on its own
    sequence: int  # 0, 1, 2 ... within one run of a segmenter
    has_audio: bool

    @property
    def end_ms(self) -> int:
        return self.start_ms + self.duration_ms
