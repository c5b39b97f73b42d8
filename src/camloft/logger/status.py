"""Camera status for viewers: `/cameras/status` (reference 1.3.6) and the realtime
stream `/cameras/realtime/live` (1.3.9).

**Which devices.** Both take `uidd=` (or the reference's `uid=`), repeated,
or none. None means every device the token may see that is *resident* on
this logger: its adapter has linked or uploaded here since the logger started
(`logger.cameras`). A uidd that does not parse fails the call with
`400 invalid_id`; the token goes in `Authorization: ManythingToken <t>` or
`token=`.

**/cameras/status** answers `{"result": {"<owner uid>": {"devices": {"<id>":
{...}}}}, "errors": [...]}`. An asked device that does not exist or that the
token may not see is `{"<uidd>": "Unauthorized"}` in `errors` (the two look
the same, as on `/devices`); one it may see that is not resident here is
`{"<uidd>": "not resident"}`. Each device has the reference's fields, with
`permissions` the token's right (`r` or `a`) and `status` one of `live`,
`online`, `novideo`, `offline`. While the camera streams live video
(`camloft.live`), `status` is `live`, `live` true, `session` and `startt` the
live session's start (ms) and `wowza` the host of the live origin it streams
to; otherwise `live` is false, `session` null, `startt` 0, and `wowza` is
the host of the device's assigned live origin as `/devices/viewerInfo` names
it, not the reference's placeholder `wowza1.manything.com`: a client that
uses it regardless of `live` reaches this deployment rather than a
stranger's host. `endt` is always null.

**/cameras/realtime/live** is Server-Sent Events: each message is one line
`data: {"type": "liveSession"|"alert", "data": {...}}` and a blank line.
First comes a `liveSession` for every device watched (its status fields and
`uidd`, without `uid` and `permissions`), then one whenever a camera's status
changes (see `logger.cameras` for which changes count) and an `alert` (the
shape of `/alert`) for each new event. Asked devices the token may not see, or
that do not exist, are left out without a word, as the reference does; asked
devices it may see that are not resident get an initial `offline` liveSession
and their updates once their adapter comes. With no uidd the set is the
resident devices at connect time. Rights are checked when the stream opens.
The server closes the stream after `realtime_max_seconds` (300, the
reference's 5 minutes; clients reconnect), and at once when it has no device
to watch. A comment line `: keepalive` follows every 15 s of silence. A client
that reads too slowly to keep up loses the oldest queued messages: it is sent
`: dropped <n>` and, once it has caught up, every device's liveSession again;
the lost alerts are still listed by `/alert`.

**/admin/realtime** (server admins) answers `{"result": {"subscriptions": n}}`,
the bus subscriptions open in this process: one per realtime stream, and one
per linked camera (its tasks).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from camloft.access import Right
from camloft.bus import Bus, Delivery, device_topic
from camloft.config import Settings
from camloft.errors import Forbidden
from camloft.ids import DeviceRef
from camloft.logger.cameras import CameraLinks, CameraState, live_session
from camloft.logger.link import links_of
from camloft.logger.routes import Accounts
from camloft.store.accounts import AccountStore
from camloft.webapi.deps import AppSettings, CurrentClaims, Uidds, Uids, asked_devices

router = APIRouter(tags=["logger"])

UNAUTHORIZED = "Unauthorized"
NOT_RESIDENT = "not resident"
KEEPALIVE_SECONDS = 15.0
KEEPALIVE = ": keepalive\n\n"
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def bus_of(request: Request) -> Bus:
    bus: Bus = request.app.state.bus
    return bus


@dataclass(frozen=True, slots=True)
class Viewable:
    """A device the token may read, and the host of its live origin."""

    right: Right
    wowza: str


async def viewable_devices(
    accounts: AccountStore, settings: Settings, viewer_uid: int, candidates: Iterable[DeviceRef]
) -> dict[DeviceRef, Viewable]:
    """Those of `candidates` that exist and that `viewer_uid` may read."""
    access = await accounts.access_map(viewer_uid)
    rights = {ref: right for ref in candidates if (right := access.right_on(ref)) is not None}
    found = await accounts.devices(refs=rights)
    return {
        device.ref: Viewable(
            rights[device.ref], urlsplit(device.wowza_url or settings.device_wowza_url).netloc
        )
        for device in found
    }


@router.get("/cameras/status", summary="Status of cameras resident on this logger (1.3.6)")
async def cameras_status(
    request: Request,
    claims: CurrentClaims,
    accounts: Accounts,
    settings: AppSettings,
    uidd: Uidds = None,
    uid: Uids = None,
) -> dict[str, Any]:
    links = links_of(request)
    asked = asked_devices(uidd, uid)
    viewable = await viewable_devices(
        accounts, settings, claims.uid, links.residents() if asked is None else asked
    )
    result: dict[str, dict[str, Any]] = {}
    errors: list[dict[str, str]] = []
    for ref in sorted(viewable) if asked is None else asked:
        item = viewable.get(ref)
        state = links.resident(ref)
        if item is None:
            errors.append({str(ref): UNAUTHORIZED})
        elif state is None:
            errors.append({str(ref): NOT_RESIDENT})
        else:
            group = result.setdefault(str(ref.uid), {"devices": {}})
            fields = state.fields()
            if fields["wowza"] is None:
                fields["wowza"] = item.wowza
            group["devices"][str(ref.device_id)] = {
                "uid": str(ref),
                "permissions": [item.right.value],
            } | fields
    return {"result": result, "errors": errors}


@router.get(
    "/cameras/realtime/live",
    summary="Server-Sent Events: status changes and new events of cameras (1.3.9)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "an event stream"}},
)
async def realtime_live(
    request: Request,
    claims: CurrentClaims,
    accounts: Accounts,
    settings: AppSettings,
    uidd: Uidds = None,
    uid: Uids = None,
) -> StreamingResponse:
    links = links_of(request)
    asked = asked_devices(uidd, uid)
    viewable = await viewable_devices(
        accounts, settings, claims.uid, links.residents() if asked is None else asked
    )
    watched = {ref: viewable[ref].wowza for ref in (asked or sorted(viewable)) if ref in viewable}
    stream = realtime_stream(
        bus_of(request), links, watched, max_seconds=settings.realtime_max_seconds
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)


def sse(message: Mapping[str, Any]) -> str:
    """One Server-Sent Events message (compact JSON holds no line break)."""
    return f"data: {json.dumps(message, separators=(',', ':'))}\n\n"


def _with_wowza(message: Mapping[str, Any], wowza: str) -> dict[str, Any]:
    """A liveSession message with its device's live origin filled in (unless it is live:
    then it names the origin the camera streams to)."""
    data = dict(message["data"])
    if data.get("wowza") is None:
        data["wowza"] = wowza
    return {"type": "liveSession", "data": data}


async def realtime_stream(
    bus: Bus,
    links: CameraLinks,
    watched: Mapping[DeviceRef, str],
    *,
    max_seconds: float,
    keepalive_seconds: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[str]:
    """The text of one realtime client: each watched device's liveSession, then updates.

    `watched` maps each device to its live origin's host. Ends after
    `max_seconds`, when the bus closes, or (by cancellation, which closes the
    subscription) when the client goes.
    """
    if not watched:
        yield ": no device to watch\n\n"
        return
    deadline = time.monotonic() + max_seconds
    by_topic = {device_topic(ref): ref for ref in watched}

    def sessions() -> str:
        return "".join(
            sse(_with_wowza(live_session(ref, links.resident(ref) or CameraState()), wowza))
            for ref, wowza in watched.items()
        )

    async with bus.subscribe(by_topic) as subscription:
        yield sessions()
        resync = False
        while (left := deadline - time.monotonic()) > 0:
            delivery: Delivery | None = None
            with anyio.move_on_after(min(keepalive_seconds, left)):
                delivery = await subscription.get()
                if delivery is None:
                    return  # the bus closed: the server is stopping
            if delivery is None:
                if time.monotonic() < deadline:
                    yield KEEPALIVE
                continue
            if delivery.dropped:
                resync = True
                yield f": dropped {delivery.dropped}\n\n"
            kind = delivery.message.get("type")
            if kind == "liveSession":
                yield sse(_with_wowza(delivery.message, watched[by_topic[delivery.topic]]))
            elif kind == "alert":
                yield sse(delivery.message)
            if resync and subscription.queued == 0:
                resync = False
                yield sessions()


@router.get(
    "/admin/realtime",
    tags=["sharing and administration"],
    summary="Realtime subscriptions open on this server (server admins)",
)
async def realtime_subscriptions(
    request: Request, claims: CurrentClaims, accounts: Accounts
) -> dict[str, Any]:
    user = await accounts.user(claims.uid)
    if user is None or not user.is_admin:
        raise Forbidden("this needs a server administrator")
    return {"result": {"subscriptions": bus_of(request).subscriber_count()}}
