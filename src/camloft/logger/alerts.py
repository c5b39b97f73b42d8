"""Events and pictures for viewers: /alert, /events, /alertthumb, /getthumb, /getstill.

`/alert` pages newest first with `offset`. So that paging neither repeats nor
skips an event while new ones arrive, the list a client pages through is the
one the logger knew when that client (by its token) asked for `offset=0`:
later pages leave out events heard of after that moment.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from camloft.access import Right
from camloft.errors import BadRequest, NotFound
from camloft.ids import DeviceRef
from camloft.logger.link import image_key, ingest_of
from camloft.logger.routes import Accounts, one_device
from camloft.logger.shapes import alert_json
from camloft.store.recordings import RecordingStore
from camloft.tokens import TokenClaims
from camloft.webapi.deps import AppSettings, CurrentClaims, claims_of, find_token

router = APIRouter(tags=["logger"])

MAX_LIMIT = 100
MAX_OFFSET = 1_000_000  # deeper pages cost a scan; a client that far back should narrow startt
SNAPSHOT_SECONDS = 30 * 60
MAX_SNAPSHOTS = 10_000
IMAGE_CACHE = "private, max-age=86400, immutable"


class PagingSnapshots:
    """When each (token, device) last asked for the first page; bounded, forgetful."""

    def __init__(self) -> None:
        self._taken: OrderedDict[tuple[str, DeviceRef], tuple[int, float]] = OrderedDict()

    def known_by(self, token: str, device: DeviceRef, offset: int) -> int | None:
        key = (hashlib.sha256(token.encode()).hexdigest()[:32], device)
        now = time.monotonic()
        if offset == 0:
            self._taken[key] = (int(time.time() * 1000), now)
            self._taken.move_to_end(key)
            while len(self._taken) > MAX_SNAPSHOTS:
                self._taken.popitem(last=False)
            return None
        taken = self._taken.get(key)
        if taken is None or now - taken[1] > SNAPSHOT_SECONDS:
            return None
        return taken[0]


def optional_number(text: str | None, name: str, highest: int) -> int | None:
    """A whole number from 0 to `highest`; absent or empty is None."""
    if text is None or text == "":
        return None
    if not text.isdigit() or int(text) > highest:
        raise BadRequest(f"{name} must be a whole number from 0 to {highest}")
    return int(text)


def recordings_of(request: Request) -> RecordingStore:
    return ingest_of(request).recordings


def snapshots_of(request: Request) -> PagingSnapshots:
    snapshots: PagingSnapshots = request.app.state.paging_snapshots
    return snapshots


Recordings = Annotated[RecordingStore, Depends(recordings_of)]
DeviceParam = Annotated[str | None, Query(max_length=40, description="uid.deviceid")]


async def readable_device(accounts: Accounts, claims: TokenClaims, name: str) -> DeviceRef:
    device = DeviceRef.parse(name)
    (await accounts.access_map(claims.uid)).require(device, Right.READ)
    return device


@router.get("/alert", summary="Events of a device, newest first (1.3.1)")
async def alerts(
    request: Request,
    claims: CurrentClaims,
    accounts: Accounts,
    recordings: Recordings,
    token: Annotated[str, Depends(find_token)],
    uid: DeviceParam = None,
    uidd: DeviceParam = None,
    startt: Annotated[int, Query(ge=0, lt=2**53, description="earliest start, ms")] = 1,
    # The reference's own first-page example sends `offset=` empty: that means 0.
    offset: Annotated[str | None, Query(max_length=20)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000, description=f"at most {MAX_LIMIT}")] = 20,
    maxage: Annotated[str | None, Query(max_length=20, description="ms back from now")] = None,
) -> dict[str, Any]:
    device = one_device(uid, uidd)
    (await accounts.access_map(claims.uid)).require(device, Right.READ)
    start_at = optional_number(offset, "offset", MAX_OFFSET) or 0
    age = optional_number(maxage, "maxage", 2**53 - 1)
    from_ms = startt
    if age is not None:
        from_ms = max(from_ms, int(time.time() * 1000) - age)
    events = await recordings.events(
        device,
        from_ms=from_ms,
        known_by_ms=snapshots_of(request).known_by(token, device, start_at),
        offset=start_at,
        limit=min(limit, MAX_LIMIT),
    )
    return {"result": [alert_json(device, event) for event in events]}


@router.get("/events", summary="Events of a device in a time window, newest first")
async def events_in_window(
    claims: CurrentClaims,
    accounts: Accounts,
    recordings: Recordings,
    uidd: Annotated[str, Query(max_length=40)],
    startt: Annotated[int, Query(ge=0, lt=2**53)] = 0,
    endt: Annotated[int, Query(ge=0, lt=2**53)] = 2**53 - 1,
    limit: Annotated[int, Query(ge=1, le=1000)] = 1000,
) -> list[dict[str, Any]]:
    device = await readable_device(accounts, claims, uidd)
    found = await recordings.events(device, from_ms=startt, to_ms=endt, limit=limit)
    return [alert_json(device, event) for event in found]


@router.delete("/alert/{uidd}/{alertid}", summary="Delete an event with its video and thumb")
async def delete_alert(
    request: Request,
    claims: CurrentClaims,
    accounts: Accounts,
    recordings: Recordings,
    uidd: str,
    alertid: Annotated[int, Path(ge=0, lt=2**53)],
) -> dict[str, Any]:
    """Needs admin rights on the device (a read-only viewer gets a 403)."""
    device = DeviceRef.parse(uidd)
    (await accounts.access_map(claims.uid)).require(device, Right.ADMIN)
    removed = await recordings.delete_event(device, alertid)
    if removed is None:
        raise NotFound(f"no event {alertid} on device {device}", code="no_event")
    _, segments = removed
    blobs = ingest_of(request).blobs
    for segment in segments:
        await blobs.delete(segment.blob_key)
    await blobs.delete(image_key(device, "alert", alertid))
    return {"result": "deleted", "segments": len(segments)}


@router.get("/cameras/diskuse", summary="Bytes of video stored per device you may see")
async def disk_use(
    claims: CurrentClaims, accounts: Accounts, recordings: Recordings
) -> dict[str, Any]:
    access = await accounts.access_map(claims.uid)
    use = await recordings.disk_use()
    return {
        "result": {
            str(device): size
            for device, size in sorted(use.items())
            if access.right_on(device) is not None
        }
    }


async def _image(request: Request, device: DeviceRef, kind: str, name: int) -> Response:
    data = await ingest_of(request).blobs.get(image_key(device, kind, name))
    if data is None:
        raise NotFound(f"no {kind} image {name} for device {device}", code="no_image")
    return Response(data, media_type="image/jpeg", headers={"Cache-Control": IMAGE_CACHE})


Number = Annotated[int, Path(ge=0, lt=2**53)]


async def _path_claims(settings: AppSettings, request: Request, token: str | None) -> TokenClaims:
    return claims_of(
        settings,
        token
        or find_token(
            request.headers.get("authorization"),
            request.query_params.get("token"),
            request.query_params.get("userToken"),
        ),
    )


def _image_route(kind: str) -> Callable[..., Awaitable[Response]]:
    """The handler of one kind of picture: the same checks, another folder."""

    async def picture(
        request: Request,
        settings: AppSettings,
        accounts: Accounts,
        uidd: str,
        number: Number,
        token: str | None = None,
    ) -> Response:
        claims = await _path_claims(settings, request, token)
        device = await readable_device(accounts, claims, uidd)
        return await _image(request, device, kind, number)

    return picture


# The reference puts the token last in the path; a header or query token works too.
for _path, _kind, _summary in (
    ("alertthumb", "alert", "An event's thumb by event id (1.3.2)"),
    ("getthumb", "thumb", "A thumb by its second (1.3.8)"),
    ("getstill", "still", "A still by its second (1.3.8)"),
):
    _handler = _image_route(_kind)
    router.add_api_route(f"/{_path}/{{uidd}}/{{number}}/{{token}}", _handler, summary=_summary)
    router.add_api_route(f"/{_path}/{{uidd}}/{{number}}", _handler, include_in_schema=False)
