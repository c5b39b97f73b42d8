"""The logger's side of the adapter link: device keys and segment ingest.

An adapter authenticates every call with its device's key (printed once by
`camloft admin device add`) as `Authorization: CamloftDevice <key>`
(`camloft.webapi.device_keys`). Uploads
are idempotent: the same segment twice is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from camloft.bus import Bus, Subscription, task_topic
from camloft.config import Settings
from camloft.errors import BadRequest, Unauthorized
from camloft.events import MAX_MAGNITUDE, EventRecord, EventType
from camloft.ids import DeviceRef
from camloft.logger.cameras import CameraLinks
from camloft.logger.shapes import alert_json
from camloft.media.segment import looks_like_mpegts
from camloft.store.accounts import AccountStore, Device
from camloft.store.blobs import BlobStore
from camloft.store.periodic import run_every
from camloft.store.recordings import RecordingStore, StoredSegment, segment_key
from camloft.webapi.device_keys import UPLOAD_BODY, DeviceKeys, device_with_key, read_body

log = logging.getLogger("camloft.logger.link")

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


@router.put(
    "/adapter/v1/events/{uidd}",
    summary="Report an event's state (adapters only); a deleted event stays deleted",
)
async def put_event(request: Request, device: AuthenticatedDevice, body: EventBody) -> JSONResponse:
    # Imported here: alerts imports this module.

    record = EventRecord(**body.model_dump()).check()
    outcome = await ingest_of(request).recordings.put_event(device, record)
    created = outcome == "created"
    if created:  # realtime viewers hear of new events only, as the reference says
        await links_of(request).event_created(device, record.id, alert_json(device, record))
    # "deleted": a viewer deleted it; 200 all the same, so the adapter stops sending it.
    return JSONResponse({"result": outcome}, status_code=201 if created else 200)


MAX_IMAGE_BYTES = 4 * 1024 * 1024
IMAGE_KINDS = ("thumb", "still", "alert")


def image_folder(device: DeviceRef, kind: str) -> str:
    return f"images/{device.uid}/{device.device_id}/{kind}"


def image_key(device: DeviceRef, kind: str, name: int) -> str:
    """Thumbs and stills by their second (as /getthumb asks), event thumbs by event id."""
    return f"{image_folder(device, kind)}/{name}.jpg"


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
    ingest = ingest_of(request)
    if kind == "alert" and await ingest.recordings.event_deleted(device, seconds):
        return JSONResponse({"result": "deleted"})  # its event was deleted: keep nothing
    await ingest.blobs.put(image_key(device, kind, seconds), data)
    await links_of(request).image_stored(device, kind, seconds)
    return JSONResponse({"result": "stored"}, status_code=201)


UNAUTHORIZED_CLOSE = 4401
MOVED_CLOSE = 4410
"""Close code of a link whose device is placed on another logger: ask the authenticator."""


def logger_elsewhere(settings: Settings, device: Device) -> str | None:
    """The logger `device` is placed on, when it is another than this one."""
    if device.logger_url in (None, settings.base_url):
        return None
    return device.logger_url


async def placed_elsewhere(request: Request | WebSocket, device: DeviceRef) -> str | None:
    """The logger `device` is placed on, when a fleet placed it on another than this one."""
    settings: Settings = request.app.state.settings
    if not settings.fleet:
        return None
    accounts: AccountStore = request.app.state.accounts
    found = await accounts.device(device)
    return None if found is None else logger_elsewhere(settings, found)


async def evict_moved_forever(app: Any) -> None:
    """Close the links of devices moved to another logger, so their adapters go there."""
    settings: Settings = app.state.settings
    links: CameraLinks = app.state.camera_links
    accounts: AccountStore = app.state.accounts

    async def evict_moved() -> None:
        linked = links.connected()
        for device in await accounts.devices(refs=linked) if linked else []:
            if (elsewhere := logger_elsewhere(settings, device)) is not None:
                log.info("%s moved to %s: closing its link", device.ref, elsewhere)
                # (it may be closing by itself already)
                with contextlib.suppress(OSError, RuntimeError, WebSocketDisconnect):
                    await links.disconnect(device.ref, MOVED_CLOSE, "moved")

    await run_every(settings.heartbeat_seconds, evict_moved, what="checking for moved devices")


async def _forward_tasks(websocket: WebSocket, tasks: Subscription) -> None:
    try:
        async for delivery in tasks:
            await websocket.send_json(dict(delivery.message))
    except (OSError, RuntimeError, WebSocketDisconnect):
        pass  # the link is closing: the receive loop ends it


@router.websocket("/adapter/v1/link/{uidd}")
async def link(websocket: WebSocket, uidd: str) -> None:
    """The adapter's link: tasks go down as `{"type": "task", "action": ...}`, status
    comes up as `{"type": "status", "status": ..., "queue_mb": ..., ...}`. A device a
    fleet placed on another logger is refused with close code 4410."""
    keys: DeviceKeys = websocket.app.state.ingest.keys
    try:
        device = await device_with_key(keys, uidd, websocket.headers.get("authorization"))
    except (BadRequest, Unauthorized) as err:
        await websocket.close(code=UNAUTHORIZED_CLOSE, reason=err.message[:120])
        return
    await websocket.accept()
    if (elsewhere := await placed_elsewhere(websocket, device)) is not None:
        # Accepted first: a close before accepting reaches the adapter as a bare HTTP 403.
        await websocket.close(code=MOVED_CLOSE, reason=f"moved to {elsewhere}"[:120])
        return
    links = links_of(websocket)
    bus: Bus = websocket.app.state.bus
    async with bus.subscribe([task_topic(device)]) as tasks:
        forwarder = asyncio.create_task(_forward_tasks(websocket, tasks))
        await links.attach(device, websocket)
        try:
            while True:
                message = await websocket.receive_json()
                if isinstance(message, dict) and message.get("type") == "status":
                    await links.report(device, message)
        except (WebSocketDisconnect, ValueError, KeyError, RuntimeError):
            # Gone, not speaking JSON text (KeyError: a binary frame), or closed by
            # this side (RuntimeError: evicted): drop the link.
            pass
        finally:
            forwarder.cancel()
            await links.detach(device, websocket)
