"""The S3 blob store against a real S3 API server on loopback (moto's server mode).

No mock of aiobotocore: every call goes over HTTP to `moto_server`, as it
would to AWS S3 or MinIO.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from camloft.errors import BadRequest, BlobStoreUnavailable, ConfigError
from camloft.store.blobs import FileBlobStore, open_blob_store
from camloft.store.s3 import S3BlobStore, S3Location
from tests.s3 import AWS_ENV, REGION, MotoServer

pytestmark = pytest.mark.anyio
KEY = "video/7/1/1700000000000.ts"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials the standard way, and nothing of the machine's own AWS set-up."""
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    for name, value in AWS_ENV.items():
        monkeypatch.setenv(name, value)


@pytest.fixture
async def store(s3_server: MotoServer, aws_env: None, tmp_path: Path) -> AsyncIterator[S3BlobStore]:
    blobs = await open_blob_store(s3_server.blob_url(s3_server.new_bucket(), "cams/a"), tmp_path)
    assert isinstance(blobs, S3BlobStore)
    yield blobs
    await blobs.aclose()


async def test_put_get_delete(store: S3BlobStore, s3_server: MotoServer) -> None:
    data = bytes(range(256)) * 4
    await store.put(KEY, data)
    assert await store.get(KEY) == data
    assert store.path(KEY) is None
    # The object lies under the prefix, with the type a browser or CDN would want.
    keys = s3_server.keys(store.location.bucket)
    assert keys == {f"cams/a/{KEY}": len(data)}
    head = s3_server.client().head_object(Bucket=store.location.bucket, Key=f"cams/a/{KEY}")
    assert head["ContentType"] == "video/mp2t"
    # A put over an existing key replaces it whole.
    await store.put(KEY, b"new")
    assert await store.get(KEY) == b"new"
    await store.delete(KEY)
    assert await store.get(KEY) is None
    assert s3_server.keys(store.location.bucket) == {}


async def test_missing_keys_are_none_and_deleting_them_is_no_error(store: S3BlobStore) -> None:
    assert await store.get("video/1/1/1.ts") is None
    assert await store.read("video/1/1/1.ts", 0, 10) is None
    await store.delete("video/1/1/1.ts")


async def test_sizes_and_byte_ranges(store: S3BlobStore) -> None:
    """Large blobs round-trip whole; a range is one ranged GetObject, cut at the end."""
    big = os.urandom(9 * 1024 * 1024)  # past botocore's multipart threshold: still one put
    await store.put(KEY, big)
    assert await store.get(KEY) == big
    assert await store.read(KEY, 188, 1128) == big[188:1128]
    assert await store.read(KEY, len(big) - 10, len(big) + 100) == big[-10:]
    empty = "images/7/1/thumb/1.jpg"
    await store.put(empty, b"")
    assert await store.get(empty) == b""


async def test_keys_below_a_name_on_files_and_on_s3(store: S3BlobStore, tmp_path: Path) -> None:
    """The same answers from both stores: in order, below the name, not from folders below,
    at most `limit`; nothing for a folder that does not exist."""
    folder = "images/7/1/thumb"
    for blobs in (store, FileBlobStore(tmp_path / "files")):
        for second in (1_800_000_120, 1_800_000_000, 1_800_000_060, 1_800_000_180):
            await blobs.put(f"{folder}/{second}.jpg", b"\xff\xd8")
        await blobs.put(f"{folder}/deeper/1.jpg", b"\xff\xd8")
        await blobs.put("images/7/1/thumbs-else/1.jpg", b"\xff\xd8")
        assert await blobs.keys_below(folder, "1800000120", 100) == [
            f"{folder}/1800000000.jpg", f"{folder}/1800000060.jpg"]
        assert await blobs.keys_below(folder, "9", 1) == [f"{folder}/1800000000.jpg"]
        assert await blobs.keys_below("images/9/9/thumb", "9", 100) == []


async def test_keys_are_checked(store: S3BlobStore) -> None:
    for bad in ("../x", "video/../../x", "/abs", "a b"):
        with pytest.raises(BadRequest):
            await store.put(bad, b"x")
        with pytest.raises(BadRequest):
            store.path(bad)


async def test_an_unreachable_store_is_a_config_error_at_start(
    s3_server: MotoServer, aws_env: None
) -> None:
    with pytest.raises(ConfigError, match="no-such-bucket"):
        await S3BlobStore.open(S3Location.parse(s3_server.blob_url("no-such-bucket")))


async def test_a_store_that_goes_away_is_unavailable(s3_server: MotoServer, aws_env: None) -> None:
    """An error of S3 becomes ours (503 to a viewer), never a botocore one."""
    bucket = s3_server.new_bucket()
    store = await S3BlobStore.open(S3Location.parse(s3_server.blob_url(bucket)))
    try:
        client = s3_server.client()
        client.delete_bucket(Bucket=bucket)
        with pytest.raises(BlobStoreUnavailable) as raised:
            await store.put(KEY, b"x")
        assert raised.value.status_code == 503
    finally:
        await store.aclose()


async def test_files_stay_the_default(tmp_path: Path) -> None:
    blobs = await open_blob_store(None, tmp_path)
    assert isinstance(blobs, FileBlobStore)
    await blobs.put(KEY, b"0123456789")
    assert await blobs.read(KEY, 2, 5) == b"234"
    assert await blobs.read("video/1/1/1.ts", 0, 5) is None
    await blobs.aclose()


def test_blob_urls() -> None:
    plain = S3Location.parse("s3://video")
    assert plain == S3Location("video")
    full = S3Location.parse(
        f"s3://video/camloft/eu/?endpoint_url=http://127.0.0.1:9000&region={REGION}"
    )
    assert full == S3Location("video", "camloft/eu", "http://127.0.0.1:9000", REGION, "path")
    assert S3Location.parse("s3://v?addressing_style=virtual").addressing_style == "virtual"
    for bad in (
        "http://video",
        "s3://",
        "s3://key:secret@video",
        "s3://video?endpoint=http://x",
        "s3://video?addressing_style=sideways",
    ):
        with pytest.raises(ConfigError):
            S3Location.parse(bad)
