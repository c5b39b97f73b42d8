"""Device keys: how an adapter proves which camera it speaks for, to a logger or a live origin.

Every call of an adapter carries its device's key (printed once by `camloft
admin device add`) as `Authorization: CamloftDevice <key>`. `DeviceKeys`
checks it against the account store (which keeps only its SHA-256) and
remembers the answer for a minute; `read_body` reads an upload with a limit.
"""

from __future__ import annotations

import hmac
import time

from fastapi import Request

from camloft.errors import BadRequest, Unauthorized
from camloft.ids import DeviceRef
from camloft.store.accounts import AccountStore
from camloft.tokens import sha256_hex

DEVICE_SCHEME = "camloftdevice"
KEY_CACHE_SECONDS = 60.0

# How an upload's body is declared in OpenAPI: segments go as video/mp2t and pictures as
# image/jpeg, declared as octet-stream, which every OpenAPI tool can send.
UPLOAD_BODY: dict[str, object] = {
    "requestBody": {
        "required": True,
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


class DeviceKeys:
    """Checks device keys against the account store, remembering answers for a minute."""

    def __init__(self, accounts: AccountStore) -> None:
        self._accounts = accounts
        self._known: dict[DeviceRef, tuple[str, float]] = {}

    async def verify(self, device: DeviceRef, key: str) -> None:
        digest = sha256_hex(key)
        cached = self._known.get(device)
        fresh = cached is not None and time.monotonic() - cached[1] <= KEY_CACHE_SECONDS
        if cached is not None and fresh and hmac.compare_digest(cached[0], digest):
            return
        # Unknown, stale, or a key that differs from the remembered one (a rekeyed
        # device): ask the store before refusing.
        found = await self._accounts.device(device)
        if found is None:
            self._known.pop(device, None)
            raise Unauthorized(f"no device {device}", code="invalid_device_key")
        self._known[device] = (found.key_hash, time.monotonic())
        if not hmac.compare_digest(found.key_hash, digest):
            raise Unauthorized(f"wrong key for device {device}", code="invalid_device_key")


async def device_with_key(keys: DeviceKeys, uidd: str, authorization: str | None) -> DeviceRef:
    """The device `uidd` names, once `authorization` carries its key."""
    device = DeviceRef.parse(uidd)
    scheme, _, key = (authorization or "").strip().partition(" ")
    if scheme.lower() != DEVICE_SCHEME or not key.strip():
        raise Unauthorized(
            "send the device key as 'Authorization: CamloftDevice <key>'", code="missing_device_key"
        )
    await keys.verify(device, key.strip()[:200])
    return device


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused as soon as it is known to pass `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise BadRequest(f"the body may be at most {limit} bytes", code="too_large")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BadRequest(f"the body may be at most {limit} bytes", code="too_large")
        chunks.append(chunk)
    return b"".join(chunks)
