"""What the authenticator does, apart from HTTP: logins, long-lived logins, visible devices."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from camloft.access import Right
from camloft.auth.passwords import Passwords
from camloft.auth.regions import find_home
from camloft.auth.throttle import Throttle
from camloft.config import Settings
from camloft.errors import Unauthorized
from camloft.fleet import Allocator
from camloft.ids import DeviceRef
from camloft.store.accounts import AccountStore, Device, User
from camloft.tokens import issue_token, sha256_hex

WEB_LOGIN_SEPARATOR = "."


@dataclass(frozen=True, slots=True)
class LoginOutcome:
    """Either the logged-in user, or the URL of the authenticator that holds it."""

    user: User | None
    elsewhere: str | None


@dataclass(frozen=True, slots=True)
class VisibleDevice:
    device: Device
    right: Right


@dataclass(frozen=True, slots=True)
class Visible:
    """The devices a viewer may see, and the asked-for ones it may not."""

    devices: list[VisibleDevice]
    denied: list[str]


class Authenticator:
    def __init__(
        self,
        settings: Settings,
        store: AccountStore,
        passwords: Passwords,
        throttle: Throttle,
        allocator: Allocator | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.passwords = passwords
        self.throttle = throttle
        self.allocator = allocator

    # logins

    async def login(self, email: str, password: str, client: str) -> LoginOutcome:
        """Check a password login, or say which region's authenticator holds the user.

        Unknown email and wrong password cost the same argon2 run and give the same
        answer; both count against the account's and the client address's throttle.
        """
        email = email.strip().lower()[:254]
        account_key = f"account:{email}"
        address_key = f"address:{client}"
        await self.throttle.check(account_key, address_key)
        user = await self.store.user_by_email(email)
        if user is not None and (home := self.lives_elsewhere(user)) is not None:
            return LoginOutcome(None, home)
        if user is None and (home := await find_home(self.settings, email)) is not None:
            return LoginOutcome(None, home)
        ok = await self.passwords.verify(user.password_hash if user else None, password[:1024])
        if not ok or user is None:
            await self.throttle.failed(account_key, self.settings.login_failures_per_account)
            await self.throttle.failed(address_key, self.settings.login_failures_per_address)
            raise Unauthorized("wrong email or password", code="login_failed")
        # The address keeps its count: logging into an own account between guesses
        # at others must not reset it.
        await self.throttle.succeeded(account_key)
        return LoginOutcome(user, None)

    def issue_token(self, user: User) -> str:
        return issue_token(
            self.settings.secret_bytes(),
            user.uid,
            region=self.settings.region,
            ttl=self.settings.token_ttl_seconds,
        )

    def lives_elsewhere(self, user: User) -> str | None:
        """The authenticator URL of the user's region, if that is not this one."""
        if user.region == self.settings.region:
            return None
        return self.settings.regions.get(user.region)

    async def create_web_login(self, user: User) -> str:
        """A long-lived credential (website cookie, `webLogin`): `<id>.<secret>`."""
        session_id = secrets.token_hex(16)
        secret = secrets.token_urlsafe(32)
        expires_ms = int((time.time() + self.settings.login_cookie_days * 86400) * 1000)
        await self.store.create_login_session(session_id, user.uid, sha256_hex(secret), expires_ms)
        return f"{session_id}{WEB_LOGIN_SEPARATOR}{secret}"

    async def user_from_web_login(self, credential: str) -> User:
        session_id, _, secret = credential.strip().partition(WEB_LOGIN_SEPARATOR)
        if len(session_id) != 32 or not secret or len(secret) > 100:
            raise Unauthorized("the login credential is malformed", code="invalid_login")
        session = await self.store.login_session(session_id)
        if session is None or not hmac.compare_digest(session.secret_hash, sha256_hex(secret)):
            raise Unauthorized("the login credential is not valid", code="invalid_login")
        if session.expires_ms < time.time() * 1000:
            await self.store.delete_login_session(session_id)
            raise Unauthorized(
                "the login credential has expired; log in again", code="expired_login"
            )
        user = await self.store.user(session.uid)
        if user is None:
            raise Unauthorized("the login credential is not valid", code="invalid_login")
        return user

    async def end_web_login(self, credential: str) -> None:
        session_id, _, _ = credential.strip().partition(WEB_LOGIN_SEPARATOR)
        if len(session_id) == 32:
            await self.store.delete_login_session(session_id)

    # devices

    async def visible_devices(self, viewer_uid: int, asked: list[DeviceRef] | None) -> Visible:
        """The devices `viewer_uid` may see: all of them, or those of `asked` it may.

        In a fleet, a device whose logger or live origin is gone is placed anew
        first, so the answer names servers that are alive.
        """
        visible = await self._visible_devices(viewer_uid, asked)
        if self.allocator is None:
            return visible
        misplaced = await self.allocator.misplaced(item.device for item in visible.devices)
        if not misplaced:
            return visible
        await self.allocator.place(misplaced)
        return await self._visible_devices(viewer_uid, asked)

    async def placed_device(self, device: Device) -> Device:
        """`device`, placed anew first if a fleet has to (see `visible_devices`)."""
        if self.allocator is None or not await self.allocator.misplaced([device]):
            return device
        await self.allocator.place([device.ref])
        return await self.store.device(device.ref) or device

    async def _visible_devices(self, viewer_uid: int, asked: list[DeviceRef] | None) -> Visible:
        access = await self.store.access_map(viewer_uid)
        if asked is None:
            found = await self.store.devices(
                owners=access.owners_with_all_devices, refs=access.single_devices
            )
            return Visible(
                [
                    VisibleDevice(d, right)
                    for d in found
                    if (right := access.right_on(d.ref)) is not None
                ],
                [],
            )
        allowed = [ref for ref in dict.fromkeys(asked) if access.right_on(ref) is not None]
        found_by_ref = {d.ref: d for d in await self.store.devices(refs=allowed)}
        visible: list[VisibleDevice] = []
        denied: list[str] = []
        for ref in dict.fromkeys(asked):
            device = found_by_ref.get(ref)
            right = access.right_on(ref)
            if device is None or right is None:
                # An unknown device and a forbidden one look the same from outside.
                denied.append(str(ref))
            else:
                visible.append(VisibleDevice(device, right))
        return Visible(visible, denied)
