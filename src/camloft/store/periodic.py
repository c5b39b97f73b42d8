"""Background jobs over the stores: one run every N seconds, for as long as the server runs.

A store's hiccup (the database or the blob store not answering, a disk
error) is logged and the job runs again at its next turn; anything else is a
bug and ends the job loudly.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from sqlalchemy.exc import SQLAlchemyError

from camloft.errors import BlobStoreUnavailable

log = logging.getLogger("camloft.store.periodic")
STORE_ERRORS = (OSError, SQLAlchemyError, BlobStoreUnavailable)


async def run_every(seconds: float, job: Callable[[], Awaitable[object]], *, what: str) -> None:
    """Run `job` now and then every `seconds` (from the end of one run to the next)."""
    while True:
        try:
            await job()
        except STORE_ERRORS as err:
            log.error("%s failed, trying again in %g s: %s", what, seconds, err)
        await asyncio.sleep(seconds)
