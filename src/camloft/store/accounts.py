"""Users, devices, grants and long-lived logins: the authenticator's metadata."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, func, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from camloft.access import AccessMap, Grant, Right
from camloft.errors import BadRequest, Conflict, NotFound
from camloft.ids import DeviceRef, GrantTarget
from camloft.store.tables import DeviceRow, GrantRow, LoginSessionRow, UserRow


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(frozen=True, slots=True)
class User:
    uid: int
    email: str
    password_hash: str
    alias: str
    region: str
    max_age_days: int
    max_devices: int
    account_type: str
    is_admin: bool


@dataclass(frozen=True, slots=True)
class Device:
    ref: DeviceRef
    phonename: str
    key_hash: str
    streamname: str
    logger_url: str | None  # None: this deployment's default logger
    wowza_url: str | None
    cloud_recording_enabled: bool
    app_version: str
    device_type: str
    language: str
    phoneid: str


@dataclass(frozen=True, slots=True)
class LoginSession:
    id: str
    uid: int
    secret_hash: str
    expires_ms: int


def _user(row: UserRow) -> User:
    return User(
        uid=row.uid,
        email=row.email,
        password_hash=row.password_hash,
        alias=row.alias,
        region=row.region,
        max_age_days=row.max_age_days,
        max_devices=row.max_devices,
        account_type=row.account_type,
        is_admin=row.is_admin,
    )


MAX_LOGIN_SESSIONS_PER_USER = 20
_DEVICE_COLUMNS = (
    DeviceRow.owner_uid,
    DeviceRow.device_id,
    DeviceRow.phonename,
    DeviceRow.key_hash,
    DeviceRow.streamname,
    DeviceRow.logger_url,
    DeviceRow.wowza_url,
    DeviceRow.cloud_recording_enabled,
    DeviceRow.app_version,
    DeviceRow.device_type,
    DeviceRow.language,
    DeviceRow.phoneid,
)


def _device(row: Sequence[Any]) -> Device:
    """A `Device` from a row of `_DEVICE_COLUMNS`: thousands at a time, so no ORM objects."""
    return Device(DeviceRef(row[0], row[1]), *row[2:])


def storable(text: str, what: str) -> str:
    """Text as the store keeps it; PostgreSQL cannot hold a NUL character."""
    if "\x00" in text:
        raise BadRequest(f"{what} must not contain a NUL character")
    return text


def normalize_email(email: str) -> str:
    return storable(email, "email").strip().lower()


class AccountStore:
    """All reads and writes of accounts go through here."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)

    # users

    async def create_user(
        self,
        email: str,
        password_hash: str,
        *,
        alias: str,
        region: str,
        max_age_days: int,
        max_devices: int,
        account_type: str = "free",
        is_admin: bool = False,
    ) -> User:
        row = UserRow(
            email=normalize_email(email),
            password_hash=password_hash,
            alias=storable(alias, "alias"),
            region=region,
            max_age_days=max_age_days,
            max_devices=max_devices,
            account_type=account_type,
            is_admin=is_admin,
            created_ms=now_ms(),
        )
        async with self._sessions() as session:
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as err:
                raise Conflict(f"a user with email {row.email} exists already") from err
            return _user(row)

    async def user_by_email(self, email: str) -> User | None:
        async with self._sessions() as session:
            row = await session.scalar(
                select(UserRow).where(UserRow.email == normalize_email(email))
            )
            return None if row is None else _user(row)

    async def user(self, uid: int) -> User | None:
        async with self._sessions() as session:
            row = await session.get(UserRow, uid)
            return None if row is None else _user(row)

    async def require_user_by_email(self, email: str) -> User:
        user = await self.user_by_email(email)
        if user is None:
            raise NotFound(f"no user with email {normalize_email(email)[:254]}")
        return user

    async def users(self) -> list[User]:
        async with self._sessions() as session:
            rows = await session.scalars(select(UserRow).order_by(UserRow.uid))
            return [_user(row) for row in rows]

    async def remove_user(self, uid: int) -> None:
        async with self._sessions() as session:
            # Deleted explicitly as well as by cascade: SQLite enforces foreign keys
            # only where the connection asked for it.
            await session.execute(
                delete(GrantRow).where((GrantRow.viewer_uid == uid) | (GrantRow.owner_uid == uid))
            )
            await session.execute(delete(DeviceRow).where(DeviceRow.owner_uid == uid))
            await session.execute(delete(LoginSessionRow).where(LoginSessionRow.uid == uid))
            result = await session.execute(delete(UserRow).where(UserRow.uid == uid))
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no user with uid {uid}")
            await session.commit()

    async def aliases(self, uids: Iterable[int]) -> dict[int, str]:
        wanted = list(set(uids))
        if not wanted:
            return {}
        async with self._sessions() as session:
            rows = await session.execute(
                select(UserRow.uid, UserRow.alias).where(UserRow.uid.in_(wanted))
            )
            return {uid: alias for uid, alias in rows.tuples()}

    # devices

    async def add_device(
        self, owner_uid: int, phonename: str, *, key_hash: str, stream_suffix: str
    ) -> Device:
        async with self._sessions() as session:
            owner = await session.get(UserRow, owner_uid)
            if owner is None:
                raise NotFound(f"no user with uid {owner_uid}")
            count = await session.scalar(
                select(func.count()).select_from(DeviceRow).where(DeviceRow.owner_uid == owner_uid)
            )
            if (count or 0) >= owner.max_devices:
                raise Conflict(
                    f"user {owner_uid} has reached the plan's limit of {owner.max_devices} devices",
                    code="device_limit",
                )
            device_id = await session.scalar(
                update(UserRow)
                .where(UserRow.uid == owner_uid)
                .values(last_device_id=UserRow.last_device_id + 1)
                .returning(UserRow.last_device_id)
            )
            assert device_id is not None  # the owner row exists: checked above
            row = DeviceRow(
                owner_uid=owner_uid,
                device_id=device_id,
                phonename=storable(phonename, "device name"),
                key_hash=key_hash,
                streamname=f"{owner_uid}.{device_id}_{stream_suffix}-nr",
                logger_url=None,
                wowza_url=None,
                cloud_recording_enabled=True,
                app_version="camloft",
                device_type="ipcam",
                language="en-GB",
                phoneid=f"camloft-{owner_uid}-{device_id}",
                created_ms=now_ms(),
            )
            session.add(row)
            try:
                await session.commit()
            except IntegrityError as err:
                raise Conflict("another device was added at the same moment; retry") from err
        return await self.require_device(DeviceRef(owner_uid, device_id))

    async def device(self, ref: DeviceRef) -> Device | None:
        found = await self.devices(refs=[ref])
        return found[0] if found else None

    async def device_by_streamname(self, streamname: str) -> Device | None:
        """The device whose live stream is called `streamname` (unique)."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(*_DEVICE_COLUMNS).where(DeviceRow.streamname == streamname)
            )
            found = [_device(row) for row in rows]
        return found[0] if found else None

    async def require_device(self, ref: DeviceRef) -> Device:
        device = await self.device(ref)
        if device is None:
            raise NotFound(f"no device {ref}")
        return device

    async def devices(
        self, *, owners: Iterable[int] = (), refs: Iterable[DeviceRef] = ()
    ) -> list[Device]:
        """Every device of `owners`, plus the single devices `refs`, ordered by uidd."""
        owner_list = sorted(set(owners))
        found: dict[DeviceRef, Device] = {}
        async with self._sessions() as session:
            for chunk in _chunks(owner_list, 500):
                rows = await session.execute(
                    select(*_DEVICE_COLUMNS).where(DeviceRow.owner_uid.in_(chunk))
                )
                found.update((d.ref, d) for d in map(_device, rows))
            missing = sorted({ref for ref in refs if ref not in found})
            for ref_chunk in _chunks(missing, 500):
                pairs = [(ref.uid, ref.device_id) for ref in ref_chunk]
                rows = await session.execute(
                    select(*_DEVICE_COLUMNS).where(
                        tuple_(DeviceRow.owner_uid, DeviceRow.device_id).in_(pairs)
                    )
                )
                found.update((d.ref, d) for d in map(_device, rows))
        return [found[key] for key in sorted(found)]

    async def all_devices(self) -> list[Device]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(*_DEVICE_COLUMNS).order_by(DeviceRow.owner_uid, DeviceRow.device_id)
            )
            return [_device(row) for row in rows]

    async def remove_device(self, ref: DeviceRef) -> None:
        async with self._sessions() as session:
            await session.execute(
                delete(GrantRow).where(
                    GrantRow.owner_uid == ref.uid, GrantRow.device_id == ref.device_id
                )
            )
            result = await session.execute(
                delete(DeviceRow).where(
                    DeviceRow.owner_uid == ref.uid, DeviceRow.device_id == ref.device_id
                )
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no device {ref}")
            await session.commit()

    async def set_device_key_hash(self, ref: DeviceRef, key_hash: str) -> None:
        async with self._sessions() as session:
            result = await session.execute(
                update(DeviceRow)
                .where(DeviceRow.owner_uid == ref.uid, DeviceRow.device_id == ref.device_id)
                .values(key_hash=key_hash)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no device {ref}")
            await session.commit()

    async def move_device(
        self, ref: DeviceRef, *, logger_url: str | None, wowza_url: str | None
    ) -> Device:
        """Assign another logger and/or live origin; an empty string means the default."""
        values: dict[str, str | None] = {}
        for url in (logger_url, wowza_url):
            if url:
                storable(url, "server URL")
        if logger_url is not None:
            values["logger_url"] = logger_url or None
        if wowza_url is not None:
            values["wowza_url"] = wowza_url or None
        if not values:
            raise BadRequest("say where to move the device: a logger, a live origin or both")
        async with self._sessions() as session:
            result = await session.execute(
                update(DeviceRow)
                .where(DeviceRow.owner_uid == ref.uid, DeviceRow.device_id == ref.device_id)
                .values(**values)
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"no device {ref}")
            await session.commit()
        return await self.require_device(ref)

    # grants

    async def access_map(self, viewer_uid: int) -> AccessMap:
        """The rights `viewer_uid` holds, for checking many devices at once."""
        return AccessMap(viewer_uid, await self.grants_of_viewer(viewer_uid))

    async def grants_of_viewer(self, viewer_uid: int) -> list[Grant]:
        return await self._grants(GrantRow.viewer_uid == viewer_uid)

    async def grants_of_owner(self, owner_uid: int) -> list[Grant]:
        return await self._grants(GrantRow.owner_uid == owner_uid)

    async def all_grants(self) -> list[Grant]:
        return await self._grants(None)

    async def _grants(self, where: ColumnElement[bool] | None) -> list[Grant]:
        query = select(GrantRow).order_by(GrantRow.id)
        if where is not None:
            query = query.where(where)
        async with self._sessions() as session:
            rows = await session.scalars(query)
            return [
                Grant(row.viewer_uid, row.owner_uid, row.device_id, Right(row.right))
                for row in rows
            ]

    async def put_grant(self, grant: Grant) -> None:
        """Give or change a grant; giving the same grant twice leaves one."""
        if grant.viewer_uid == grant.owner_uid:
            raise BadRequest("an owner already has admin rights on its own devices")
        async with self._sessions() as session:
            if await session.get(UserRow, grant.owner_uid) is None:
                raise NotFound(f"no user with uid {grant.owner_uid}")
            if (
                grant.device_id is not None
                and await session.get(DeviceRow, (grant.owner_uid, grant.device_id)) is None
            ):
                raise NotFound(f"no device {grant.owner_uid}.{grant.device_id}")
            existing = await session.scalar(
                select(GrantRow).where(
                    GrantRow.viewer_uid == grant.viewer_uid,
                    GrantRow.owner_uid == grant.owner_uid,
                    _same_device(grant.device_id),
                )
            )
            if existing is None:
                session.add(
                    GrantRow(
                        viewer_uid=grant.viewer_uid,
                        owner_uid=grant.owner_uid,
                        device_id=grant.device_id,
                        right=grant.right.value,
                    )
                )
            else:
                existing.right = grant.right.value
            await session.commit()

    async def delete_grant(self, viewer_uid: int, target: GrantTarget) -> None:
        async with self._sessions() as session:
            result = await session.execute(
                delete(GrantRow).where(
                    GrantRow.viewer_uid == viewer_uid,
                    GrantRow.owner_uid == target.uid,
                    _same_device(target.device_id),
                )
            )
            if result.rowcount == 0:  # type: ignore[attr-defined]
                raise NotFound(f"user {viewer_uid} holds no grant on {target}")
            await session.commit()

    # long-lived logins

    async def create_login_session(
        self, session_id: str, uid: int, secret_hash: str, expires_ms: int
    ) -> None:
        async with self._sessions() as session:
            session.add(
                LoginSessionRow(
                    id=session_id,
                    uid=uid,
                    secret_hash=secret_hash,
                    created_ms=now_ms(),
                    expires_ms=expires_ms,
                )
            )
            # A client that logs in every 15 minutes must not pile up logins: keep the
            # newest few of each user, and none that expired.
            await session.flush()
            keep = (
                select(LoginSessionRow.id)
                .where(LoginSessionRow.uid == uid)
                .order_by(LoginSessionRow.created_ms.desc(), LoginSessionRow.id.desc())
                .limit(MAX_LOGIN_SESSIONS_PER_USER)
                .scalar_subquery()
            )
            await session.execute(
                delete(LoginSessionRow).where(
                    LoginSessionRow.uid == uid,
                    (LoginSessionRow.expires_ms < now_ms()) | LoginSessionRow.id.not_in(keep),
                )
            )
            await session.commit()

    async def login_session(self, session_id: str) -> LoginSession | None:
        async with self._sessions() as session:
            row = await session.get(LoginSessionRow, session_id)
            if row is None:
                return None
            return LoginSession(row.id, row.uid, row.secret_hash, row.expires_ms)

    async def delete_login_session(self, session_id: str) -> None:
        async with self._sessions() as session:
            await session.execute(delete(LoginSessionRow).where(LoginSessionRow.id == session_id))
            await session.commit()


def _same_device(device_id: int | None) -> ColumnElement[bool]:
    if device_id is None:
        return GrantRow.device_id.is_(None)
    return GrantRow.device_id == device_id


T = TypeVar("T")


def _chunks(items: Sequence[T], size: int) -> Iterable[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
