"""Recorded video for viewers: an event's HLS playlist, its segments, its MP4 (1.3.3).

`GET /alerturl.m3u8` (and `/alert.m3u8`) with `uid`/`uidd`, and either the
event's `id` or `startt`/`endt` in seconds, answers the HLS playlist of the
segments that overlap the event's recording (from its `startt` to its `endt`
in ms; while it records, to how far it has got). `rom` is accepted and not
needed. `buildmp4=1` answers the same segments as one MP4 download instead,
remuxed while it is sent.

Segment URIs. A playlist's segments lie in its own folder, as bare relative
names that carry the token in the query:

    seg_<uidd>_<start_ms>.ts?token=<token>

The playlist is served at the root, so a player resolves them against the
playlist's URL to `/seg_<uidd>_<start_ms>.ts` on the same logger, behind any
path prefix a proxy adds; a client may also rebuild the name from the last
path component. A segment is immutable once stored: cached for a year.

A blob store without local files (S3) is answered from bytes: a segment's one
byte range by a ranged read (several ranges get the whole), and the MP4's
segments fetched one by one as the remux thread reaches them.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncGenerator, Callable
from datetime import UTC, datetime
from pathlib import Path as FilePath
from typing import Annotated
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from camloft.access import Right
from camloft.errors import BadRequest, BlobStoreUnavailable, NotFound
from camloft.ids import DeviceRef
from camloft.logger.alerts import DeviceParam, Recordings, readable_device
from camloft.logger.link import ingest_of
from camloft.logger.routes import Accounts, one_device
from camloft.media import playlist
from camloft.media.mp4 import ExportPart, stream_fmp4
from camloft.store.blobs import BlobStore
from camloft.store.recordings import RecordingStore, StoredSegment
from camloft.webapi.deps import CurrentClaims, find_token
from camloft.webapi.ranges import RangeNotSatisfiable, single_range

router = APIRouter(tags=["logger"])

SEGMENT_TYPE = "video/mp2t"
SEGMENT_CACHE = "private, max-age=31536000, immutable"
FINISHED_CACHE = "private, max-age=60"
RECORDING_CACHE = "private, no-cache"
MAX_SPAN_MS = 86_400_000  # an event lasts at most a day
MAX_SECONDS = 2**43 // 1000
#: A startt/endt this large is ms (as /alert gives them), not seconds (as the reference asks).
MS_FROM = 10**11
#: How long the MP4 export waits for one segment from a blob store without files.
FETCH_SECONDS = 60.0

Seconds = Annotated[
    int | None, Query(ge=0, lt=2**53, description="seconds (ms from 10^11 on are taken as ms)")
]


def segment_name(device: DeviceRef, start_ms: int) -> str:
    """The file name of a recorded segment, relative to the playlist (the route below)."""
    return f"seg_{device}_{start_ms}.ts"


async def recorded_span(
    recordings: RecordingStore,
    device: DeviceRef,
    event_id: int | None,
    startt: int | None,
    endt: int | None,
) -> tuple[int, int, bool]:
    """(start ms, end ms, still recording) of the video asked for.

    The event decides when its id is given; otherwise the window from `startt`
    to the end of second `endt`, recording while that end is still to come. A
    client that forgot to turn /alert's ms into seconds is understood.
    """
    if event_id is not None:
        event = await recordings.event(device, event_id)
        if event is None:
            raise NotFound(f"no event {event_id} of device {device}", code="no_event")
        return event.startt, event.endt, event.recording
    if startt is None or endt is None:
        raise BadRequest("give the event's id, or startt and endt in seconds", code="missing_time")
    start_ms = startt if startt >= MS_FROM else startt * 1000
    end_ms = endt if endt >= MS_FROM else (endt + 1) * 1000
    if not 0 < end_ms - start_ms <= MAX_SPAN_MS:
        raise BadRequest("endt must be from startt to a day after it, in seconds")
    return start_ms, end_ms, end_ms > time.time() * 1000


def _export_name(name: str, device: DeviceRef, start_ms: int) -> str:
    """`<camera name>-<UTC start>.mp4`, in characters every file system and header takes."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._-")[:60] or str(device)
    started = datetime.fromtimestamp(start_ms // 1000, tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{safe}-{started}.mp4"


class _ClosingStreamingResponse(StreamingResponse):
    """A StreamingResponse that closes its generator however the response ends.

    Starlette cancels the sending when the client disconnects; closing the
    generator here stops the work behind it at once, not when it is collected.
    """

    def __init__(
        self, content: AsyncGenerator[bytes, None], *, media_type: str, headers: dict[str, str]
    ) -> None:
        super().__init__(content, media_type=media_type, headers=headers)
        self._generator = content

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self._generator.aclose()


@router.get(
    "/alerturl.m3u8",
    summary="An event's recorded video: HLS playlist, or MP4 with buildmp4=1 (1.3.3)",
    response_class=Response,
    responses={
        200: {
            "content": {
                playlist.MIME_TYPE: {"schema": {"type": "string"}},
                "video/mp4": {"schema": {"type": "string", "format": "binary"}},
            }
        }
    },
)
@router.get("/alert.m3u8", include_in_schema=False)
async def event_video(
    request: Request,
    claims: CurrentClaims,
    accounts: Accounts,
    recordings: Recordings,
    token: Annotated[str, Depends(find_token)],
    uid: DeviceParam = None,
    uidd: DeviceParam = None,
    startt: Seconds = None,
    endt: Seconds = None,
    rom: Annotated[int | None, Query(ge=0, le=1, description="accepted, not needed")] = None,
    event_id: Annotated[int | None, Query(alias="id", ge=1, lt=MAX_SECONDS)] = None,
    buildmp4: Annotated[int, Query(ge=0, le=1, description="1: one MP4 file")] = 0,
) -> Response:
    device = one_device(uid, uidd)
    (await accounts.access_map(claims.uid)).require(device, Right.READ)
    start_ms, end_ms, recording = await recorded_span(recordings, device, event_id, startt, endt)
    segments = await recordings.segments(device, start_ms, end_ms)
    if not segments:
        raise NotFound(f"no recorded video of device {device} then", code="no_video")
    if buildmp4:
        return await _mp4(request, accounts, device, segments)
    query = urlencode({"token": token})
    text = playlist.recorded_playlist(
        segments, lambda s: f"{segment_name(device, s.start_ms)}?{query}", finished=not recording
    )
    return Response(
        text,
        media_type=playlist.MIME_TYPE,
        headers={"Cache-Control": RECORDING_CACHE if recording else FINISHED_CACHE},
    )


async def _mp4(
    request: Request, accounts: Accounts, device: DeviceRef, segments: list[StoredSegment]
) -> Response:
    blobs = ingest_of(request).blobs
    loop = asyncio.get_running_loop()
    parts = []
    for segment in segments:
        path = blobs.path(segment.blob_key)
        if path is None:  # no file to read: the remux thread fetches the bytes when it comes
            fetch = _fetcher(blobs, segment.blob_key, loop)
            parts.append(ExportPart(FilePath(segment.blob_key), segment.duration_ms, fetch))
        else:
            parts.append(ExportPart(path, segment.duration_ms))
    found = await accounts.device(device)
    filename = _export_name(found.phonename if found else "", device, segments[0].start_ms)
    return _ClosingStreamingResponse(
        stream_fmp4(parts),
        media_type="video/mp4",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": RECORDING_CACHE,
        },
    )


@router.get(
    "/seg_{uidd}_{start_ms}.ts",
    summary="One recorded MPEG-TS segment, as a playlist names it (Range supported)",
    response_class=FileResponse,
    responses={
        200: {"content": {SEGMENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def recorded_segment(
    request: Request,
    claims: CurrentClaims,
    accounts: Accounts,
    recordings: Recordings,
    uidd: str,
    start_ms: Annotated[int, Path(ge=0, lt=2**53)],
) -> Response:
    device = await readable_device(accounts, claims, uidd)
    segment = await recordings.segment(device, start_ms)
    if segment is None:
        raise NotFound(f"no segment {start_ms} of device {device}", code="no_segment")
    blobs = ingest_of(request).blobs
    headers = {"Cache-Control": SEGMENT_CACHE}
    path: FilePath | None = blobs.path(segment.blob_key)
    if path is not None and await anyio.Path(path).is_file():
        return FileResponse(path, media_type=SEGMENT_TYPE, headers=headers)
    data: bytes | None = None
    if path is None:
        headers["Accept-Ranges"] = "bytes"
        try:
            wanted = _wanted_range(request, segment.size)
        except RangeNotSatisfiable:
            return Response(status_code=416, headers={"Content-Range": f"bytes */{segment.size}"})
        if wanted is not None:
            data = await blobs.read(segment.blob_key, *wanted)
            if data is not None:
                end = wanted[0] + len(data) - 1
                headers["Content-Range"] = f"bytes {wanted[0]}-{end}/{segment.size}"
                return Response(data, 206, media_type=SEGMENT_TYPE, headers=headers)
        else:
            data = await blobs.get(segment.blob_key)
    if data is None:
        raise NotFound(f"segment {start_ms} of device {device} is gone", code="no_segment")
    return Response(data, media_type=SEGMENT_TYPE, headers=headers)


def _wanted_range(request: Request, size: int) -> tuple[int, int] | None:
    """The one byte range a request asks for (None: the whole). A segment never changes,
    so an `If-Range` always matches; it is taken as asking for the whole, to be safe."""
    if "if-range" in request.headers:
        return None
    return single_range(request.headers.get("range"), size)


def _fetcher(
    blobs: BlobStore, key: str, loop: asyncio.AbstractEventLoop
) -> Callable[[], bytes | None]:
    """For the remux thread: a blob's bytes, read on the event loop (None: it is gone)."""

    def fetch() -> bytes | None:
        future = asyncio.run_coroutine_threadsafe(blobs.get(key), loop)
        try:
            return future.result(FETCH_SECONDS)
        except BlobStoreUnavailable as err:  # the export skips the segment, saying why
            raise OSError(err.message) from err
        except TimeoutError:
            future.cancel()
            raise

    return fetch
