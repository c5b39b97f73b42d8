"""Failed logins lock a key for a growing, bounded time; success clears it. In memory,
and in Redis (the real one on 127.0.0.1:6379) for the authenticators of a fleet."""

import secrets
import time
from collections.abc import AsyncIterator

import anyio
import pytest

from camloft.auth.throttle import LoginThrottle
from camloft.auth.throttle_redis import RedisLoginThrottle
from camloft.errors import TooManyRequests
from tests.support import free_port

pytestmark = pytest.mark.anyio
REDIS = "redis://127.0.0.1:6379/0"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_locks_after_limit_and_backs_off_to_the_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_lock_seconds=60, clock=clock)
    for _ in range(4):
        await throttle.failed("k", limit=5)
        await throttle.check("k")
    await throttle.failed("k", limit=5)
    with pytest.raises(TooManyRequests) as caught:
        await throttle.check("k")
    assert caught.value.retry_after == 1
    for _ in range(20):
        await throttle.failed("k", limit=5)
    with pytest.raises(TooManyRequests) as caught:
        await throttle.check("k")
    assert caught.value.retry_after == 60


async def test_lock_ends_within_the_cap_after_the_last_failure() -> None:
    """The documented window: however many failures, the owner gets back in."""
    clock = Clock()
    throttle = LoginThrottle(max_lock_seconds=60, clock=clock)
    for _ in range(1000):
        await throttle.failed("k", limit=5)
    clock.now += 60.01
    await throttle.check("k")


async def test_success_clears_and_quiet_forgets() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_lock_seconds=60, forget_after_seconds=900, clock=clock)
    for _ in range(4):
        await throttle.failed("k", limit=5)
    await throttle.succeeded("k")
    await throttle.failed("k", limit=5)
    await throttle.check("k")
    for _ in range(3):
        await throttle.failed("k", limit=5)
    clock.now += 901
    await throttle.failed("k", limit=5)  # counts from one again
    await throttle.check("k")


async def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_lock_seconds=60, max_keys=100)
    for n in range(1000):
        await throttle.failed(f"address:{n}", limit=5)
    assert len(throttle._entries) == 100


@pytest.fixture
async def pair() -> AsyncIterator[tuple[RedisLoginThrottle, RedisLoginThrottle]]:
    """Two authenticators' throttles on one Redis (a prefix of their own for this test)."""
    prefix = f"camloft-test-{secrets.token_hex(4)}:"
    first, second = (RedisLoginThrottle(REDIS, prefix=prefix, max_lock_seconds=2)
                     for _ in range(2))
    yield first, second
    await first.aclose()
    await second.aclose()


async def test_the_authenticators_of_a_fleet_count_together(
    pair: tuple[RedisLoginThrottle, RedisLoginThrottle],
) -> None:
    first, second = pair
    for n in range(4):
        await (first if n % 2 else second).failed("account:a@example.com", limit=5)
        await first.check("account:a@example.com")
    await second.failed("account:a@example.com", limit=5)  # the fifth, at the other one
    for throttle in pair:
        with pytest.raises(TooManyRequests) as caught:
            await throttle.check("address:10.0.0.1", "account:a@example.com")
        assert caught.value.retry_after == 1
    await first.check("account:b@example.com")  # other keys are free
    for _ in range(10):
        await first.failed("account:a@example.com", limit=5)
    with pytest.raises(TooManyRequests) as caught:
        await second.check("account:a@example.com")
    assert caught.value.retry_after == 2  # the cap
    started = time.monotonic()
    while time.monotonic() - started < 3:  # within the cap after the last failure: free
        try:
            await second.check("account:a@example.com")
            break
        except TooManyRequests:
            await anyio.sleep(0.1)
    assert time.monotonic() - started <= 2.2
    await first.failed("account:a@example.com", limit=5)
    await second.succeeded("account:a@example.com")
    await first.check("account:a@example.com")


async def test_without_redis_logins_are_not_locked_out() -> None:
    """A bus outage must not lock everyone out: the throttle lets logins through."""
    down = RedisLoginThrottle(f"redis://127.0.0.1:{free_port()}/0", prefix="camloft-test:",
                              max_lock_seconds=60)
    for _ in range(10):
        await down.failed("account:a@example.com", limit=5)
    await down.check("account:a@example.com")
    await down.succeeded("account:a@example.com")
    await down.aclose()
