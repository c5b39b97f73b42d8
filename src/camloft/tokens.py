"""Auth tokens: issued by the authenticator, verified locally by every role.

A token is shaped like the reference's sample::

    base64url("<uid>:<issued s>:<ttl s>:<region>:L,W,A")
    + "*" + base64url(HMAC-SHA256(secret, that first part))

`L,W,A` names the roles the token is good for (logger, wowza, authenticator).
Where the reference's sample has `0`, camloft puts the region whose
authenticator issued the token: uids are numbered per region, so a server
accepts only tokens of its own region.
Any process that holds the cluster secret verifies a token with one HMAC and no
network call. Expired, malformed and forged tokens all raise `Unauthorized`,
with a message that tells which, and never echo the token back.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from dataclasses import dataclass

from camloft.errors import Unauthorized

DEFAULT_TTL_SECONDS = 20 * 60
MAX_TOKEN_LENGTH = 512
ALL_ROLES = ("L", "W", "A")
# A token issued a little "in the future" by a host whose clock runs ahead is fine.
CLOCK_SKEW_SECONDS = 30


@dataclass(frozen=True, slots=True)
class TokenClaims:
    uid: int
    issued: int
    ttl: int
    region: str
    roles: tuple[str, ...]

    @property
    def expires(self) -> int:
        return self.issued + self.ttl


def sha256_hex(text: str) -> str:
    """How long random credentials (device keys, login secrets) are stored: hashed."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: bytes, payload: str) -> str:
    return _b64encode(hmac.new(secret, payload.encode("ascii"), hashlib.sha256).digest())


def issue_token(
    secret: bytes,
    uid: int,
    *,
    region: str,
    ttl: int = DEFAULT_TTL_SECONDS,
    now: float | None = None,
    roles: tuple[str, ...] = ALL_ROLES,
) -> str:
    issued = int(time.time() if now is None else now)
    payload = _b64encode(f"{uid}:{issued}:{ttl}:{region}:{','.join(roles)}".encode("ascii"))
    return f"{payload}*{_sign(secret, payload)}"


def verify_token(secret: bytes, token: str, *, now: float | None = None) -> TokenClaims:
    """Return the token's claims, or raise `Unauthorized` saying what is wrong."""
    if not token:
        raise Unauthorized("an auth token is required", code="missing_token")
    if len(token) > MAX_TOKEN_LENGTH or token.count("*") != 1:
        raise Unauthorized("the auth token is malformed", code="invalid_token")
    payload, signature = token.split("*")
    if not payload.isascii() or not signature.isascii():
        raise Unauthorized("the auth token is malformed", code="invalid_token")
    if not hmac.compare_digest(_sign(secret, payload), signature):
        raise Unauthorized("the auth token is not valid", code="invalid_token")
    try:
        fields = _b64decode(payload).decode("ascii").split(":")
        uid, issued, ttl, region = int(fields[0]), int(fields[1]), int(fields[2]), fields[3]
        roles = tuple(fields[4].split(","))
    except (binascii.Error, UnicodeDecodeError, ValueError, IndexError) as err:
        # Signed by us but unreadable: a token from an incompatible version.
        raise Unauthorized("the auth token is malformed", code="invalid_token") from err
    current = time.time() if now is None else now
    if issued > current + CLOCK_SKEW_SECONDS:
        raise Unauthorized("the auth token is issued in the future", code="invalid_token")
    if current >= issued + ttl:
        raise Unauthorized("the auth token has expired; log in again", code="expired_token")
    return TokenClaims(uid=uid, issued=issued, ttl=ttl, region=region, roles=roles)
