"""AccountStore on SQLite and PostgreSQL: ids are never reused, logins do not pile up."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from camloft.access import Grant, Right
from camloft.errors import BadRequest
from camloft.ids import DeviceRef
from camloft.store.accounts import MAX_LOGIN_SESSIONS_PER_USER, AccountStore
from camloft.store.db import create_engine, migrate

pytestmark = pytest.mark.anyio


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[AccountStore]:
    engine = create_engine(database_url)
    await migrate(engine)
    yield AccountStore(engine)
    await engine.dispose()


async def add_user(store: AccountStore, email: str) -> int:
    user = await store.create_user(email, "hash", alias=email, region="local",
                                   max_age_days=7, max_devices=10)
    return user.uid


async def test_uid_of_a_removed_user_is_never_reused(store: AccountStore) -> None:
    """A removed user's token lives on for up to 20 minutes; it must not become another's."""
    await add_user(store, "a@example.com")
    last = await add_user(store, "b@example.com")
    await store.remove_user(last)
    assert await add_user(store, "c@example.com") > last


async def test_device_id_of_a_removed_device_is_never_reused(store: AccountStore) -> None:
    owner = await add_user(store, "o@example.com")
    first = await store.add_device(owner, "One", key_hash="k", stream_suffix="1")
    second = await store.add_device(owner, "Two", key_hash="k", stream_suffix="2")
    assert (first.ref.device_id, second.ref.device_id) == (1, 2)
    await store.remove_device(second.ref)
    third = await store.add_device(owner, "Three", key_hash="k", stream_suffix="3")
    assert third.ref == DeviceRef(owner, 3)


async def test_devices_by_owner_and_by_ref(store: AccountStore) -> None:
    owners = [await add_user(store, f"o{n}@example.com") for n in range(3)]
    for uid in owners:
        for n in range(3):
            await store.add_device(uid, f"cam {n}", key_hash="k", stream_suffix=f"{uid}{n}")
    found = await store.devices(owners=[owners[0]],
                                refs=[DeviceRef(owners[1], 2), DeviceRef(owners[2], 9)])
    assert [str(d.ref) for d in found] == [
        f"{owners[0]}.1", f"{owners[0]}.2", f"{owners[0]}.3", f"{owners[1]}.2"]
    assert found[-1].phonename == "cam 1"


async def test_login_sessions_are_capped_per_user(store: AccountStore) -> None:
    uid = await add_user(store, "l@example.com")
    far = 2**62
    for n in range(MAX_LOGIN_SESSIONS_PER_USER + 5):
        await store.create_login_session(f"{n:032d}", uid, "h", far)
    assert await store.login_session(f"{0:032d}") is None
    newest = MAX_LOGIN_SESSIONS_PER_USER + 4
    assert await store.login_session(f"{newest:032d}") is not None


async def test_grant_given_twice_is_one_grant(store: AccountStore) -> None:
    owner, viewer = await add_user(store, "g1@example.com"), await add_user(store, "g2@example.com")
    await store.put_grant(Grant(viewer, owner, None, Right.READ))
    await store.put_grant(Grant(viewer, owner, None, Right.ADMIN))
    assert await store.grants_of_viewer(viewer) == [Grant(viewer, owner, None, Right.ADMIN)]


async def test_nul_text_is_refused(store: AccountStore) -> None:
    with pytest.raises(BadRequest):
        await store.user_by_email("a\x00@example.com")
    owner = await add_user(store, "n@example.com")
    with pytest.raises(BadRequest):
        await store.add_device(owner, "cam\x00", key_hash="k", stream_suffix="1")
