"""The logger's side of the adapter link: device keys and segment ingest.

An adapter authenticates every call with its device's key (printed once by
`camloft admin device add`) as `Authorization: CamloftDevice <key>`. Uploads
are idempotent: the same segment twice is stored once.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from camloft.errors import BadRequest, Unauthorized
from camloft.events import MAX_MAGNITUDE, EventRecord, EventType
from camloft.ids import DeviceRef
from camloft.logger.cameras import CameraLinks
from camloft.logger.shapes import alert_json
from camloft.store.accounts import AccountStore
from camloft.store.blobs import BlobStore
from camloft.store.recordings import RecordingStore, StoredSegment, segment_key
from camloft.tokens import sha256_hex

DEVICE_SCHEME = "camloftdevice"
MAX_SEGMENT_BYTES = 64 * 1024 * 1024
MAX_SEGMENT_MS = 60_000
TS_PACKET = 188
KEY_CACHE_SECONDS = 60.0

router = APIRouter(tags=["adapter link"])


class DeviceKeys:
    """Checks device keys against the account store, remembering answers for a minute."""

    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts
        self._known: dict[DeviceRef, tuple[str, float]] = {}

    async def verify(self, device: DeviceRef, key: str) -> None:
        digest = sha256_hex(key)
        cached = self._known.get(device)
        fresh = cached is not None and time.monotonic() - cached[1] <= KEY_CACHE_SECONDS
        if cached is not None and fresh and hmac.compare_digest(cached[0], digest):
            return
        # Unknown, stale, or a key that differs from the remembered one (a rekeyed
        # device): ask the store before refusing.
        found = await self._accounts.device(device)
        if found is None:
            self._known.pop(device, None)
            raise Unauthorized(f"no device {device}", code="invalid_device_key")
        self._known[device] = (found.key_hash, time.monotonic())
        if not hmac.compare_digest(found.key_hash, digest):
            raise Unauthorized(f"wrong key for device {device}", code="invalid_device_key")


class Ingest:
    def __init__(self, keys: DeviceKeys, recordings: RecordingStore, blobs: BlobStore) -> None:
        self.keys = keys
        self.recordings = recordings
        self.blobs = blobs

    async def store_segment(
        self, device: DeviceRef, start_ms: int, duration_ms: int, data: bytes
    ) -> bool:
        """Store and index one segment; False when it was stored before."""
        if not data or len(data) % TS_PACKET or data[0] != 0x47:
            raise BadRequest("the body is not an MPEG-TS segment", code="not_mpegts")
        if await self.recordings.segment(device, start_ms) is not None:
            return False
        key = segment_key(device, start_ms)
        # Bytes first, index second: an indexed segment is always whole on disk.
        await self.blobs.put(key, data)
        return await self.recordings.add_segment(
            StoredSegment(device, start_ms, duration_ms, len(data), key)
        )


def links_of(connection: Request | WebSocket) -> CameraLinks:
    links: CameraLinks = connection.app.state.camera_links
    return links


def ingest_of(request: Request) -> Ingest:
    ingest: Ingest = request.app.state.ingest
    return ingest


async def _device_with_key(keys: DeviceKeys, uidd: str, authorization: str | None) -> DeviceRef:
    device = DeviceRef.parse(uidd)
    scheme, _, key = (authorization or "").strip().partition(" ")
    if scheme.lower() != DEVICE_SCHEME or not key.strip():
        raise Unauthorized(
            "send the device key as 'Authorization: CamloftDevice <key>'", code="missing_device_key"
        )
    await keys.verify(device, key.strip()[:200])
    return device


async def authenticated_device(
    request: Request,
    uidd: str,
    authorization: Annotated[str | None, Header()] = None,
) -> DeviceRef:
    return await _device_with_key(ingest_of(request).keys, uidd, authorization)


AuthenticatedDevice = Annotated[DeviceRef, Depends(authenticated_device)]


async def _body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body may be at most {limit} bytes", code="too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the body may be at most {limit} bytes", code="too_large")
        chunks.append(chunk)
    return b"".join(chunks)


@router.put(
    "/adapter/v1/segments/{uidd}/{start_ms}",
    summary="Upload one recorded MPEG-TS segment (adapters only)",
    openapi_extra={
        "requestBody": {
            "required": True,
            # Sent as video/mp2t; declared as octet-stream, which every OpenAPI tool can send.
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_segment(
    request: Request,
    device: AuthenticatedDevice,
    start_ms: int,
    duration_ms: Annotated[int, Query(ge=1, le=MAX_SEGMENT_MS)],
) -> JSONResponse:
    if not 0 < start_ms < 2**53:
        raise BadRequest("start_ms must be a positive time in milliseconds")
    stored = await ingest_of(request).store_segment(
        device, start_ms, duration_ms, await _body(request, MAX_SEGMENT_BYTES)
    )
    links_of(request).segment_stored(device, start_ms + duration_ms)
    return JSONResponse(
        {"result": "stored" if stored else "exists"}, status_code=201 if stored else 200
    )


class EventBody(BaseModel):
    """An event's newest state, as the adapter's recorder sees it."""

    id: int = Field(ge=1, lt=2**43)
    startt: int = Field(ge=1, lt=2**53)
    endt: int = Field(ge=1, lt=2**53)
    end: int = Field(ge=1, lt=2**53)
    type: EventType
    smx: int | None = Field(None, ge=0, le=MAX_MAGNITUDE)
    aud: int | None = Field(None, ge=0, le=MAX_MAGNITUDE)
    rom: bool
    recording: bool
    tz: float = Field(0.0, ge=-14, le=14)


@router.put("/adapter/v1/events/{uidd}", summary="Report an event's state (adapters only)")
async def put_event(request: Request, device: AuthenticatedDevice, body: EventBody) -> JSONResponse:
    # Imported here: alerts imports this module.

    record = EventRecord(**body.model_dump()).check()
    created = await ingest_of(request).recordings.put_event(device, record)
    if created:  # realtime viewers hear of new events only, as the reference says
        await links_of(request).event_created(device, record.id, alert_json(device, record))
    return JSONResponse(
        {"result": "created" if created else "updated"}, status_code=201 if created else 200
    )


MAX_IMAGE_BYTES = 4 * 1024 * 1024
IMAGE_KINDS = ("thumb", "still", "alert")


def image_key(device: DeviceRef, kind: str, name: int) -> str:
    """Thumbs and stills by their second (as /getthumb asks), event thumbs by event id."""
    return f"images/{device.uid}/{device.device_id}/{kind}/{name}.jpg"


@router.put(
    "/adapter/v1/images/{uidd}/{kind}/{at_ms}",
    summary="Upload a thumb, a still or an event's thumb (adapters only)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}
            },
        }
    },
)
async def put_image(
    request: Request, device: AuthenticatedDevice, kind: str, at_ms: int
) -> JSONResponse:
    if kind not in IMAGE_KINDS:
        raise BadRequest(f"image kind is one of {', '.join(IMAGE_KINDS)}")
    if not 0 < at_ms < 2**53:
        raise BadRequest("at_ms must be a positive time in milliseconds")
    data = await _body(request, MAX_IMAGE_BYTES)
    if not data.startswith(b"\xff\xd8"):
        raise BadRequest("the body is not a JPEG image of at most 4 MiB", code="not_jpeg")
    seconds = at_ms // 1000
    await ingest_of(request).blobs.put(image_key(device, kind, seconds), data)
    await links_of(request).image_stored(device, kind, seconds)
    return JSONResponse({"result": "stored"}, status_code=201)


@router.websocket("/adapter/v1/link/{uidd}")
async def link(websocket: WebSocket, uidd: str) -> None:
    """The adapter's link: tasks go down as `{"type": "task", "action": ...}`, status
    comes up as `{"type": "status", "status": ..., "queue_mb": ..., ...}`."""
    keys: DeviceKeys = websocket.app.state.ingest.keys
    try:
        device = await _device_with_key(keys, uidd, websocket.headers.get("authorization"))
    except (BadRequest, Unauthorized) as err:
        await websocket.close(code=4401, reason=err.message[:120])
        return
    await websocket.accept()
    links = links_of(websocket)
    await links.attach(device, websocket)
    try:
        while True:
            message = await websocket.receive_json()
            if isinstance(message, dict) and message.get("type") == "status":
                await links.report(device, message)
    except (WebSocketDisconnect, ValueError, KeyError):
        pass  # gone, or not speaking JSON text (KeyError: a binary frame): drop the link
    finally:
        await links.detach(device, websocket)
