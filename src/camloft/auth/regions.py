"""Finding a user's home region from a global entry authenticator.

A user whose record here names another region is sent there at once. A user
unknown here is looked up at the peer authenticators of `settings.regions`
through `/internal/region`, a call signed with the cluster secret; a peer only
ever answers for its own users and never asks further, so lookups cannot loop.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging

import httpx

from camloft.config import Settings

log = logging.getLogger("camloft.auth.regions")
LOOKUP_TIMEOUT_SECONDS = 3.0
CLUSTER_HEADER = "X-Camloft-Cluster"


def lookup_signature(secret: bytes, email: str) -> str:
    return hmac.new(secret, f"region-lookup:{email}".encode(), hashlib.sha256).hexdigest()


def signature_ok(secret: bytes, email: str, signature: str) -> bool:
    return hmac.compare_digest(lookup_signature(secret, email), signature)


async def find_home(settings: Settings, email: str) -> str | None:
    """The URL of the peer authenticator that holds `email`, if any does."""
    peers = [url for name, url in settings.regions.items() if name != settings.region]
    if not peers:
        return None
    signature = lookup_signature(settings.secret_bytes(), email)
    async with httpx.AsyncClient(timeout=LOOKUP_TIMEOUT_SECONDS) as client:
        answers = await asyncio.gather(*(_ask(client, url, email, signature) for url in peers))
    return next((url for url in answers if url is not None), None)


async def _ask(client: httpx.AsyncClient, url: str, email: str, signature: str) -> str | None:
    try:
        response = await client.get(
            f"{url}/internal/region",
            params={"email": email},
            headers={CLUSTER_HEADER: signature},
        )
    except httpx.HTTPError as err:
        log.warning("region lookup at %s failed: %s", url, err)
        return None
    return url if response.status_code == 200 else None
