"""Slowing down password guessing, per account and per client address.

Each key (an account's email, a client address) counts its failed logins.
Once a key reaches its limit it is locked for 1 s, then 2 s, 4 s ... after
each further failure, never longer than `max_lock_seconds`. While locked, a
login is refused with 429 and `Retry-After` before any password is checked,
so a flood of guesses costs the server almost nothing. A success clears the
key. Counts are forgotten after `forget_after_seconds` of quiet.

So after any number of wrong passwords, the right one works again at most
`max_lock_seconds` (default 60 s) after the last wrong one: that is the
documented window in README.md.

`LoginThrottle` keeps the state in this process's memory, bounded to
`max_keys` keys; `RedisLoginThrottle` (`camloft.auth.throttle_redis`) keeps
it in Redis, so that the authenticators of a fleet count together.
"""

from __future__ import annotations

import logging
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from camloft.errors import TooManyRequests

log = logging.getLogger("camloft.auth.throttle")


class Throttle(Protocol):
    async def check(self, *keys: str) -> None:
        """Raise `TooManyRequests` if any key is locked now."""
        ...

    async def failed(self, key: str, limit: int) -> None:
        """Count a failed login of `key`; lock it from the `limit`th on."""
        ...

    async def succeeded(self, *keys: str) -> None: ...


def lock_seconds(failures: int, limit: int, max_lock_seconds: float) -> float:
    """How long `failures` failed logins lock a key: 0 below `limit`, then 1 s doubling."""
    if failures < limit:
        return 0.0
    return min(2.0 ** min(failures - limit, 30), max_lock_seconds)


def log_lock(key: str, failures: int, limit: int, lock: float) -> None:
    if failures == limit or failures % 100 == 0:
        log.warning(
            "login throttled for %s after %d failed attempts (locked %.0f s)", key, failures, lock
        )


def too_many(locked_for: float) -> TooManyRequests:
    return TooManyRequests(
        "too many failed logins; wait before trying again",
        retry_after=max(1, math.ceil(locked_for)),
    )


@dataclass(slots=True)
class _Entry:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


class LoginThrottle:
    def __init__(
        self,
        *,
        max_lock_seconds: float,
        forget_after_seconds: float = 15 * 60,
        max_keys: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_lock_seconds = max_lock_seconds
        self.forget_after_seconds = forget_after_seconds
        self.max_keys = max_keys
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    async def check(self, *keys: str) -> None:
        now = self._clock()
        for key in keys:
            entry = self._entries.get(key)
            if entry is not None and entry.locked_until > now:
                raise too_many(entry.locked_until - now)

    async def failed(self, key: str, limit: int) -> None:
        now = self._clock()
        entry = self._entries.pop(key, None)
        if entry is None or now - entry.last_failure > self.forget_after_seconds:
            entry = _Entry()
        entry.failures += 1
        entry.last_failure = now
        lock = lock_seconds(entry.failures, limit, self.max_lock_seconds)
        if lock:
            entry.locked_until = now + lock
            log_lock(key, entry.failures, limit, lock)
        self._entries[key] = entry
        while len(self._entries) > self.max_keys:
            self._entries.popitem(last=False)

    async def succeeded(self, *keys: str) -> None:
        for key in keys:
            self._entries.pop(key, None)
