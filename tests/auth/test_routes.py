"""The authenticator API as the reference shows it, against `camloft serve` on each backend."""

from __future__ import annotations

import base64
import time

import httpx
import pytest

from camloft.tokens import issue_token
from tests.conftest import Deployment
from tests.support import auth_header, login

OWNER = ("demo@example.com", "demo")
VIEWER = ("viewer@example.com", "viewer")


def get(deployment: Deployment, path: str, **kwargs: object) -> httpx.Response:
    return httpx.get(f"{deployment.url}{path}", **kwargs)  # type: ignore[arg-type]


# /login


def test_login_as_the_reference_shows(deployment: Deployment) -> None:
    response = get(deployment, "/login", params={"email": OWNER[0], "password": OWNER[1]})
    assert response.status_code == 200
    result = response.json()["result"]
    assert isinstance(result["uid"], int)
    assert result["authToken"].count("*") == 1
    assert result["authenticator"] == deployment.url
    assert result["region"] == "local"
    assert result["email"] == OWNER[0]
    assert abs(result["time"] - time.time() * 1000) < 60_000
    assert result["accountInfo"] == {
        "maxAge": 7, "maxDevices": 10, "type": "free", "provider": "camloft",
    }
    payload = base64.urlsafe_b64decode(result["authToken"].split("*")[0] + "==").decode()
    assert payload.split(":")[2] == "1200"  # 20 minutes


def test_email_is_case_insensitive(deployment: Deployment) -> None:
    assert login(deployment.url, "Demo@Example.COM", "demo")


@pytest.mark.parametrize(
    "params",
    [{"email": OWNER[0], "password": "wrong"}, {"email": "nobody@example.com", "password": "x"}],
)
def test_wrong_password_and_unknown_email_look_the_same(
    deployment: Deployment, params: dict[str, str]
) -> None:
    response = get(deployment, "/login", params=params)
    assert response.status_code == 401
    assert response.json() == {"error": "login_failed", "message": "wrong email or password"}


@pytest.mark.parametrize("params", [{}, {"email": OWNER[0]}, {"password": "demo"}])
def test_missing_credentials_are_400(deployment: Deployment, params: dict[str, str]) -> None:
    response = get(deployment, "/login", params=params)
    assert response.status_code == 400
    assert response.json()["error"] == "missing_credentials"


def test_website_login_sets_cookie_and_cookielogin_uses_it(deployment: Deployment) -> None:
    with httpx.Client(base_url=deployment.url) as browser:
        first = browser.get("/login", params={
            "email": OWNER[0], "password": OWNER[1], "caller": "website"})
        assert first.status_code == 200
        cookie = first.headers["set-cookie"]
        assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
        again = browser.get("/login", params={"caller": "cookielogin"})
        assert again.status_code == 200
        assert again.json()["result"]["uid"] == first.json()["result"]["uid"]
        token = again.json()["result"]["authToken"]
        assert get(deployment, "/devices", headers=auth_header(token)).status_code == 200
        assert browser.post("/logout").status_code == 200
        browser.cookies.set("camloft_login", cookie.split(";")[0].split("=", 1)[1])
        assert browser.get("/login", params={"caller": "cookielogin"}).status_code == 401


def test_cookielogin_without_or_with_forged_cookie_is_401(deployment: Deployment) -> None:
    assert get(deployment, "/login", params={"caller": "cookielogin"}).status_code == 401
    forged = get(deployment, "/login", params={"caller": "cookielogin"},
                 cookies={"camloft_login": "0" * 32 + ".guess"})
    assert forged.status_code == 401
    assert forged.json()["error"] == "invalid_login"


def test_json_login_and_web_login_refresh(deployment: Deployment) -> None:
    response = httpx.post(f"{deployment.url}/login",
                          json={"email": VIEWER[0], "password": VIEWER[1]})
    assert response.status_code == 200
    result = response.json()["result"]
    assert result["region"] == "local" and result["authToken"] and result["webLogin"]
    for body in ({"content": result["webLogin"]}, {"json": result["webLogin"]},
                 {"json": {"webLogin": result["webLogin"]}}):
        refreshed = httpx.post(f"{deployment.url}/login/refresh", **body)  # type: ignore[arg-type]
        assert refreshed.status_code == 200, refreshed.text
        assert refreshed.json()["result"]["uid"] == result["uid"]
    bad = httpx.post(f"{deployment.url}/login/refresh", content=result["webLogin"] + "x")
    assert bad.status_code == 401


def test_json_login_with_wrong_password_is_401(deployment: Deployment) -> None:
    response = httpx.post(f"{deployment.url}/login", json={"email": VIEWER[0], "password": "no"})
    assert response.status_code == 401


@pytest.mark.parametrize(
    "body", [b"", b"{", b"[]", b'{"email": 1}', b'{"email": "a"}', b"\xff\xfe"]
)
def test_json_login_garbage_is_400(deployment: Deployment, body: bytes) -> None:
    response = httpx.post(f"{deployment.url}/login", content=body,
                          headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


# tokens on every call


def test_token_missing_expired_forged_are_401(deployment: Deployment) -> None:
    missing = get(deployment, "/devices")
    assert missing.status_code == 401 and missing.json()["error"] == "missing_token"
    uid = httpx.get(f"{deployment.url}/login", params={
        "email": OWNER[0], "password": OWNER[1]}).json()["result"]["uid"]
    expired = issue_token(deployment.secret.encode(), uid, region="local", now=time.time() - 1201)
    answer = get(deployment, "/devices", headers=auth_header(expired))
    assert answer.status_code == 401 and answer.json()["error"] == "expired_token"
    forged = issue_token(b"x" * 48, uid, region="local")
    answer = get(deployment, "/devices", headers=auth_header(forged))
    assert answer.status_code == 401 and answer.json()["error"] == "invalid_token"


def test_token_of_another_region_is_401(deployment: Deployment) -> None:
    """uids are numbered per region: a token from elsewhere would name another user."""
    token = issue_token(deployment.secret.encode(), 1, region="elsewhere")
    answer = get(deployment, "/devices", headers=auth_header(token))
    assert answer.status_code == 401 and answer.json()["error"] == "wrong_region"


def test_nul_characters_are_400_not_500(deployment: Deployment) -> None:
    """PostgreSQL cannot store NUL; the fuzzer found the 500 this protects against."""
    response = get(deployment, "/login", params={"email": "a\x00b@example.com", "password": "x"})
    assert response.status_code == 400
    created = httpx.post(f"{deployment.url}/admin/users", headers=auth_header(
        deployment.admin_token), json={"email": "n@example.com", "password": "p", "alias": "\x00"})
    assert created.status_code == 400


def test_token_accepted_in_header_token_and_usertoken(deployment: Deployment) -> None:
    token = login(deployment.url, *VIEWER)
    for kwargs in ({"headers": auth_header(token)}, {"params": {"token": token}},
                   {"params": {"userToken": token}},
                   {"headers": {"Authorization": f"Bearer {token}"}}):
        assert get(deployment, "/devices", **kwargs).status_code == 200


# /devices, /devices/viewerInfo, /cameras


def test_devices_grouped_by_owner_with_alias(deployment: Deployment) -> None:
    token = login(deployment.url, *VIEWER)
    body = get(deployment, "/devices", headers=auth_header(token)).json()
    assert body["errors"] == []
    (owner_uid, group), = body["result"].items()
    assert group["alias"] == "Demo Customer"
    names = {d["phonename"] for d in group["devices"].values()}
    assert names == {"Front Door", "Garden", "Garage"}
    for device_id, device in group["devices"].items():
        assert device == {
            "uidd": f"{owner_uid}.{device_id}", "phonename": device["phonename"],
            "permissions": ["r"],
        }


def test_owner_sees_admin_permission(deployment: Deployment) -> None:
    token = login(deployment.url, *OWNER)
    body = get(deployment, "/devices", headers=auth_header(token)).json()
    for group in body["result"].values():
        assert all(d["permissions"] == ["a"] for d in group["devices"].values())


def test_viewer_info_details_and_errors(deployment: Deployment) -> None:
    token = login(deployment.url, *VIEWER)
    devices = get(deployment, "/devices", headers=auth_header(token)).json()["result"]
    uidds = [d["uidd"] for g in devices.values() for d in g["devices"].values()]
    stranger = deployment.new_user()
    stranger_device = deployment.new_device(str(stranger["email"]))
    response = get(deployment, "/devices/viewerInfo", headers=auth_header(token),
                   params={"uidd": [uidds[0], stranger_device, "999999.1"]})
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] == [{stranger_device: "Unauthorized"}, {"999999.1": "Unauthorized"}]
    owner, device_id = uidds[0].split(".")
    info = body["result"][owner]["devices"][device_id]
    host = deployment.url.removeprefix("http://")
    assert info["logger"] == host and info["wowza"] == host
    assert info["loggerUrl"] == deployment.url and info["wowzaUrl"] == deployment.url
    assert info["streamname"].startswith(f"{uidds[0]}_") and info["streamname"].endswith("-nr")
    assert info["cloudRecordingEnabled"] == 1
    for key in ("appVersion", "deviceType", "language", "phoneid"):
        assert isinstance(info[key], str) and info[key]
    assert body["result"][owner]["alias"] == "Demo Customer"


def test_viewer_info_without_uidd_answers_for_every_device(deployment: Deployment) -> None:
    token = login(deployment.url, *VIEWER)
    body = get(deployment, "/devices/viewerInfo", headers=auth_header(token)).json()
    assert sum(len(g["devices"]) for g in body["result"].values()) == 3
    older_name = get(deployment, "/devices/viewerInfo", headers=auth_header(token),
                     params={"uid": next(iter(body["result"])) + ".1"}).json()
    assert sum(len(g["devices"]) for g in older_name["result"].values()) == 1


def test_cameras_flat_list(deployment: Deployment) -> None:
    token = login(deployment.url, *VIEWER)
    cameras = get(deployment, "/cameras", headers=auth_header(token)).json()
    assert len(cameras) == 3
    for camera in cameras:
        assert camera["uidd"] == f"{camera['uid']}.{camera['id']}"
        for key in ("phonename", "logger", "wowza", "streamname", "loggerUrl", "wowzaUrl"):
            assert camera[key]


@pytest.mark.parametrize(
    "uidd", ["1", "a.b", "12.", "../../etc/passwd", "1.99999999999999999999", "%00", "1.1.1"]
)
def test_malformed_uidd_is_400_json(deployment: Deployment, uidd: str) -> None:
    token = login(deployment.url, *VIEWER)
    for path in ("/devices", "/devices/viewerInfo"):
        response = get(deployment, path, headers=auth_header(token), params={"uidd": uidd})
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_id"


def test_unknown_route_and_method_are_json(deployment: Deployment) -> None:
    missing = get(deployment, "/no/such/thing")
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    wrong = httpx.delete(f"{deployment.url}/devices")
    assert wrong.status_code == 405 and wrong.json()["error"] == "method_not_allowed"


def test_no_password_or_token_in_the_server_log(deployment: Deployment) -> None:
    secret_password = "pw-in-log-check-1234"
    user = deployment.new_user(password=secret_password)
    token = login(deployment.url, str(user["email"]), secret_password)
    get(deployment, "/devices", params={"token": token})
    get(deployment, "/devices", params={"userToken": token})
    log = deployment.server.log()
    assert "GET /devices" in log  # the access log is on, and redacted
    assert secret_password not in log
    assert token not in log
    assert token.split("*")[1] not in log
