"""The logger's HTTP API for viewers (section 1.3 of the reference)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from camloft.access import right_for_task
from camloft.errors import BadRequest, NotFound
from camloft.ids import DeviceRef
from camloft.logger.link import links_of
from camloft.store.accounts import AccountStore
from camloft.webapi.deps import AppSettings, CurrentClaims

router = APIRouter(tags=["logger"])


def accounts_of(request: Request) -> AccountStore:
    accounts: AccountStore = request.app.state.accounts
    return accounts


Accounts = Annotated[AccountStore, Depends(accounts_of)]


def one_device(uid: str | None, uidd: str | None) -> DeviceRef:
    """The device of `uid=` (the reference's name) or `uidd=` (newer clients)."""
    name = uidd if uidd is not None else uid
    if name is None:
        raise BadRequest("say which device: uid=<uid.deviceid>", code="missing_device")
    return DeviceRef.parse(name)


@router.get("/sendcameratask", summary="Send a task to a camera (1.3.4, 1.3.5, 1.3.7, 1.5.1)")
async def send_camera_task(
    request: Request,
    claims: CurrentClaims,
    accounts: Accounts,
    settings: AppSettings,
    action: Annotated[str, Query(max_length=40)],
    uid: Annotated[str | None, Query(max_length=40)] = None,
    uidd: Annotated[str | None, Query(max_length=40)] = None,
) -> dict[str, str]:
    """`livecommand`, `capturethumb`, `capturestill` need read access; `triggerevent`,
    `ptz_<dir>`, `ptzstart_<dir>` and `ptzstop` need admin. An offline camera is a 409.
    `livecommand` tells the camera which live origin to stream to (the device's own)."""
    device = one_device(uid, uidd)
    needed = right_for_task(action)
    (await accounts.access_map(claims.uid)).require(device, needed)
    found = await accounts.device(device)
    if found is None:  # only its owner gets this far
        raise NotFound(f"no device {device}")
    if action == "livecommand":
        # The origin assigned now: a device moved to another streams there from now on.
        origin = found.wowza_url or settings.device_wowza_url
        await links_of(request).send_task(device, action, origin=origin)
    else:
        await links_of(request).send_task(device, action)
    return {"result": "request sent to camera"}
