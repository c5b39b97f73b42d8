"""Failed logins lock a key for a growing, bounded time; success clears it."""

import pytest

from camloft.auth.throttle import LoginThrottle
from camloft.errors import TooManyRequests


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_locks_after_limit_and_backs_off_to_the_cap() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_lock_seconds=60, clock=clock)
    for _ in range(4):
        throttle.failed("k", limit=5)
        throttle.check("k")
    throttle.failed("k", limit=5)
    with pytest.raises(TooManyRequests) as caught:
        throttle.check("k")
    assert caught.value.retry_after == 1
    for _ in range(20):
        throttle.failed("k", limit=5)
    with pytest.raises(TooManyRequests) as caught:
        throttle.check("k")
    assert caught.value.retry_after == 60


def test_lock_ends_within_the_cap_after_the_last_failure() -> None:
    """The documented window: however many failures, the owner gets back in."""
    clock = Clock()
    throttle = LoginThrottle(max_lock_seconds=60, clock=clock)
    for _ in range(1000):
        throttle.failed("k", limit=5)
    clock.now += 60.01
    throttle.check("k")


def test_success_clears_and_quiet_forgets() -> None:
    clock = Clock()
    throttle = LoginThrottle(max_lock_seconds=60, forget_after_seconds=900, clock=clock)
    for _ in range(4):
        throttle.failed("k", limit=5)
    throttle.succeeded("k")
    throttle.failed("k", limit=5)
    throttle.check("k")
    for _ in range(3):
        throttle.failed("k", limit=5)
    clock.now += 901
    throttle.failed("k", limit=5)  # counts from one again
    throttle.check("k")


def test_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_lock_seconds=60, max_keys=100)
    for n in range(1000):
        throttle.failed(f"address:{n}", limit=5)
    assert len(throttle._entries) == 100
