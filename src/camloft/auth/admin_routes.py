"""JSON endpoints for sharing (an owner's own grants) and for a server admin."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from camloft.access import Grant, Right
from camloft.auth import shapes
from camloft.auth.admin import Admin
from camloft.auth.plans import DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_DEVICES
from camloft.auth.service import Authenticator
from camloft.errors import Forbidden, Unauthorized
from camloft.ids import DeviceRef, GrantTarget
from camloft.store.accounts import User
from camloft.webapi.deps import CurrentClaims

router = APIRouter(tags=["sharing and administration"])


def admin_of(request: Request) -> Admin:
    admin: Admin = request.app.state.admin
    return admin


AdminService = Annotated[Admin, Depends(admin_of)]


async def current_user(admin: AdminService, claims: CurrentClaims) -> User:
    user = await admin.store.user(claims.uid)
    if user is None:
        raise Unauthorized("the user of this token no longer exists", code="unknown_user")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def server_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs a server administrator")
    return user


ServerAdmin = Annotated[User, Depends(server_admin)]


class ShareBody(BaseModel):
    email: str = Field(max_length=254, description="the viewer's email")
    device: str | None = Field(
        None, max_length=40, description="uid.deviceid, or none for all your devices"
    )
    right: str = Field("r", pattern="^[ra]$")


class RevokeBody(BaseModel):
    email: str = Field(max_length=254)
    device: str | None = Field(None, max_length=40)


def _own_target(user: User, device: str | None) -> GrantTarget:
    if device is None:
        return GrantTarget(user.uid, None)
    ref = DeviceRef.parse(device)
    if ref.uid != user.uid:
        raise Forbidden("you can share only your own devices")
    return GrantTarget(ref.uid, ref.device_id)


@router.get("/sharing", summary="The grants you have given on your devices")
async def sharing(admin: AdminService, user: CurrentUser) -> dict[str, Any]:
    return {"result": await admin.grants_view(await admin.store.grants_of_owner(user.uid))}


@router.post("/sharing", summary="Give a user read or admin access to your devices")
async def share(body: ShareBody, admin: AdminService, user: CurrentUser) -> dict[str, Any]:
    grant = await admin.grant(body.email, _own_target(user, body.device), Right(body.right))
    return {"result": (await admin.grants_view([grant]))[0]}


@router.post("/sharing/revoke", summary="Take a grant back")
async def unshare(body: RevokeBody, admin: AdminService, user: CurrentUser) -> dict[str, str]:
    await admin.revoke(body.email, _own_target(user, body.device))
    return {"result": "revoked"}


class UserEmailBody(BaseModel):
    email: str = Field(max_length=254)


class NewUserBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(min_length=1, max_length=1024)
    alias: str | None = Field(None, max_length=200)
    region: str | None = Field(None, pattern=r"^[a-z0-9-]{1,32}$")
    maxAgeDays: int = Field(DEFAULT_MAX_AGE_DAYS, ge=1, le=3650)
    maxDevices: int = Field(DEFAULT_MAX_DEVICES, ge=0, le=1_000_000)
    admin: bool = False


class NewDeviceBody(BaseModel):
    owner: str = Field(max_length=254, description="the owner's email")
    name: str = Field(min_length=1, max_length=200)


class MoveBody(BaseModel):
    logger: str | None = Field(None, max_length=500, description="logger URL; '' = default")
    wowza: str | None = Field(None, max_length=500, description="live origin URL; '' = default")


class GrantBody(BaseModel):
    viewer: str = Field(max_length=254)
    target: str = Field(max_length=40, description="OWNER_UID or OWNER_UID.DEVICE_ID")
    right: str = Field("r", pattern="^[ra]$")


class RevokeGrantBody(BaseModel):
    viewer: str = Field(max_length=254)
    target: str = Field(max_length=40)


@router.get("/admin/users", summary="Every user")
async def list_users(admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    return {"result": [shapes.user_view(u) for u in await admin.store.users()]}


@router.post("/admin/users", summary="Add a user")
async def add_user(body: NewUserBody, admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    user = await admin.add_user(
        body.email,
        body.password,
        alias=body.alias,
        region=body.region,
        max_age_days=body.maxAgeDays,
        max_devices=body.maxDevices,
        is_admin=body.admin,
    )
    return {"result": shapes.user_view(user)}


@router.post("/admin/users/remove", summary="Remove a user with its devices and grants")
async def remove_user(body: UserEmailBody, admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    return {"result": shapes.user_view(await admin.remove_user(body.email))}


@router.get("/admin/devices", summary="Every device")
async def list_devices(admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    return {"result": [shapes.device_view(d) for d in await admin.store.all_devices()]}


@router.post("/admin/devices", summary="Add a device; answers its key once")
async def add_device(body: NewDeviceBody, admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    new = await admin.add_device(body.owner, body.name)
    return {"result": shapes.device_view(new.device) | {"deviceKey": new.key}}


@router.post("/admin/devices/{uidd}/remove", summary="Remove a device")
async def remove_device(uidd: str, admin: AdminService, _: ServerAdmin) -> dict[str, str]:
    await admin.remove_device(DeviceRef.parse(uidd))
    return {"result": "removed"}


@router.post("/admin/devices/{uidd}/rekey", summary="Give a device a new key; answers it once")
async def rekey_device(uidd: str, admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    ref = DeviceRef.parse(uidd)
    key = await admin.rekey_device(ref)
    return {"result": {"uidd": str(ref), "deviceKey": key}}


@router.post("/admin/devices/{uidd}/move", summary="Assign another logger or live origin")
async def move_device(
    uidd: str, body: MoveBody, admin: AdminService, _: ServerAdmin
) -> dict[str, Any]:
    device = await admin.move_device(
        DeviceRef.parse(uidd), logger_url=body.logger, wowza_url=body.wowza
    )
    return {"result": shapes.device_view(device)}


@router.get("/admin/grants", summary="Every grant")
async def list_grants(admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    return {"result": await admin.grants_view(await admin.store.all_grants())}


@router.post("/admin/grants", summary="Give a viewer access to an owner's devices")
async def add_grant(body: GrantBody, admin: AdminService, _: ServerAdmin) -> dict[str, Any]:
    grant: Grant = await admin.grant(body.viewer, GrantTarget.parse(body.target), Right(body.right))
    return {"result": (await admin.grants_view([grant]))[0]}


@router.post("/admin/grants/revoke", summary="Take a grant back")
async def revoke_grant(
    body: RevokeGrantBody, admin: AdminService, _: ServerAdmin
) -> dict[str, str]:
    await admin.revoke(body.viewer, GrantTarget.parse(body.target))
    return {"result": "revoked"}


@router.get("/admin/fleet", summary="Loggers and live origins of the fleet, alive or not")
async def fleet(request: Request, _: ServerAdmin) -> dict[str, Any]:
    """Every logger and live origin that ever beat, with its load, the devices placed
    on it, and whether it beat within `heartbeat_timeout_seconds`."""
    auth: Authenticator = request.app.state.authenticator
    if auth.allocator is None:
        return {"result": {"fleet": False, "servers": []}}
    return {"result": {"fleet": True, "servers": await auth.allocator.report()}}
