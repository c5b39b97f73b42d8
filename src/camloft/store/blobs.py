"""Blob storage for video and images: files under the data dir, or an S3 bucket.

`open_blob_store(blob_url, data_dir)` picks one: files under `data_dir` when
`blob_url` is None (the default), else the S3 bucket it names
(`camloft.store.s3`). Both are `BlobStore`s:

- `put` is atomic. For files the bytes go to a temporary file in the same
  folder, are flushed to disk, and only then renamed to their key, so a reader
  never sees half a segment and a crash leaves either the old blob or the new
  one; for S3 it is one PutObject, atomic by itself.
- `get` and `read` (a byte range) answer None for a blob that is not there;
  `delete` of one that is not there does nothing.
- `path` is the blob's local file, for a `FileResponse` or a remux that reads
  files; None for a store without files (S3), whose blobs are served as bytes.
- `aclose` lets go of connections at shutdown.
"""

from __future__ import annotations

import os
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
    async def read(self, key: str, start: int, stop: int) -> bytes | None: ...
    async def delete(self, key: str) -> None: ...
    async def keys_below(self, folder: str, name: str, limit: int) -> list[str]:
        """Up to `limit` keys `<folder>/<x>` with `x` sorting before `name`, in order."""
        ...

    def path(self, key: str) -> Path | None: ...
    async def aclose(self) -> None: ...


async def open_blob_store(blob_url: str | None, data_dir: Path) -> BlobStore:
    """Files under `data_dir`, or the S3 bucket of `blob_url` (checked that it answers)."""
    if blob_url is None:
        return FileBlobStore(data_dir)
    from camloft.store.s3 import S3BlobStore, S3Location  # aiobotocore only when asked for

    return await S3BlobStore.open(S3Location.parse(blob_url))


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

    async def read(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes `start` to `stop` (exclusive) of a blob."""

        def read_range() -> bytes:
            with path.open("rb") as handle:
                handle.seek(start)
                return handle.read(stop - start)

        path = self.path(key)
        try:
            return await anyio.to_thread.run_sync(read_range)
        except FileNotFoundError:
            return None

    async def delete(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    async def keys_below(self, folder: str, name: str, limit: int) -> list[str]:
        directory = self.path(folder)

        def scan() -> list[str]:
            try:
                names = sorted(
                    entry.name
                    for entry in os.scandir(directory)
                    if entry.is_file() and entry.name < name and not entry.name.startswith(".")
                )
            except FileNotFoundError:
                return []
            return [f"{folder}/{found}" for found in names[:limit]]

        return await anyio.to_thread.run_sync(scan)

    async def aclose(self) -> None:
        """Nothing to let go of."""
