"""The live origin's HTTP API: the reference's "Wowza" (1.4.1), and the adapters' pushes.

Viewers::

    GET /manything/<streamname>/playlist.m3u8?userToken=<token>   (also index.m3u8)
    GET /manything/<streamname>/media_<n>.ts?userToken=<token>

The token (`userToken=`, `token=` or `Authorization: ManythingToken`) and the
viewer's read right on the device are checked on the playlist and on every
segment. An unknown stream name is a 404 (`no_stream`). A known stream that
is not streaming yet: the playlist request waits up to `live_wait_seconds`
(5) for its first segment, then answers `503 not_streaming` with
`Retry-After: 1`, which players retry (hls.js retries 5xx answers, never a
404). The playlist is a sliding window (`camloft.media.playlist.live_playlist`)
whose segment URIs are relative and carry the token; it promises blocking
reloads (`_HLS_msn=<n>`: held until segment n exists, up to three target
durations; more than two past the newest is a 400). A segment that slid out
of the origin's memory is a 404 (`no_segment`); the next one, asked for just
before it exists, is waited for.

Adapters (device key, `camloft.webapi.device_keys`)::

    PUT    /live/v1/streams/<uidd>/<session>/<sequence>?start_ms=&duration_ms=&independent=&last=
    DELETE /live/v1/streams/<uidd>/<session>

Server admins: `GET /admin/live` lists the streams held, with their bytes.

Rights are looked up in the account store and remembered for
`RIGHTS_CACHE_SECONDS` (10) per viewer and device, stream names for a
minute: a live segment a second per viewer must not cost a database query.
A revoked grant therefore stops a live view within 10 s; the token's own
expiry is checked on every request.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Annotated, Any, Generic, TypeVar
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from camloft.access import Right
from camloft.errors import BadRequest, Forbidden, NotFound, Unavailable
from camloft.ids import DeviceRef
from camloft.live.streams import LiveSegmentEntry, LiveStream, LiveStreams, PushedSegment
from camloft.media.playlist import MIME_TYPE
from camloft.media.segment import looks_like_mpegts
from camloft.store.accounts import AccountStore
from camloft.tokens import TokenClaims
from camloft.webapi.deps import AppSettings, CurrentClaims, find_token
from camloft.webapi.device_keys import UPLOAD_BODY, DeviceKeys, device_with_key, read_body

router = APIRouter(tags=["live origin"])

SEGMENT_TYPE = "video/mp2t"
MAX_LIVE_SEGMENT_BYTES = 16 * 1024 * 1024
RIGHTS_CACHE_SECONDS = 10.0
NAMES_CACHE_SECONDS = 60.0
MAX_CACHED = 100_000
SEGMENT_NAME = re.compile(r"media_([0-9]{1,12})\.ts")
STREAM_NAME = re.compile(r"[0-9]{1,10}\.[0-9]{1,10}_[A-Za-z0-9]{1,40}-nr")


K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TimedCache(Generic[K, V]):
    """Answers remembered for `seconds`, each looked up once however many ask at once.

    When a stale key is asked for by many requests together (200 viewers of one
    stream whose rights expire in the same second), one lookup runs and the rest
    await it, instead of a query each.
    """

    def __init__(self, seconds: float, *, max_entries: int = MAX_CACHED) -> None:
        self._seconds = seconds
        self._max_entries = max_entries
        self._values: dict[K, tuple[V, float]] = {}
        self._pending: dict[K, asyncio.Future[V]] = {}  # lookups under way

    async def get(self, key: K, lookup: Callable[[], Awaitable[V]]) -> V:
        cached = self._values.get(key)
        if cached is not None and time.monotonic() - cached[1] <= self._seconds:
            return cached[0]
        task = self._pending.get(key)
        if task is None:
            # A task of its own: a viewer who goes away does not cancel the others' answer.
            task = asyncio.ensure_future(self._load(key, lookup))
            self._pending[key] = task
        return await asyncio.shield(task)

    async def _load(self, key: K, lookup: Callable[[], Awaitable[V]]) -> V:
        try:
            value = await lookup()
            if len(self._values) >= self._max_entries:
                self._values.clear()  # rare: a bound, not a policy
            self._values[key] = (value, time.monotonic())
            return value
        finally:
            del self._pending[key]


class Viewers:
    """Which device a stream name is, and what a viewer may do with it, briefly remembered."""

    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts
        self._names: TimedCache[str, DeviceRef | None] = TimedCache(NAMES_CACHE_SECONDS)
        self._rights: TimedCache[tuple[int, DeviceRef], Right | None] = TimedCache(
            RIGHTS_CACHE_SECONDS
        )

    async def device_of(self, streamname: str) -> DeviceRef:
        if not STREAM_NAME.fullmatch(streamname):
            raise NotFound(f"no live stream {streamname[:80]!r}", code="no_stream")

        async def lookup() -> DeviceRef | None:
            found = await self._accounts.device_by_streamname(streamname)
            return None if found is None else found.ref

        device = await self._names.get(streamname, lookup)
        if device is None:
            raise NotFound(f"no live stream {streamname!r}", code="no_stream")
        return device

    async def require_read(self, claims: TokenClaims, device: DeviceRef) -> None:
        async def lookup() -> Right | None:
            return (await self._accounts.access_map(claims.uid)).right_on(device)

        if await self._rights.get((claims.uid, device), lookup) is None:
            raise Forbidden(f"no right to watch device {device}", code="forbidden")


def streams_of(request: Request) -> LiveStreams:
    streams: LiveStreams = request.app.state.live_streams
    return streams


def viewers_of(request: Request) -> Viewers:
    viewers: Viewers = request.app.state.live_viewers
    return viewers


Streams = Annotated[LiveStreams, Depends(streams_of)]
Token = Annotated[str, Depends(find_token)]


async def watched_device(request: Request, claims: TokenClaims, streamname: str) -> DeviceRef:
    viewers = viewers_of(request)
    device = await viewers.device_of(streamname)
    await viewers.require_read(claims, device)
    return device


def _segment_uri(token: str) -> Callable[[LiveSegmentEntry], str]:
    query = urlencode({"userToken": token})
    return lambda segment: f"media_{segment.media_sequence}.ts?{query}"


async def _stream_to_show(streams: LiveStreams, device: DeviceRef, wait: float) -> LiveStream:
    stream = await streams.wait_for_stream(device, wait)
    if stream is not None and stream.ended:
        # Ended: a new session may be on its way (a livecommand just sent); else the end.
        await stream.wait_for(lambda: not stream.ended, wait)
    if stream is None:
        raise Unavailable(
            f"camera {device} is not streaming: send livecommand, then ask again",
            retry_after=1,
            code="not_streaming",
        )
    return stream


@router.get("/manything/{streamname}/playlist.m3u8", summary="Live HLS playlist (1.4.1)")
@router.get("/manything/{streamname}/index.m3u8", summary="Live HLS playlist (another name)")
async def live_playlist(
    request: Request,
    streams: Streams,
    claims: CurrentClaims,
    token: Token,
    settings: AppSettings,
    streamname: Annotated[str, Path(max_length=100)],
    msn: Annotated[int | None, Query(alias="_HLS_msn", ge=0, lt=2**53)] = None,
    part: Annotated[int | None, Query(alias="_HLS_part", ge=0, lt=2**31)] = None,
) -> Response:
    device = await watched_device(request, claims, streamname)
    stream = await _stream_to_show(streams, device, settings.live_wait_seconds)
    if msn is not None:
        newest = stream.newest_sequence
        if newest is not None and msn > newest + 2:
            raise BadRequest(f"_HLS_msn={msn} is more than two past the newest ({newest})")
        await stream.wait_for(
            lambda: (stream.newest_sequence or -1) >= msn, 3.0 * stream.target_seconds
        )
    return Response(
        stream.playlist(_segment_uri(token)),
        media_type=MIME_TYPE,
        headers={"Cache-Control": "no-cache"},
    )


@router.get(
    "/manything/{streamname}/{segment_name}",
    summary="One segment of a live stream",
    responses={
        200: {"content": {SEGMENT_TYPE: {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def live_segment(
    request: Request,
    streams: Streams,
    claims: CurrentClaims,
    streamname: Annotated[str, Path(max_length=100)],
    segment_name: Annotated[str, Path(max_length=40)],
) -> Response:
    matched = SEGMENT_NAME.fullmatch(segment_name)
    if matched is None:
        raise NotFound(f"no {segment_name!r} in a live stream", code="no_segment")
    number = int(matched.group(1))
    device = await watched_device(request, claims, streamname)
    stream = streams.get(device)
    if stream is None:
        raise NotFound(f"camera {device} is not streaming", code="no_segment")
    newest = stream.newest_sequence
    if newest is not None and number == newest + 1:
        await stream.wait_for(
            lambda: stream.segment(number) is not None, 2.0 * stream.target_seconds
        )
    segment = stream.segment(number)
    if segment is None:
        raise NotFound(f"segment {number} of {streamname} is not held", code="no_segment")
    return Response(
        segment.data, media_type=SEGMENT_TYPE, headers={"Cache-Control": "private, max-age=60"}
    )


@router.put(
    "/live/v1/streams/{uidd}/{session}/{sequence}",
    summary="Push one live segment (adapters only)",
    openapi_extra=UPLOAD_BODY,
)
async def put_live_segment(
    request: Request,
    streams: Streams,
    uidd: str,
    session: Annotated[int, Path(ge=0, lt=2**53)],
    sequence: Annotated[int, Path(ge=0, lt=2**31)],
    start_ms: Annotated[int, Query(ge=1, lt=2**53)],
    duration_ms: Annotated[int, Query(ge=1, le=60_000)],
    independent: bool = True,
    last: bool = False,
    authorization: Annotated[str | None, Header()] = None,
) -> JSONResponse:
    device = await device_with_key(device_keys_of(request), uidd, authorization)
    data = await read_body(request, MAX_LIVE_SEGMENT_BYTES)
    if not looks_like_mpegts(data):
        raise BadRequest("the body is not an MPEG-TS segment", code="not_mpegts")
    added = streams.add(
        device, PushedSegment(session, sequence, start_ms, duration_ms, data, independent)
    )
    if last:
        streams.end(device, session)
    return JSONResponse(
        {"result": "stored" if added else "exists"}, status_code=201 if added else 200
    )


@router.delete("/live/v1/streams/{uidd}/{session}", summary="End a live session (adapters only)")
async def end_live_session(
    request: Request,
    streams: Streams,
    uidd: str,
    session: Annotated[int, Path(ge=0, lt=2**53)],
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, str]:
    device = await device_with_key(device_keys_of(request), uidd, authorization)
    streams.end(device, session)
    return {"result": "ended"}


@router.get(
    "/admin/live",
    tags=["sharing and administration"],
    summary="Live streams held by this origin (server admins)",
)
async def live_streams(request: Request, streams: Streams, claims: CurrentClaims) -> dict[str, Any]:
    accounts: AccountStore = request.app.state.accounts
    user = await accounts.user(claims.uid)
    if user is None or not user.is_admin:
        raise Forbidden("this needs a server administrator")
    return {
        "result": {
            "streams": [
                {
                    "uidd": str(stream.device),
                    "session": stream.session,
                    "segments": len(stream.segments),
                    "bytes": stream.bytes_held,
                    "newest": stream.newest_sequence,
                    "ended": stream.ended,
                }
                for stream in streams.all()
            ]
        }
    }


def device_keys_of(request: Request) -> DeviceKeys:
    keys: DeviceKeys = request.app.state.device_keys
    return keys
