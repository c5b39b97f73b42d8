"""The login session and the one auth flow that keeps its token fresh.

`Session` is the state: the token, when it runs out, the `webLogin` refresh
credential and what the login answered. `TokenAuth` is an `httpx.Auth` flow,
written once as a generator, that drives both the sync and the async client
(as httpx's own auth classes do):

1. Before a request, if the token has used up `REFRESH_FRACTION` of its
   lifetime (15 of the reference's 20 minutes, its "call /login every 15
   minutes"), get a fresh one: `POST /login/refresh` with `webLogin`, or, when
   that is refused or absent, a new password login if the client holds the
   password.
2. Send the request with `Authorization: ManythingToken <token>`.
3. If it is answered `401` with a token error (the token expired anyway, e.g.
   a laptop that slept), refresh once and send it again.

No refresh possible (no credential, or it is refused): the 401 surfaces as
`AuthenticationError`, or `NotLoggedInError` before any token existed.
"""

from __future__ import annotations

import base64
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import httpx

from camloft.client._responses import error_code, json_body, raise_for_status
from camloft.client.errors import AuthenticationError, NotLoggedInError, ProtocolError

#: Share of a token's lifetime after which it is refreshed (15 of 20 minutes).
REFRESH_FRACTION = 0.75
DEFAULT_TTL = 1200.0  # the reference's 20 minutes, when the server does not say
TOKEN_ERRORS = frozenset({"missing_token", "invalid_token", "expired_token"})
MAX_LOGIN_REDIRECTS = 3


@dataclass
class Session:
    """What a login gives: enough to call the API and to get fresh tokens.

    `expires_at` is this machine's clock (seconds since the epoch) when the
    token runs out, counted from when it was received, so a server clock that
    differs does not matter. `to_json`/`from_json` store it (the CLI keeps it
    in a user-only file); the password is never part of it.
    """

    token: str
    authenticator: str
    expires_at: float
    ttl: float = DEFAULT_TTL
    uid: int | None = None
    email: str | None = None
    region: str | None = None
    web_login: str | None = None
    max_age_days: int | None = None

    def refresh_due(self, now: float | None = None) -> bool:
        now = time.time() if now is None else now
        return now >= self.expires_at - self.ttl * (1 - REFRESH_FRACTION)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Session:
        try:
            return cls(**{k: data[k] for k in cls.__dataclass_fields__ if k in data})
        except TypeError as err:
            raise ProtocolError(f"not a stored session: {err}") from err

    @classmethod
    def from_login(cls, result: Mapping[str, Any], *, entry: str) -> Session:
        """From a login result (`GET`/`POST /login`, `POST /login/refresh`)."""
        token = result.get("authToken")
        if not isinstance(token, str) or not token:
            raise ProtocolError("the login answer holds no authToken")
        ttl = result.get("tokenTtl")
        ttl = float(ttl) if isinstance(ttl, int | float) and ttl > 0 else token_ttl(token)
        info = result.get("accountInfo")
        max_age = info.get("maxAge") if isinstance(info, Mapping) else None
        authenticator = result.get("authenticator")
        return cls(
            token=token,
            authenticator=(authenticator if isinstance(authenticator, str) else entry).rstrip("/"),
            expires_at=time.time() + ttl,
            ttl=ttl,
            uid=result.get("uid") if isinstance(result.get("uid"), int) else None,
            email=result.get("email") if isinstance(result.get("email"), str) else None,
            region=result.get("region") if isinstance(result.get("region"), str) else None,
            web_login=result.get("webLogin") if isinstance(result.get("webLogin"), str) else None,
            max_age_days=max_age if isinstance(max_age, int) else None,
        )

    def renewed(self, result: Mapping[str, Any]) -> Session:
        """This session with the fresh token of a refresh answer (keeps `webLogin` if absent)."""
        fresh = Session.from_login(result, entry=self.authenticator)
        fresh.web_login = fresh.web_login or self.web_login
        return fresh


def token_ttl(token: str) -> float:
    """The lifetime written in a reference-shaped token (`uid:issued:ttl:...`), else 20 min."""
    try:
        head = token.split("*", 1)[0]
        fields = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)).decode().split(":")
        ttl = float(fields[2])
    except (ValueError, IndexError, UnicodeDecodeError):
        return DEFAULT_TTL
    return ttl if ttl > 0 else DEFAULT_TTL


@dataclass
class Credentials:
    """A password kept in memory only, to log in again when refreshing fails."""

    email: str
    password: str


class TokenAuth(httpx.Auth):
    """Adds the token to each request and keeps it fresh (see the module docstring)."""

    def __init__(
        self,
        entry: str,
        on_change: Callable[[Session], None] | None = None,
        *,
        timeout: float = 30.0,
    ) -> None:
        self.entry = entry.rstrip("/")
        self.timeout = httpx.Timeout(timeout)
        self.session: Session | None = None
        self.credentials: Credentials | None = None
        self.proactive = True  # refresh before expiry; tests turn it off to see the 401 path
        self._on_change = on_change
        self._lock = threading.Lock()

    # httpx's drivers, reading only the bodies the flow looks at: never a streamed media body.

    def sync_auth_flow(
        self, request: httpx.Request
    ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self.auth_flow(request)
        sent = next(flow)
        while True:
            response = yield sent
            if sent is not request or response.status_code == 401:
                response.read()
            try:
                sent = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self.auth_flow(request)
        sent = next(flow)
        while True:
            response = yield sent
            if sent is not request or response.status_code == 401:
                await response.aread()
            try:
                sent = flow.send(response)
            except StopIteration:
                return

    # The flow, written once ---------------------------------------------------------------

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        session = self.session
        if session is None:
            if self.credentials is None:
                raise NotLoggedInError("log in first: no token and no credentials")
            yield from self._login_flow()
        elif self.proactive and session.refresh_due():
            yield from self._refresh_flow()
        self._sign(request)
        response = yield request
        refused = response.status_code == 401 and error_code(response) in TOKEN_ERRORS
        if refused and self._can_refresh():
            yield from self._refresh_flow()
            self._sign(request)
            yield request

    def _sign(self, request: httpx.Request) -> None:
        assert self.session is not None
        request.headers["Authorization"] = f"ManythingToken {self.session.token}"

    def _can_refresh(self) -> bool:
        return self.credentials is not None or (
            self.session is not None and self.session.web_login is not None
        )

    def _refresh_flow(self) -> Generator[httpx.Request, httpx.Response, None]:
        session = self.session
        if session is not None and session.web_login:
            response = yield self._build(
                f"{session.authenticator}/login/refresh", {"webLogin": session.web_login}
            )
            if response.status_code == 200:
                self._set(session.renewed(login_result(response)))
                return
            if response.status_code != 401 or self.credentials is None:
                raise_for_login(response)
        if self.credentials is None:
            raise AuthenticationError(
                401, "expired_token", "the token ran out and there is no way to refresh it"
            )
        yield from self._login_flow()

    def _login_flow(self) -> Generator[httpx.Request, httpx.Response, None]:
        """`POST /login` with the password, following a region's `location`."""
        assert self.credentials is not None
        base = self.session.authenticator if self.session else self.entry
        body = {"email": self.credentials.email, "password": self.credentials.password}
        for _ in range(MAX_LOGIN_REDIRECTS + 1):
            response = yield self._build(f"{base}/login", body)
            raise_for_login(response)
            answer = json_body(response)
            if isinstance(answer.get("location"), str):
                base = answer["location"].rstrip("/")
                continue
            self._set(Session.from_login(login_result(response), entry=base))
            return
        raise ProtocolError("too many region redirects at login")

    def _build(self, url: str, body: Mapping[str, str]) -> httpx.Request:
        return httpx.Request("POST", url, json=body, extensions={"timeout": self.timeout.as_dict()})

    def login_requests(self) -> Generator[httpx.Request, httpx.Response, None]:
        """A password login on its own (the credentials must be set)."""
        return self._login_flow()

    def refresh_requests(self) -> Generator[httpx.Request, httpx.Response, None]:
        """A refresh on its own: `webLogin`, else the password."""
        if not self._can_refresh():
            raise NotLoggedInError("no refresh credential and no password: log in again")
        return self._refresh_flow()

    def _set(self, session: Session) -> None:
        with self._lock:
            self.session = session
        if self._on_change is not None:
            self._on_change(session)


def login_result(response: httpx.Response) -> Mapping[str, Any]:
    result = json_body(response).get("result")
    if not isinstance(result, dict):
        raise ProtocolError("the login answer holds no result")
    return result


def raise_for_login(response: httpx.Response) -> None:
    """Turn an error answer of a login call into our exception."""
    raise_for_status(response)
