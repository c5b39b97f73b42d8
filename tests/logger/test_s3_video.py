"""Video and pictures kept in S3: `camloft serve` with `blob_url` on moto's S3 server.

The same path a camera's video takes on files (tests/logger/test_video.py),
end to end over real sockets: segments, an event and its pictures go up
through the adapter link, into the bucket and nowhere under the data dir;
ffprobe plays the event's playlist, a segment answers a Range request by a
ranged read, the MP4 export fetches its segments from the bucket, the
pictures come back, and deleting the event deletes its objects.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from PIL import Image

from camloft.media.segment import Segment
from tests.conftest import Deployment, drop_database, start_deployment
from tests.logger.test_alerts import camera_with_owner
from tests.logger.test_video import (
    T0,
    codecs,
    cut,
    duration,
    ffprobe,
    report_event,
    upload,
    uris,
    video_url,
)
from tests.media.conftest import encode_camera
from tests.mediafiles import decodes_cleanly
from tests.s3 import AWS_ENV, MotoServer
from tests.support import auth_header

PREFIX = "camloft/test"


@pytest.fixture(scope="module")
def footage() -> list[Segment]:
    """8 s from T0 in four 2 s segments, then 4 s more after a camera restart at T0 + 30 s."""
    return cut(encode_camera(8.0), T0) + cut(encode_camera(4.0), T0 + 30_000)


@pytest.fixture(scope="module")
def bucket(s3_server: MotoServer) -> str:
    return s3_server.new_bucket()


@pytest.fixture(scope="module")
def s3_deployment(
    backend: str, s3_server: MotoServer, bucket: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    """A server whose blobs go to the bucket; it finds its credentials as AWS_* variables."""
    with pytest.MonkeyPatch.context() as patch:
        for name in [name for name in os.environ if name.startswith("AWS_")]:
            patch.delenv(name)
        for name, value in AWS_ENV.items():
            patch.setenv(name, value)
        deployed, db_name = start_deployment(
            backend,
            tmp_path_factory.mktemp(f"camloft-s3-{backend}"),
            blob_url=s3_server.blob_url(bucket, PREFIX),
        )
    yield deployed
    deployed.server.stop()
    drop_database(db_name)


def jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 144), (10, 200, 30)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_video_and_pictures_live_in_s3(
    s3_deployment: Deployment,
    s3_server: MotoServer,
    bucket: str,
    footage: list[Segment],
    tmp_path: Path,
) -> None:
    deployment = s3_deployment
    uidd, key, token = camera_with_owner(deployment)
    owner, device = uidd.split(".")
    upload(deployment, uidd, key, footage)
    report_event(deployment, uidd, key, T0, T0 + 34_000)
    for kind in ("alert", "thumb"):
        httpx.put(
            f"{deployment.url}/adapter/v1/images/{uidd}/{kind}/{T0}",
            content=jpeg(),
            headers={"Authorization": f"CamloftDevice {key}"},
        ).raise_for_status()

    # In the bucket, under the prefix, byte for byte; nothing under the data dir.
    stored = s3_server.keys(bucket, f"{PREFIX}/")
    segments = {k: v for k, v in stored.items() if k.startswith(f"{PREFIX}/video/{owner}/")}
    assert sorted(segments.values()) == sorted(len(s.data) for s in footage)
    images = f"{PREFIX}/images/{owner}/{device}"
    assert {f"{images}/alert/{T0 // 1000}.jpg", f"{images}/thumb/{T0 // 1000}.jpg"} <= set(stored)
    on_disk = [p for p in deployment.server.data_dir.rglob("*") if p.suffix in (".ts", ".jpg")]
    assert on_disk == []

    # ffmpeg plays the playlist, fetching each segment from the logger, which reads S3.
    url = video_url(deployment, uidd, token, endt=T0 // 1000 + 34)
    playlist = httpx.get(url)
    assert playlist.status_code == 200, playlist.text
    assert len(uris(playlist.text)) == len(footage)
    probe = ffprobe(url)
    assert codecs(probe) == ["h264", "aac"]
    assert abs(duration(probe) - 12.0) <= 2.0

    # A segment: whole, one byte range (a ranged GetObject), and a range past its end.
    data = footage[0].data
    segment = f"{deployment.url}/seg_{uidd}_{T0}.ts"
    whole = httpx.get(segment, headers=auth_header(token))
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "video/mp2t"
    assert whole.headers["accept-ranges"] == "bytes"
    assert "immutable" in whole.headers["cache-control"]
    part = httpx.get(segment, params={"token": token}, headers={"Range": "bytes=188-1127"})
    assert part.status_code == 206, part.text
    assert part.headers["content-range"] == f"bytes 188-1127/{len(data)}"
    assert part.content == data[188:1128]
    tail = httpx.get(segment, params={"token": token}, headers={"Range": "bytes=-188"})
    assert tail.status_code == 206 and tail.content == data[-188:]
    past = httpx.get(segment, params={"token": token}, headers={"Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"

    # The MP4 export fetches its segments from the bucket: one file, playing straight through.
    mp4 = httpx.get(video_url(deployment, uidd, token, endt=T0 // 1000 + 34, buildmp4=1))
    assert mp4.status_code == 200, mp4.text
    assert mp4.headers["content-type"] == "video/mp4"
    export = tmp_path / "export.mp4"
    export.write_bytes(mp4.content)
    probe = ffprobe(str(export))
    assert codecs(probe) == ["h264", "aac"]
    assert abs(duration(probe) - 12.0) <= 2.0
    decodes_cleanly(export, timeout=60)

    # The pictures come back from the bucket.
    for path in ("getthumb", "alertthumb"):
        picture = httpx.get(f"{deployment.url}/{path}/{uidd}/{T0 // 1000}/{token}")
        assert picture.status_code == 200 and picture.content == jpeg()

    # Deleting the event deletes its segments and its picture from the bucket.
    deleted = httpx.delete(
        f"{deployment.url}/alert/{uidd}/{T0 // 1000}", headers=auth_header(token)
    )
    assert deleted.status_code == 200 and deleted.json()["segments"] == len(footage)
    left = s3_server.keys(bucket, f"{PREFIX}/")
    assert not [k for k in left if k.startswith(f"{PREFIX}/video/{owner}/{device}/")]
    assert f"{images}/alert/{T0 // 1000}.jpg" not in left
    assert f"{images}/thumb/{T0 // 1000}.jpg" in left  # a thumb is not the event's
    gone = httpx.get(segment, headers=auth_header(token))
    assert gone.status_code == 404
    log = deployment.server.log()
    assert "Traceback" not in log and "export skips" not in log
