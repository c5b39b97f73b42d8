"""Segment ingest from adapters: device keys, idempotent uploads, atomic storage."""

from __future__ import annotations

import asyncio
import io
import sqlite3
import time
from pathlib import Path

import asyncpg
import httpx
import pytest
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from tests.conftest import Deployment
from tests.mediafiles import make_ts
from tests.support import auth_header


@pytest.fixture(scope="module")
def segment() -> bytes:
    return make_ts(2.0)


def new_camera(deployment: Deployment) -> tuple[str, str]:
    owner = deployment.new_user()
    response = httpx.post(f"{deployment.url}/admin/devices", headers=auth_header(
        deployment.admin_token), json={"owner": owner["email"], "name": "Cam"})
    result = response.json()["result"]
    return result["uidd"], result["deviceKey"]


def put(deployment: Deployment, uidd: str, start: int, body: bytes, key: str | None,
        duration: int = 2000) -> httpx.Response:
    headers = {"Authorization": f"CamloftDevice {key}"} if key else {}
    return httpx.put(f"{deployment.url}/adapter/v1/segments/{uidd}/{start}",
                     params={"duration_ms": duration}, content=body, headers=headers)


def test_upload_is_stored_once(deployment: Deployment, segment: bytes) -> None:
    uidd, key = new_camera(deployment)
    start = int(time.time() * 1000)
    first = put(deployment, uidd, start, segment, key)
    assert first.status_code == 201 and first.json() == {"result": "stored"}
    again = put(deployment, uidd, start, segment, key)
    assert again.status_code == 200 and again.json() == {"result": "exists"}
    owner, device = uidd.split(".")
    stored = list(Path(deployment.server.data_dir, "video", owner, device).rglob("*.ts"))
    assert len(stored) == 1 and stored[0].read_bytes() == segment
    assert not list(Path(deployment.server.data_dir, "video").rglob("*.tmp"))


def test_keys_are_checked(deployment: Deployment, segment: bytes) -> None:
    uidd, key = new_camera(deployment)
    _, other_key = new_camera(deployment)
    start = int(time.time() * 1000)
    assert put(deployment, uidd, start, segment, None).json()["error"] == "missing_device_key"
    assert put(deployment, uidd, start, segment, "guess").status_code == 401
    assert put(deployment, uidd, start, segment, other_key).status_code == 401
    assert put(deployment, "999999.1", start, segment, key).status_code == 401
    user_token = httpx.get(f"{deployment.url}/login", params={
        "email": "demo@example.com", "password": "demo"}).json()["result"]["authToken"]
    assert httpx.put(f"{deployment.url}/adapter/v1/segments/{uidd}/{start}",
                     params={"duration_ms": 2000}, content=segment,
                     headers=auth_header(user_token)).status_code == 401


@pytest.mark.parametrize(
    ("uidd_ok", "start", "duration", "body", "status"),
    [
        (True, 1_800_000_000_000, 2000, b"not video", 400),
        (True, 1_800_000_000_000, 2000, b"", 400),
        (True, 1_800_000_000_000, 2000, b"\x47" * 187, 400),
        (True, 1_800_000_000_000, 0, None, 400),
        (True, 1_800_000_000_000, 600_000, None, 400),
        (True, 2**60, 2000, None, 400),
        (True, -5, 2000, None, 400),
        (False, 1_800_000_000_000, 2000, None, 400),
    ],
)
def test_bad_uploads_are_4xx(deployment: Deployment, segment: bytes, uidd_ok: bool,
                             start: int, duration: int, body: bytes | None, status: int) -> None:
    uidd, key = new_camera(deployment)
    response = put(deployment, uidd if uidd_ok else "1.x", start,
                   segment if body is None else body, key, duration)
    assert response.status_code == status, response.text
    assert "error" in response.json()


def put_event(deployment: Deployment, uidd: str, key: str, **fields: object) -> httpx.Response:
    body = {"id": 1_800_000_000, "startt": 1_800_000_000_000, "endt": 1_800_000_004_000,
            "end": 1_800_000_009_000, "type": "motion", "smx": 5, "aud": None, "rom": True,
            "recording": True, "tz": 1} | fields
    return httpx.put(f"{deployment.url}/adapter/v1/events/{uidd}", json=body,
                     headers={"Authorization": f"CamloftDevice {key}"})


def events_on_disk(deployment: Deployment, uidd: str) -> list[tuple[object, ...]]:
    """The events table as the logger stored it (read-only, by the test)."""
    owner, device = map(int, uidd.split("."))
    if deployment.server.env.get("CAMLOFT_DATABASE_URL", "").startswith("postgresql"):

        async def fetch() -> list[tuple[object, ...]]:
            url = deployment.server.env["CAMLOFT_DATABASE_URL"].replace("+asyncpg", "")
            connection = await asyncpg.connect(url)
            try:
                rows = await connection.fetch(
                    "SELECT id, endt, end_ms, smx, recording FROM events "
                    "WHERE owner_uid = $1 AND device_id = $2 ORDER BY id", owner, device)
                return [tuple(r) for r in rows]
            finally:
                await connection.close()

        return asyncio.run(fetch())
    with sqlite3.connect(Path(deployment.server.data_dir, "camloft.db")) as db:
        return db.execute(
            "SELECT id, endt, end_ms, smx, recording FROM events WHERE owner_uid = ? "
            "AND device_id = ? ORDER BY id", (owner, device)).fetchall()


def test_event_updates_move_forward_only(deployment: Deployment) -> None:
    uidd, key = new_camera(deployment)
    assert put_event(deployment, uidd, key).status_code == 201
    assert put_event(deployment, uidd, key, endt=1_800_000_010_000, smx=9).status_code == 200
    final = put_event(deployment, uidd, key, endt=1_800_000_030_000, end=1_800_000_015_000,
                      smx=9, recording=False)
    assert final.status_code == 200
    # A retried, older copy arrives late: it must not reopen the finished event.
    put_event(deployment, uidd, key, endt=1_800_000_010_000)
    rows = events_on_disk(deployment, uidd)
    assert [tuple(row) for row in rows] == [
        (1_800_000_000, 1_800_000_030_000, 1_800_000_015_000, 9, False)]


@pytest.mark.parametrize(
    "fields",
    [{"id": 5}, {"type": "earthquake"}, {"smx": 11}, {"end": 1}, {"tz": 30},
     {"recording": False, "end": 1_800_000_009_000, "endt": 1_800_000_004_000},
     {"startt": "soon"}],
)
def test_bad_events_are_400(deployment: Deployment, fields: dict[str, object]) -> None:
    uidd, key = new_camera(deployment)
    response = put_event(deployment, uidd, key, **fields)
    assert response.status_code == 400, response.text


def jpeg_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (256, 144), (200, 100, 50)).save(buffer, "JPEG")
    return buffer.getvalue()


def test_images_are_stored_by_kind_and_second(deployment: Deployment) -> None:
    uidd, key = new_camera(deployment)
    headers = {"Authorization": f"CamloftDevice {key}"}
    image = jpeg_bytes()
    for kind in ("thumb", "still", "alert"):
        response = httpx.put(f"{deployment.url}/adapter/v1/images/{uidd}/{kind}/1800000000123",
                             content=image, headers=headers)
        assert response.status_code == 201, response.text
        owner, device = uidd.split(".")
        path = Path(deployment.server.data_dir, "images", owner, device, kind, "1800000000.jpg")
        assert path.read_bytes() == image
    bad_kind = httpx.put(f"{deployment.url}/adapter/v1/images/{uidd}/selfie/1800000000123",
                         content=image, headers=headers)
    assert bad_kind.status_code == 400
    not_jpeg = httpx.put(f"{deployment.url}/adapter/v1/images/{uidd}/thumb/1800000000123",
                         content=b"GIF89a", headers=headers)
    assert not_jpeg.status_code == 400 and not_jpeg.json()["error"] == "not_jpeg"


def test_a_rekeyed_device_uploads_with_its_new_key_at_once(
    deployment: Deployment, segment: bytes
) -> None:
    uidd, key = new_camera(deployment)
    assert put(deployment, uidd, 1_800_000_000_000, segment, key).status_code == 201
    rekeyed = httpx.post(f"{deployment.url}/admin/devices/{uidd}/rekey",
                         headers=auth_header(deployment.admin_token))
    new_key = rekeyed.json()["result"]["deviceKey"]
    assert new_key != key
    assert put(deployment, uidd, 1_800_000_002_000, segment, new_key).status_code == 201


def test_a_binary_frame_drops_the_link_quietly(deployment: Deployment) -> None:
    uidd, key = new_camera(deployment)
    url = deployment.url.replace("http://", "ws://") + f"/adapter/v1/link/{uidd}"
    with connect(url, additional_headers={"Authorization": f"CamloftDevice {key}"}) as link:
        link.send(b"\x00\x01")
        with pytest.raises(ConnectionClosed):
            link.recv(timeout=5)
    assert "Traceback" not in deployment.server.log()
