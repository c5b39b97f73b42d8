"""Administration shared by `camloft admin` and the JSON admin and sharing endpoints."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from camloft.access import Grant, Right
from camloft.auth.passwords import Passwords
from camloft.auth.plans import DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_DEVICES
from camloft.errors import BadRequest, NotFound
from camloft.ids import DeviceRef, GrantTarget
from camloft.store.accounts import AccountStore, Device, User
from camloft.tokens import sha256_hex

EMAIL = re.compile(r"[^@\s]{1,64}@[^@\s]{1,189}")


@dataclass(frozen=True, slots=True)
class NewDevice:
    device: Device
    key: str  # shown once; only its hash is stored


def check_email(email: str) -> str:
    email = email.strip().lower()
    if not EMAIL.fullmatch(email):
        raise BadRequest(f"not an email address: {email[:80]!r}", code="invalid_email")
    return email


def check_url(url: str) -> str:
    """A logger or live origin URL: http(s)://host[:port], nothing after."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise BadRequest(
            f"not a server URL like https://host:port: {url[:80]!r}", code="invalid_url"
        )
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as err:
        raise BadRequest(f"bad port in {url[:80]!r}", code="invalid_url") from err
    return f"{parts.scheme}://{parts.netloc}"


class Admin:
    def __init__(self, store: AccountStore, passwords: Passwords, region: str) -> None:
        self.store = store
        self.passwords = passwords
        self.region = region

    async def add_user(
        self,
        email: str,
        password: str,
        *,
        alias: str | None = None,
        region: str | None = None,
        max_age_days: int = DEFAULT_MAX_AGE_DAYS,
        max_devices: int = DEFAULT_MAX_DEVICES,
        is_admin: bool = False,
    ) -> User:
        email = check_email(email)
        if not password or len(password) > 1024:
            raise BadRequest("a password of 1 to 1024 characters is required")
        if not 1 <= max_age_days <= 3650 or not 0 <= max_devices <= 1_000_000:
            raise BadRequest("max age must be 1..3650 days and max devices 0..1000000")
        return await self.store.create_user(
            email,
            await self.passwords.hash_async(password),
            alias=(alias or email.split("@")[0])[:200],
            region=region or self.region,
            max_age_days=max_age_days,
            max_devices=max_devices,
            is_admin=is_admin,
        )

    async def remove_user(self, email: str) -> User:
        user = await self.store.require_user_by_email(email)
        await self.store.remove_user(user.uid)
        return user

    async def add_device(self, owner_email: str, name: str) -> NewDevice:
        owner = await self.store.require_user_by_email(owner_email)
        name = name.strip()
        if not name or len(name) > 200:
            raise BadRequest("a device name of 1 to 200 characters is required")
        key = secrets.token_urlsafe(32)
        device = await self.store.add_device(
            owner.uid,
            name,
            key_hash=sha256_hex(key),
            stream_suffix=str(secrets.randbelow(900_000) + 100_000),
        )
        return NewDevice(device, key)

    async def rekey_device(self, ref: DeviceRef) -> str:
        """A new device key, shown once like the first; loggers drop the old within a minute."""
        key = secrets.token_urlsafe(32)
        await self.store.set_device_key_hash(ref, sha256_hex(key))
        return key

    async def remove_device(self, ref: DeviceRef) -> None:
        await self.store.remove_device(ref)

    async def move_device(
        self, ref: DeviceRef, *, logger_url: str | None, wowza_url: str | None
    ) -> Device:
        return await self.store.move_device(
            ref,
            logger_url=check_url(logger_url) if logger_url else logger_url,
            wowza_url=check_url(wowza_url) if wowza_url else wowza_url,
        )

    async def grant(self, viewer_email: str, target: GrantTarget, right: Right) -> Grant:
        viewer = await self.store.require_user_by_email(viewer_email)
        grant = Grant(viewer.uid, target.uid, target.device_id, right)
        await self.store.put_grant(grant)
        return grant

    async def revoke(self, viewer_email: str, target: GrantTarget) -> None:
        viewer = await self.store.require_user_by_email(viewer_email)
        await self.store.delete_grant(viewer.uid, target)

    async def grants_view(self, grants: list[Grant]) -> list[dict[str, object]]:
        """Grants as JSON rows, with each viewer's email."""
        emails: dict[int, str] = {}
        for uid in {g.viewer_uid for g in grants}:
            user = await self.store.user(uid)
            if user is None:
                raise NotFound(f"no user with uid {uid}")
            emails[uid] = user.email
        return [
            {
                "viewer": emails[g.viewer_uid],
                "viewerUid": g.viewer_uid,
                "target": str(GrantTarget(g.owner_uid, g.device_id)),
                "right": g.right.value,
            }
            for g in grants
        ]
