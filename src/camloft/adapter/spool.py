"""The adapter's on-disk queue of what the logger has not confirmed yet.

Every finished segment is written here first (atomically: a temporary file
flushed to disk, then renamed), and leaves only once the logger has confirmed
it; so neither a logger that is away nor an adapter that is killed loses a
finished segment, and on restart the queue is uploaded in order. Event
updates wait here too, one file per event holding its newest state.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

from camloft.events import EventRecord
from camloft.files import write_atomically
from camloft.media.segment import Segment

_SEGMENT = re.compile(r"(\d{15})_(\d{1,6})\.ts")
_EVENT = re.compile(r"(\d{15})_event\.json")
_IMAGE = re.compile(r"(\d{15})_(thumb|still|alert)\.jpg")
IMAGE_KINDS = ("thumb", "still", "alert")
REJECTED = "rejected"


@dataclass(frozen=True, slots=True, order=True)
class Spooled:
    start_ms: int
    kind: str  # "event" sorts before "segment": an event is announced before its video
    duration_ms: int
    path: Path
    image: str = ""  # for kind "image": thumb, still or alert (an event's thumb)


class Spool:
    """One camera's queue folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.changed = threading.Event()

    def add(self, segment: Segment) -> Spooled:
        path = self.folder / f"{segment.start_ms:015d}_{segment.duration_ms}.ts"
        write_atomically(path, segment.data)
        self.changed.set()
        return Spooled(segment.start_ms, "segment", segment.duration_ms, path)

    def put_event(self, record: EventRecord) -> None:
        """Queue the event's newest state (replacing an older one still waiting)."""
        body = asdict(record) | {"type": record.type.value}
        write_atomically(
            self.folder / f"{record.startt:015d}_event.json", json.dumps(body).encode()
        )
        self.changed.set()

    def put_image(self, image: str, at_ms: int, jpeg: bytes) -> None:
        """Queue a JPEG: a `thumb` or `still` taken at `at_ms`, or the `alert` thumb of
        the event starting at `at_ms`."""
        if image not in IMAGE_KINDS:
            raise ValueError(f"unknown image kind {image!r}")
        write_atomically(self.folder / f"{at_ms:015d}_{image}.jpg", jpeg)
        self.changed.set()

    def pending(self) -> list[Spooled]:
        """Queued items, oldest first (temporary files of a crash are not items)."""
        found = []
        for path in self.folder.iterdir():
            if match := _SEGMENT.fullmatch(path.name):
                found.append(Spooled(int(match[1]), "segment", int(match[2]), path))
            elif match := _EVENT.fullmatch(path.name):
                found.append(Spooled(int(match[1]), "event", 0, path))
            elif match := _IMAGE.fullmatch(path.name):
                found.append(Spooled(int(match[1]), "image", 0, path, match[2]))
        return sorted(found)

    def read(self, item: Spooled) -> tuple[bytes, int]:
        """The item's bytes and the identity of the file they came from."""
        with item.path.open("rb") as handle:
            return handle.read(), os.fstat(handle.fileno()).st_ino

    def done(self, item: Spooled, identity: int) -> None:
        """Remove a confirmed item, unless a newer version replaced it meanwhile."""
        try:
            if item.path.stat().st_ino == identity:
                item.path.unlink()
        except FileNotFoundError:
            pass

    def reject(self, item: Spooled) -> None:
        """Set aside an item the logger refused for good; kept, never deleted on a guess."""
        rejected = self.folder / REJECTED
        rejected.mkdir(exist_ok=True)
        os.replace(item.path, rejected / item.path.name)

    def backlog(self) -> tuple[float, float]:
        """(megabytes, seconds of video) waiting: the reference's queue_mb and queue_sec."""
        size = 0
        seconds = 0.0
        for item in self.pending():
            if item.kind != "segment":
                continue
            try:
                size += item.path.stat().st_size
            except FileNotFoundError:
                continue
            seconds += item.duration_ms / 1000
        return size / 1_000_000, seconds
