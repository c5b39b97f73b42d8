"""Login throttling in Redis: the authenticators of a fleet count failures together.

The same rules as `camloft.auth.throttle.LoginThrottle` (read there), with
the state in one Redis hash per key: `failures` and `locked_until` (wall
clock ms, as the processes share no monotonic clock), expiring after
`forget_after_seconds` of quiet. Keys are stored hashed, so Redis holds no
email or client address. When Redis does not answer, logins are let through
(and it is logged once): a bus outage must not lock every user out.
"""

from __future__ import annotations

import hashlib
import logging
import time

from redis.asyncio import Redis
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from redis.retry import Retry

from camloft.auth.throttle import lock_seconds, log_lock, too_many

log = logging.getLogger("camloft.auth.throttle")
COMMAND_SECONDS = 2.0
# Any Redis trouble (down, read-only after a failover, out of memory, no permission).
_LOST = (RedisError, OSError)


class RedisLoginThrottle:
    def __init__(
        self,
        url: str,
        *,
        prefix: str,
        max_lock_seconds: float,
        forget_after_seconds: float = 15 * 60,
    ) -> None:
        self.max_lock_seconds = max_lock_seconds
        self.forget_after_ms = int(forget_after_seconds * 1000)
        self._prefix = f"{prefix}throttle:"
        # No retries: a login must not wait for Redis several times over.
        self._redis = Redis.from_url(
            url,
            socket_connect_timeout=COMMAND_SECONDS,
            socket_timeout=COMMAND_SECONDS,
            retry=Retry(NoBackoff(), 0),
        )
        self._down = False

    def _name(self, key: str) -> str:
        return self._prefix + hashlib.sha256(key.encode()).hexdigest()[:32]

    async def check(self, *keys: str) -> None:
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hget(self._name(key), "locked_until")
                answers = await pipe.execute()
        except _LOST as err:
            self._lost(err)
            return
        self._back()
        now_ms = time.time() * 1000
        for locked_until in answers:
            if locked_until is not None and int(locked_until) > now_ms:
                raise too_many((int(locked_until) - now_ms) / 1000)

    async def failed(self, key: str, limit: int) -> None:
        name = self._name(key)
        try:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hincrby(name, "failures", 1)
                pipe.pexpire(name, self.forget_after_ms)
                failures, _ = await pipe.execute()
            lock = lock_seconds(int(failures), limit, self.max_lock_seconds)
            if lock:
                await self._redis.hset(name, "locked_until", int(time.time() * 1000 + lock * 1000))
                log_lock(key, int(failures), limit, lock)
        except _LOST as err:
            self._lost(err)
            return
        self._back()

    async def succeeded(self, *keys: str) -> None:
        try:
            await self._redis.delete(*(self._name(key) for key in keys))
        except _LOST as err:
            self._lost(err)

    async def aclose(self) -> None:
        await self._redis.aclose()

    def _lost(self, err: Exception) -> None:
        if not self._down:
            self._down = True
            log.error("login throttling: Redis does not answer (%s); not throttling", err)

    def _back(self) -> None:
        if self._down:
            self._down = False
            log.info("login throttling: Redis answers again")
