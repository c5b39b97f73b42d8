"""Sharing (an owner's own grants) and server administration as JSON endpoints."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Deployment
from tests.support import auth_header, login

PASSWORD = "pw-12345"


def post(deployment: Deployment, path: str, token: str, body: object) -> httpx.Response:
    return httpx.post(f"{deployment.url}{path}", headers=auth_header(token), json=body)


def visible(deployment: Deployment, token: str) -> dict[str, list[str]]:
    """uidd -> permissions of every device the token sees."""
    body = httpx.get(f"{deployment.url}/devices", headers=auth_header(token)).json()
    return {d["uidd"]: d["permissions"] for g in body["result"].values()
            for d in g["devices"].values()}


def test_owner_shares_a_device_then_all_then_revokes(deployment: Deployment) -> None:
    owner = deployment.new_user(alias="Owner Person")
    viewer = deployment.new_user()
    first = deployment.new_device(str(owner["email"]), "Porch")
    second = deployment.new_device(str(owner["email"]), "Yard")
    owner_token = login(deployment.url, str(owner["email"]), PASSWORD)
    viewer_token = login(deployment.url, str(viewer["email"]), PASSWORD)
    assert visible(deployment, viewer_token) == {}

    shared = post(deployment, "/sharing", owner_token,
                  {"email": viewer["email"], "device": first, "right": "a"})
    assert shared.status_code == 200, shared.text
    assert shared.json()["result"] == {
        "viewer": viewer["email"], "viewerUid": viewer["uid"], "target": first, "right": "a"}
    assert visible(deployment, viewer_token) == {first: ["a"]}

    post(deployment, "/sharing", owner_token, {"email": viewer["email"], "right": "r"})
    assert visible(deployment, viewer_token) == {first: ["a"], second: ["r"]}
    listed = httpx.get(f"{deployment.url}/sharing", headers=auth_header(owner_token)).json()
    assert {g["target"] for g in listed["result"]} == {first, str(owner["uid"])}

    revoked = post(deployment, "/sharing/revoke", owner_token, {"email": viewer["email"]})
    assert revoked.status_code == 200
    assert visible(deployment, viewer_token) == {first: ["a"]}
    again = post(deployment, "/sharing/revoke", owner_token, {"email": viewer["email"]})
    assert again.status_code == 404


def test_sharing_twice_keeps_one_grant(deployment: Deployment) -> None:
    owner, viewer = deployment.new_user(), deployment.new_user()
    token = login(deployment.url, str(owner["email"]), PASSWORD)
    for right in ("r", "a"):
        post(deployment, "/sharing", token, {"email": viewer["email"], "right": right})
    grants = httpx.get(f"{deployment.url}/sharing", headers=auth_header(token)).json()["result"]
    assert [(g["viewer"], g["right"]) for g in grants] == [(viewer["email"], "a")]


def test_cannot_share_someone_elses_device(deployment: Deployment) -> None:
    owner, other = deployment.new_user(), deployment.new_user()
    device = deployment.new_device(str(owner["email"]))
    token = login(deployment.url, str(other["email"]), PASSWORD)
    response = post(deployment, "/sharing", token, {"email": other["email"], "device": device})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("body", "status"),
    [({"email": "nobody@example.com"}, 404), ({"email": "x", "right": "w"}, 400),
     ({"email": "x", "device": "1.x"}, 400), ({}, 400)],
)
def test_bad_sharing_requests(deployment: Deployment, body: object, status: int) -> None:
    owner = deployment.new_user()
    token = login(deployment.url, str(owner["email"]), PASSWORD)
    response = post(deployment, "/sharing", token, body)
    assert response.status_code == status
    assert "error" in response.json()


def test_admin_endpoints_need_a_server_admin(deployment: Deployment) -> None:
    token = login(deployment.url, "demo@example.com", "demo")
    for path in ("/admin/users", "/admin/devices", "/admin/grants"):
        response = httpx.get(f"{deployment.url}{path}", headers=auth_header(token))
        assert response.status_code == 403
        assert response.json()["error"] == "forbidden"
    assert post(deployment, "/admin/users", token,
                {"email": "x@example.com", "password": "p"}).status_code == 403


def test_admin_manages_users_devices_grants_and_moves(deployment: Deployment) -> None:
    admin = deployment.admin_token
    owner = deployment.new_user(maxDevices=1)
    viewer = deployment.new_user()
    added = post(deployment, "/admin/devices", admin, {"owner": owner["email"], "name": "Cam"})
    assert added.status_code == 200
    uidd, key = added.json()["result"]["uidd"], added.json()["result"]["deviceKey"]
    assert len(key) >= 32
    over = post(deployment, "/admin/devices", admin, {"owner": owner["email"], "name": "Two"})
    assert over.status_code == 409 and over.json()["error"] == "device_limit"

    granted = post(deployment, "/admin/grants", admin,
                   {"viewer": viewer["email"], "target": uidd, "right": "r"})
    assert granted.status_code == 200
    viewer_token = login(deployment.url, str(viewer["email"]), PASSWORD)
    assert visible(deployment, viewer_token) == {uidd: ["r"]}

    moved = post(deployment, f"/admin/devices/{uidd}/move", admin,
                 {"logger": "https://logger-2.example.com", "wowza": "http://wowza-3:8088"})
    assert moved.status_code == 200
    owner_id, device_id = uidd.split(".")
    info = httpx.get(f"{deployment.url}/devices/viewerInfo", params={"uidd": uidd},
                     headers=auth_header(viewer_token)).json()["result"][owner_id]["devices"]
    assert info[device_id]["logger"] == "logger-2.example.com"
    assert info[device_id]["loggerUrl"] == "https://logger-2.example.com"
    assert info[device_id]["wowza"] == "wowza-3:8088"
    bad_move = post(deployment, f"/admin/devices/{uidd}/move", admin, {"logger": "ftp://x"})
    assert bad_move.status_code == 400

    revoked = post(deployment, "/admin/grants/revoke", admin,
                   {"viewer": viewer["email"], "target": uidd})
    assert revoked.status_code == 200
    assert visible(deployment, viewer_token) == {}

    assert post(deployment, f"/admin/devices/{uidd}/remove", admin, {}).status_code == 200
    assert post(deployment, f"/admin/devices/{uidd}/remove", admin, {}).status_code == 404
    removed = post(deployment, "/admin/users/remove", admin, {"email": owner["email"]})
    assert removed.status_code == 200
    users = httpx.get(f"{deployment.url}/admin/users", headers=auth_header(admin)).json()
    assert owner["email"] not in {u["email"] for u in users["result"]}


def test_duplicate_user_is_409(deployment: Deployment) -> None:
    user = deployment.new_user()
    response = post(deployment, "/admin/users", deployment.admin_token,
                    {"email": str(user["email"]).upper(), "password": "x"})
    assert response.status_code == 409


def test_token_of_a_removed_user(deployment: Deployment) -> None:
    user = deployment.new_user()
    token = login(deployment.url, str(user["email"]), PASSWORD)
    post(deployment, "/admin/users/remove", deployment.admin_token, {"email": user["email"]})
    assert visible(deployment, token) == {}
    assert httpx.get(f"{deployment.url}/sharing", headers=auth_header(token)).status_code == 401
