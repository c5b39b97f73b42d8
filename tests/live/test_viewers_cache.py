"""The origin's remembered answers: one lookup however many viewers ask at once."""

from __future__ import annotations

import asyncio

import pytest

from camloft.live.routes import TimedCache

pytestmark = pytest.mark.anyio


async def test_many_askers_share_one_lookup_and_a_leaver_does_not_cancel_it() -> None:
    cache: TimedCache[str, int] = TimedCache(10.0)
    lookups = 0
    release = asyncio.Event()

    async def lookup() -> int:
        nonlocal lookups
        lookups += 1
        await release.wait()
        return 42

    askers = [asyncio.create_task(cache.get("k", lookup)) for _ in range(200)]
    await asyncio.sleep(0.01)
    askers[0].cancel()  # the first viewer goes away while the lookup runs
    release.set()
    answers = await asyncio.gather(*askers[1:])
    assert answers == [42] * 199 and lookups == 1
    assert await cache.get("k", lookup) == 42 and lookups == 1  # remembered


async def test_a_stale_answer_is_looked_up_again_and_errors_are_not_kept() -> None:
    cache: TimedCache[str, int] = TimedCache(0.05)
    calls = 0

    async def lookup() -> int:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("the database went away")
        return calls

    assert await cache.get("k", lookup) == 1
    await asyncio.sleep(0.06)
    with pytest.raises(ConnectionError):
        await cache.get("k", lookup)
    assert await cache.get("k", lookup) == 3
