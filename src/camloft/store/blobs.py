"""Blob storage for video and images: files under the data dir (S3 arrives later).

Writes are atomic: the bytes go to a temporary file in the same folder, are
flushed to disk, and only then renamed to their key, so a reader never sees
half a segment and a crash leaves either the old blob or the new one.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Protocol

import anyio.to_thread

from camloft.errors import BadRequest
from camloft.files import write_atomically

_KEY = re.compile(r"[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-.]+)*")


class BlobStore(Protocol):
    async def put(self, key: str, data: bytes) -> None: ...
    async def get(self, key: str) -> bytes | None: ...
    async def delete(self, key: str) -> None: ...
    def path(self, key: str) -> Path | None: ...


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key) or ".." in key:
        raise BadRequest(f"not a blob key: {key[:80]!r}")
    return key


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    async def put(self, key: str, data: bytes) -> None:
        await anyio.to_thread.run_sync(write_atomically, self.path(key), data)

    async def get(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            return await anyio.to_thread.run_sync(path.read_bytes)
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)
