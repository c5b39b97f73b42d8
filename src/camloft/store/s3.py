"""Blob storage in an S3-compatible object store (AWS S3, MinIO, Ceph RGW, ...), by aiobotocore.

Chosen with the `blob_url` setting, shaped like

    s3://<bucket>[/<prefix>][?endpoint_url=http://127.0.0.1:9000&region=us-east-1
                             &addressing_style=path]

Every blob key goes under `<prefix>/` in the bucket. `endpoint_url` is for a
store other than AWS (path-style addressing is then the default, as MinIO and
most others want it); `region` defaults to botocore's own choice. Credentials
are never part of the URL: botocore finds them the standard way (the
`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` variables,
`AWS_PROFILE` and `~/.aws`, or the instance's role).

A put is one PutObject, which S3 makes atomic: a reader sees the old object or
the whole new one, never part of one. Objects have no local path (`path()` is
None), so viewers are answered from bytes: ranged reads are ranged GetObjects.
An error of the store becomes `BlobStoreUnavailable` here, at the boundary; a
missing object is None, never an error.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import parse_qsl, urlsplit

from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.exceptions import BotoCoreError, ClientError

from camloft.errors import BlobStoreUnavailable, ConfigError
from camloft.store.blobs import check_key

if TYPE_CHECKING:
    from types_aiobotocore_s3 import S3Client

log = logging.getLogger("camloft.store.s3")

#: What S3 answers for an object (or bucket) that is not there.
_MISSING = frozenset({"NoSuchKey", "404", "NotFound"})
_TYPES = {".ts": "video/mp2t", ".jpg": "image/jpeg"}
_QUERY_KEYS = frozenset({"endpoint_url", "region", "addressing_style"})
AddressingStyle = Literal["auto", "virtual", "path"]


@dataclass(frozen=True, slots=True)
class S3Location:
    """Where blobs go: a bucket, a key prefix, and how to reach the store."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    region: str | None = None
    addressing_style: AddressingStyle = "auto"

    @classmethod
    def parse(cls, url: str) -> S3Location:
        """`s3://bucket/prefix?endpoint_url=...&region=...&addressing_style=...`."""
        parts = urlsplit(url)
        if parts.scheme != "s3" or not parts.hostname:
            raise ConfigError(f"blob_url must look like s3://bucket/prefix, got {url!r}")
        if parts.username or parts.password:
            raise ConfigError("blob_url carries no credentials: use the AWS_* variables")
        query = dict(parse_qsl(parts.query, strict_parsing=bool(parts.query)))
        unknown = set(query) - _QUERY_KEYS
        if unknown:
            raise ConfigError(f"blob_url knows {sorted(_QUERY_KEYS)}, not {sorted(unknown)}")
        endpoint = query.get("endpoint_url")
        style = query.get("addressing_style", "path" if endpoint else "auto")
        if style not in ("auto", "virtual", "path"):
            raise ConfigError("blob_url's addressing_style is auto, virtual or path")
        return cls(
            bucket=parts.netloc,
            prefix=parts.path.strip("/"),
            endpoint_url=endpoint,
            region=query.get("region"),
            addressing_style=style,  # type: ignore[arg-type]  # checked just above
        )

    def __str__(self) -> str:
        where = f"s3://{self.bucket}/{self.prefix}".rstrip("/")
        return where if self.endpoint_url is None else f"{where} at {self.endpoint_url}"


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


class S3BlobStore:
    """The `BlobStore` of an S3 bucket; `open` it, and `aclose` it when done."""

    def __init__(
        self, client: S3Client, location: S3Location, stack: contextlib.AsyncExitStack
    ) -> None:
        self._client = client
        self.location = location
        self._stack = stack

    @classmethod
    async def open(cls, location: S3Location) -> S3BlobStore:
        """Make the client and check that the bucket answers (a ConfigError if not)."""
        config = AioConfig(
            connect_timeout=5,
            read_timeout=30,
            max_pool_connections=64,  # viewers fetching segments at once share the pool
            retries={"max_attempts": 3, "mode": "standard"},
            s3={"addressing_style": location.addressing_style},
        )
        stack = contextlib.AsyncExitStack()
        try:
            client: S3Client = await stack.enter_async_context(
                get_session().create_client(
                    "s3",
                    region_name=location.region,
                    endpoint_url=location.endpoint_url,
                    config=config,
                )
            )
            await client.head_bucket(Bucket=location.bucket)
        except (BotoCoreError, ClientError) as err:
            await stack.aclose()
            raise ConfigError(f"cannot use the blob store {location}: {err}") from err
        except BaseException:
            await stack.aclose()
            raise
        log.info("blobs go to %s", location)
        return cls(client, location, stack)

    async def aclose(self) -> None:
        await self._stack.aclose()

    def object_key(self, key: str) -> str:
        check_key(key)
        return f"{self.location.prefix}/{key}" if self.location.prefix else key

    def path(self, key: str) -> Path | None:
        check_key(key)
        return None

    async def put(self, key: str, data: bytes) -> None:
        name = self.object_key(key)
        try:
            await self._client.put_object(
                Bucket=self.location.bucket,
                Key=name,
                Body=data,
                ContentType=_TYPES.get(Path(key).suffix, "application/octet-stream"),
            )
        except (BotoCoreError, ClientError) as err:
            raise self._unavailable("store", name, err) from err

    async def get(self, key: str) -> bytes | None:
        return await self._get(key, None)

    async def read(self, key: str, start: int, stop: int) -> bytes | None:
        """Bytes `start` to `stop` (exclusive, after `start`) of a blob, by one ranged GetObject."""
        return await self._get(key, f"bytes={start}-{stop - 1}")

    async def _get(self, key: str, byte_range: str | None) -> bytes | None:
        name = self.object_key(key)
        try:
            if byte_range is None:
                answer = await self._client.get_object(Bucket=self.location.bucket, Key=name)
            else:
                answer = await self._client.get_object(
                    Bucket=self.location.bucket, Key=name, Range=byte_range
                )
            async with answer["Body"] as body:
                return await body.read()
        except ClientError as err:
            if _code(err) in _MISSING:
                return None
            raise self._unavailable("read", name, err) from err
        except BotoCoreError as err:
            raise self._unavailable("read", name, err) from err

    async def delete(self, key: str) -> None:
        """Deleting a blob that is not there is no error (as for files)."""
        name = self.object_key(key)
        try:
            await self._client.delete_object(Bucket=self.location.bucket, Key=name)
        except (BotoCoreError, ClientError) as err:
            raise self._unavailable("delete", name, err) from err

    async def keys_below(self, folder: str, name: str, limit: int) -> list[str]:
        """One ListObjectsV2 page: S3 lists keys in order, so it stops at `name`."""
        prefix = self.object_key(folder) + "/"
        try:
            answer = await self._client.list_objects_v2(
                Bucket=self.location.bucket, Prefix=prefix, MaxKeys=min(limit, 1000)
            )
        except (BotoCoreError, ClientError) as err:
            raise self._unavailable("list", prefix, err) from err
        found: list[str] = []
        for item in answer.get("Contents", []):
            rest = item["Key"][len(prefix) :]
            if rest >= name:
                break
            if "/" not in rest:  # not in a folder below
                found.append(f"{folder}/{rest}")
        return found

    def _unavailable(self, doing: str, name: str, err: Exception) -> BlobStoreUnavailable:
        return BlobStoreUnavailable(
            f"the blob store could not {doing} {name}: {err}", retry_after=5
        )
