"""Request dependencies shared by every role: the verified token and its bearer.

A token is accepted as `Authorization: ManythingToken <t>`, as the query
parameter `token=` or `userToken=`; routes whose path ends in the token (the
reference's image URLs) pass it in themselves.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, APIKeyQuery

from camloft.config import Settings
from camloft.errors import Unauthorized
from camloft.ids import DeviceRef
from camloft.tokens import TokenClaims, verify_token

# Declared so that OpenAPI documents where a token may go.
_header = APIKeyHeader(
    name="Authorization",
    scheme_name="ManythingToken",
    auto_error=False,
    description="`ManythingToken <authToken>` as returned by /login",
)
_token_query = APIKeyQuery(name="token", scheme_name="token", auto_error=False)
_user_token_query = APIKeyQuery(name="userToken", scheme_name="userToken", auto_error=False)

SCHEMES = ("manythingtoken", "bearer")


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


AppSettings = Annotated[Settings, Depends(settings_of)]


def token_in_header(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() in SCHEMES:
        return value.strip()
    return None


def find_token(
    header: Annotated[str | None, Depends(_header)],
    token: Annotated[str | None, Depends(_token_query)],
    user_token: Annotated[str | None, Depends(_user_token_query)],
) -> str:
    return token_in_header(header) or token or user_token or ""


def current_claims(
    settings: AppSettings, token: Annotated[str, Depends(find_token)]
) -> TokenClaims:
    return claims_of(settings, token)


def claims_of(settings: Settings, token: str) -> TokenClaims:
    """A token's claims, if it is valid here (signed, fresh, of a region served here)."""
    claims = verify_token(settings.secret_bytes(), token)
    if not settings.takes_tokens_of(claims.region):
        # uids are numbered per region: this uid here would be somebody else.
        raise Unauthorized(
            f"this token is of region {claims.region!r}; use that region's servers",
            code="wrong_region",
        )
    return claims


CurrentClaims = Annotated[TokenClaims, Depends(current_claims)]


Uidds = Annotated[
    list[str] | None,
    Query(description="uid.deviceid; repeat for several devices", max_length=10_000),
]
Uids = Annotated[
    list[str] | None,
    Query(description="the reference's older name of `uidd`", max_length=10_000),
]


def asked_devices(uidd: list[str] | None, uid: list[str] | None) -> list[DeviceRef] | None:
    """Devices named by `uidd=`/`uid=`, once each (None when none is named: all visible)."""
    names = (uidd or []) + (uid or [])
    return list(dict.fromkeys(DeviceRef.parse(name) for name in names)) if names else None
