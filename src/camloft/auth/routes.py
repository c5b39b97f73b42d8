"""The authenticator's HTTP API: section 1.2 of the reference and the newer client shapes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import BaseModel, Field

from camloft.auth import shapes
from camloft.auth.regions import CLUSTER_HEADER, signature_ok
from camloft.auth.service import Authenticator, Visible
from camloft.errors import BadRequest, Forbidden, NotFound, Unauthorized
from camloft.store.accounts import User
from camloft.webapi.deps import AppSettings, CurrentClaims, Uidds, Uids, asked_devices
from camloft.webapi.device_keys import DeviceKeys, device_with_key

LOGIN_COOKIE = "camloft_login"
MAX_CREDENTIAL_BODY = 4096

router = APIRouter(tags=["authenticator"])


def authenticator_of(request: Request) -> Authenticator:
    service: Authenticator = request.app.state.authenticator
    return service


AuthService = Annotated[Authenticator, Depends(authenticator_of)]


def client_address(request: Request) -> str:
    """The peer address; behind a trusted proxy uvicorn has set it from X-Forwarded-For."""
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


class LoginBody(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(max_length=1024)


def _login_answer(auth: Authenticator, user: User, **extra: Any) -> dict[str, Any]:
    return {"result": shapes.login_result(auth.settings, user, auth.issue_token(user)) | extra}


def _set_login_cookie(response: Response, auth: Authenticator, credential: str) -> None:
    response.set_cookie(
        LOGIN_COOKIE,
        credential,
        max_age=auth.settings.login_cookie_days * 86400,
        httponly=True,
        samesite="lax",
        secure=auth.settings.base_url.startswith("https://"),
    )


@router.get("/login", summary="Log in (the reference's GET form)")
async def login_get(
    request: Request,
    auth: AuthService,
    client: ClientAddress,
    email: Annotated[str | None, Query(max_length=254)] = None,
    password: Annotated[str | None, Query(max_length=1024)] = None,
    caller: Annotated[str | None, Query(max_length=32)] = None,
) -> Response:
    """`caller=website` also sets a long-lived login cookie; `caller=cookielogin` logs
    in from that cookie with no password. A user of another region is redirected (307)
    to that region's authenticator."""
    if caller == "cookielogin":
        credential = request.cookies.get(LOGIN_COOKIE)
        if not credential:
            raise Unauthorized(
                "no login cookie; log in with email and password", code="no_login_cookie"
            )
        return JSONResponse(_login_answer(auth, await auth.user_from_web_login(credential)))
    if email is None or password is None:
        raise BadRequest("email and password are required", code="missing_credentials")
    outcome = await auth.login(email, password, client)
    if outcome.user is None:
        assert outcome.elsewhere is not None
        return RedirectResponse(f"{outcome.elsewhere}/login?{request.url.query}", 307)
    response = JSONResponse(_login_answer(auth, outcome.user))
    if caller == "website":
        _set_login_cookie(response, auth, await auth.create_web_login(outcome.user))
    return response


@router.post("/login", summary="Log in with a JSON body (newer clients)")
async def login_post(body: LoginBody, auth: AuthService, client: ClientAddress) -> Response:
    """Answers `result.authToken`, `result.webLogin` (a refresh credential for
    `/login/refresh`) and `result.region`; or `{"location": <authenticator>}` for a
    user of another region."""
    outcome = await auth.login(body.email, body.password, client)
    if outcome.user is None:
        return JSONResponse({"location": outcome.elsewhere})
    credential = await auth.create_web_login(outcome.user)
    return JSONResponse(_login_answer(auth, outcome.user, webLogin=credential))


async def _credential_from_body(request: Request) -> str:
    raw = await request.body()
    if len(raw) > MAX_CREDENTIAL_BODY:
        raise BadRequest("the body is too large for a login credential")
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = text
    if isinstance(parsed, dict):
        parsed = parsed.get("webLogin")
    if not isinstance(parsed, str) or not parsed:
        raise BadRequest("send the webLogin credential as the body", code="missing_credentials")
    return parsed


_CREDENTIAL_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"type": "string"},
                        {
                            "type": "object",
                            "properties": {"webLogin": {"type": "string"}},
                            "required": ["webLogin"],
                        },
                    ]
                }
            },
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


@router.post(
    "/login/refresh",
    summary="A fresh token from a webLogin credential",
    openapi_extra=_CREDENTIAL_BODY,
)
async def login_refresh(request: Request, auth: AuthService) -> dict[str, Any]:
    credential = await _credential_from_body(request)
    user = await auth.user_from_web_login(credential)
    return _login_answer(auth, user, webLogin=credential)


@router.post("/logout", summary="End the long-lived login of this cookie or credential")
async def logout(request: Request, auth: AuthService) -> Response:
    credential = request.cookies.get(LOGIN_COOKIE)
    if credential is None and await request.body():
        credential = await _credential_from_body(request)
    if credential:
        await auth.end_web_login(credential)
    response = JSONResponse({"result": "logged out"})
    response.delete_cookie(LOGIN_COOKIE)
    return response


async def _visible(
    auth: Authenticator, claims: CurrentClaims, uidd: list[str] | None, uid: list[str] | None
) -> tuple[Visible, dict[int, str]]:
    visible = await auth.visible_devices(claims.uid, asked_devices(uidd, uid))
    aliases = await auth.store.aliases(item.device.ref.uid for item in visible.devices)
    return visible, aliases


@router.get("/devices", summary="Devices the user may see, grouped by owner")
async def devices(
    auth: AuthService, claims: CurrentClaims, uidd: Uidds = None, uid: Uids = None
) -> JSONResponse:
    visible, aliases = await _visible(auth, claims, uidd, uid)
    return JSONResponse(shapes.grouped(auth.settings, visible, aliases, details=False))


@router.get("/devices/viewerInfo", summary="Details of devices: logger, wowza, streamname")
async def viewer_info(
    auth: AuthService, claims: CurrentClaims, uidd: Uidds = None, uid: Uids = None
) -> JSONResponse:
    visible, aliases = await _visible(auth, claims, uidd, uid)
    return JSONResponse(shapes.grouped(auth.settings, visible, aliases, details=True))


@router.get("/cameras", summary="Every device the user may see, as a flat list")
async def cameras(auth: AuthService, claims: CurrentClaims) -> JSONResponse:
    visible, aliases = await _visible(auth, claims, None, None)
    return JSONResponse(shapes.cameras(auth.settings, visible, aliases))


@router.get(
    "/adapter/v1/home/{uidd}",
    summary="Where a device's adapter sends its video: its logger and live origin (adapters only)",
)
async def adapter_home(
    request: Request,
    auth: AuthService,
    uidd: str,
    authorization: Annotated[str | None, Header()] = None,
) -> dict[str, Any]:
    """Asked by an adapter at start, and whenever its logger stops answering or says the
    device moved: in a fleet, a device whose logger is gone is placed anew first."""
    keys: DeviceKeys = request.app.state.device_keys
    ref = await device_with_key(keys, uidd, authorization)
    device = await auth.store.device(ref)
    if device is None:
        raise NotFound(f"no device {ref}")
    return shapes.device_home(auth.settings, await auth.placed_device(device))


@router.get("/internal/region", summary="Cluster-internal: does this region hold the user?")
async def internal_region(
    auth: AuthService,
    settings: AppSettings,
    email: Annotated[str, Query(max_length=254)],
    signature: Annotated[str | None, Header(alias=CLUSTER_HEADER)] = None,
) -> dict[str, str]:
    if not signature or not signature_ok(settings.secret_bytes(), email, signature):
        raise Forbidden("this call is for the cluster's authenticators only")
    user = await auth.store.user_by_email(email)
    if user is None or user.region != settings.region:
        raise NotFound("no such user in this region")
    return {"region": settings.region}


@router.get("/me", summary="The logged-in user")
async def me(auth: AuthService, claims: CurrentClaims) -> dict[str, Any]:
    user = await auth.store.user(claims.uid)
    if user is None:
        raise Unauthorized("the user of this token no longer exists", code="unknown_user")
    return {
        "result": {
            "uid": user.uid,
            "email": user.email,
            "alias": user.alias,
            "region": user.region,
            "admin": user.is_admin,
        }
    }
