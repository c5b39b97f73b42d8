"""The adapter's on-disk queue of finished segments, waiting for upload.

Every finished segment is written here first (atomically: a temporary file
flushed to disk, then renamed), and leaves only once the logger has
confirmed it. So neither a logger that is away nor an adapter that is killed
loses a finished segment; on restart the queue is uploaded in order.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from camloft.media.segment import Segment

_NAME = re.compile(r"(\d{15})_(\d{1,6})\.ts")
REJECTED = "rejected"


@dataclass(frozen=True, slots=True, order=True)
class Spooled:
    start_ms: int
    duration_ms: int
    path: Path

    def read(self) -> bytes:
        return self.path.read_bytes()


class Spool:
    """One camera's queue folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.changed = threading.Event()

    def add(self, segment: Segment) -> Spooled:
        path = self.folder / f"{segment.start_ms:015d}_{segment.duration_ms}.ts"
        temporary = self.folder / f".{path.name}.{secrets.token_hex(4)}.tmp"
        with temporary.open("wb") as handle:
            handle.write(segment.data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
        self.changed.set()
        return Spooled(segment.start_ms, segment.duration_ms, path)

    def pending(self) -> list[Spooled]:
        """Queued segments, oldest first (temporary files of a crash are not segments)."""
        found = []
        for path in self.folder.iterdir():
            match = _NAME.fullmatch(path.name)
            if match:
                found.append(Spooled(int(match[1]), int(match[2]), path))
        return sorted(found)

    def done(self, item: Spooled) -> None:
        item.path.unlink(missing_ok=True)

    def reject(self, item: Spooled) -> None:
        """Set aside a segment the logger refused for good; kept, never deleted on a guess."""
        rejected = self.folder / REJECTED
        rejected.mkdir(exist_ok=True)
        os.replace(item.path, rejected / item.path.name)

    def backlog(self) -> tuple[float, float]:
        """(megabytes, seconds of video) waiting: the reference's queue_mb and queue_sec."""
        items = self.pending()
        size = 0
        for item in items:
            try:
                size += item.path.stat().st_size
            except FileNotFoundError:
                continue
        return size / 1_000_000, sum(item.duration_ms for item in items) / 1000
