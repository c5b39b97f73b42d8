"""The local cache of recorded `.ts` segments (the reference: "cache the .TS video files").

A recorded segment never changes once stored, so a cached copy is good
forever. Files lie at `<root>/<uidd>/<start_ms>.ts`, written atomically (a
temporary file, then a rename). With `max_bytes`, the least recently used
files are removed once the cache grows past it. `local_playlist` rewrites
an event's HLS playlist to point at the cached files, so any player plays
the event from disk.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

#: A segment URI in a logger's playlist: `seg_<uidd>_<start_ms>.ts?token=...`.
SEGMENT_URI = re.compile(r"^(?:.*/)?seg_(\d+\.\d+)_(\d+)\.ts(?:\?.*)?$")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "camloft" / "segments"


def playlist_segments(text: str) -> list[tuple[str, int]]:
    """(uidd, start ms) of each segment a recorded playlist lists, in order."""
    found = []
    for line in text.splitlines():
        match = SEGMENT_URI.match(line.strip())
        if match:
            found.append((match.group(1), int(match.group(2))))
    return found


class SegmentCache:
    """Cached segments on disk (see the module docstring)."""

    def __init__(self, root: Path | None = None, *, max_bytes: int | None = None) -> None:
        self.root = root or default_cache_dir()
        self.max_bytes = max_bytes

    def path(self, uidd: str, start_ms: int) -> Path:
        return self.root / uidd / f"{int(start_ms)}.ts"

    def get(self, uidd: str, start_ms: int) -> Path | None:
        """The cached file, touched as just used, or None."""
        path = self.path(uidd, start_ms)
        if not path.is_file():
            return None
        os.utime(path)
        return path

    def put(self, uidd: str, start_ms: int, data: bytes) -> Path:
        path = self.path(uidd, start_ms)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=path.parent, suffix=".part")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
        if self.max_bytes is not None:
            self.evict(keep=path)
        return path

    def size(self) -> int:
        return sum(p.stat().st_size for p in self.root.glob("*/*.ts"))

    def evict(self, keep: Path | None = None) -> int:
        """Remove least recently used segments until within `max_bytes`; the bytes freed."""
        if self.max_bytes is None:
            return 0
        files = sorted(self.root.glob("*/*.ts"), key=lambda p: p.stat().st_mtime)
        total = sum(p.stat().st_size for p in files)
        freed = 0
        for path in files:
            if total <= self.max_bytes:
                break
            if path == keep:
                continue
            size = path.stat().st_size
            path.unlink(missing_ok=True)
            total -= size
            freed += size
        return freed

    def local_playlist(self, text: str, name: str, uidd: str) -> Path:
        """Write `text` (a logger's playlist) with its segment URIs turned into cached files."""
        lines = []
        for line in text.splitlines():
            match = SEGMENT_URI.match(line.strip())
            lines.append(f"{int(match.group(2))}.ts" if match else line)
        path = self.root / uidd / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path
