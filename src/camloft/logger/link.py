"""The logger's side of the adapter link: device keys and segment ingest.

An adapter authenticates every call with its device's key (printed once by
`camloft admin device add`) as `Authorization: CamloftDevice <key>`
(`camloft.webapi.device_keys`). Uploads
are idempotent: the same segment twice is stored once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from camloft.errors import BadRequest, Unauthorized
from camloft.events import MAX_MAGNITUDE, EventRecord, EventType
from camloft.ids import DeviceRef
from camloft.logger.cameras import CameraLinks
from camloft.logger.shapes import alert_json
from camloft.media.segment import looks_like_mpegts
from camloft.store.blobs import BlobStore
from camloft.store.recordings import RecordingStore, StoredSegment, segment_key
from camloft.webapi.device_keys import UPLOAD_BODY, DeviceKeys, device_with_key, read_body

MAX_SEGMENT_BYTES = 64 * 1024 * 1024
MAX_SEGMENT_MS = 60_000

router = APIRouter(tags=["adapter link"])


class Ingest:
    def __init__(self, keys: DeviceKeys, recordings: RecordingStore, blobs: BlobStore) -> None:
        self.keys = keys
        self.recordings = recordings
        self.blobs = blobs

    async def store_segment(
        self, device: DeviceRef, start_ms: int, duration_ms: int, data: bytes
    ) -> bool:
        """Store and index one segment; False when it was stored before."""
        if not looks_like_mpegts(data):
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


async def authenticated_device(
    request: Request,
    uidd: str,
    authorization: Annotated[str | None, Header()] = None,
) -> DeviceRef:
    return await device_with_key(ingest_of(request).keys, uidd, authorization)


AuthenticatedDevice = Annotated[DeviceRef, Depends(authenticated_device)]


@router.put(
    "/adapter/v1/segments/{uidd}/{start_ms}",
    summary="Upload one recorded MPEG-TS segment (adapters only)",
    openapi_extra=UPLOAD_BODY,
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
        device, start_ms, duration_ms, await read_body(request, MAX_SEGMENT_BYTES)
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
    openapi_extra=UPLOAD_BODY,
)
async def put_image(
    request: Request, device: AuthenticatedDevice, kind: str, at_ms: int
) -> JSONResponse:
    if kind not in IMAGE_KINDS:
        raise BadRequest(f"image kind is one of {', '.join(IMAGE_KINDS)}")
    if not 0 < at_ms < 2**53:
        raise BadRequest("at_ms must be a positive time in milliseconds")
    data = await read_body(request, MAX_IMAGE_BYTES)
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
        device = await device_with_key(keys, uidd, websocket.headers.get("authorization"))
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
