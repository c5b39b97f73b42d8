"""Camera tasks reach the camera's adapter over its link, with the rights DESIGN.md gives."""

from __future__ import annotations

import queue
import threading
import time

import httpx

from camloft.adapter.home import Home
from camloft.adapter.link import LinkClient
from camloft.ids import DeviceRef
from tests.conftest import Deployment
from tests.support import login

PASSWORD = "pw-12345"


def test_tasks_reach_the_adapter_with_the_right_rights(deployment: Deployment) -> None:
    owner, viewer = deployment.new_user(), deployment.new_user()
    created = httpx.post(f"{deployment.url}/admin/devices", json={
        "owner": owner["email"], "name": "Cam"},
        headers={"Authorization": f"ManythingToken {deployment.admin_token}"}).json()["result"]
    uidd, key = created["uidd"], created["deviceKey"]
    owner_token = login(deployment.url, str(owner["email"]), PASSWORD)
    httpx.post(f"{deployment.url}/sharing", json={"email": viewer["email"], "right": "r"},
               headers={"Authorization": f"ManythingToken {owner_token}"}).raise_for_status()
    viewer_token = login(deployment.url, str(viewer["email"]), PASSWORD)

    def task(token: str, action: str, device: str = uidd) -> httpx.Response:
        return httpx.get(f"{deployment.url}/sendcameratask",
                         params={"uid": device, "action": action, "token": token})

    offline = task(owner_token, "triggerevent")
    assert offline.status_code == 409 and offline.json()["error"] == "camera_offline"

    received: queue.Queue[str] = queue.Queue()
    stop = threading.Event()
    home = Home(DeviceRef.parse(uidd), key, logger_url=deployment.url, auth_url=None)
    client = LinkClient(DeviceRef.parse(uidd), key, home, on_task=received.put,
                        status=lambda: {"status": "online", "queue_mb": 0.0, "queue_sec": 0.0})
    client.start(stop)
    try:
        assert client.connected.wait(10)
        time.sleep(0.2)
        answer = task(owner_token, "triggerevent")
        assert answer.status_code == 200
        assert answer.json() == {"result": "request sent to camera"}
        assert received.get(timeout=5) == "triggerevent"
        assert task(viewer_token, "livecommand").status_code == 200
        assert received.get(timeout=5) == "livecommand"
        refused = task(viewer_token, "ptz_left")
        assert refused.status_code == 403 and refused.json()["error"] == "forbidden"
        assert task(viewer_token, "ptz_sideways").status_code == 400
        assert task(viewer_token, "livecommand", "1.x").status_code == 400
        assert task("garbage", "livecommand").status_code == 401
        missing = task(owner_token, "livecommand", f"{owner['uid']}.999")
        assert missing.status_code == 404
        assert received.empty()
    finally:
        stop.set()
        client.join(5)


def test_a_link_with_a_wrong_key_is_refused(deployment: Deployment) -> None:
    owner = deployment.new_user()
    created = httpx.post(f"{deployment.url}/admin/devices", json={
        "owner": owner["email"], "name": "Cam"},
        headers={"Authorization": f"ManythingToken {deployment.admin_token}"}).json()["result"]
    stop = threading.Event()
    home = Home(DeviceRef.parse(created["uidd"]), "wrong", logger_url=deployment.url, auth_url=None)
    client = LinkClient(DeviceRef.parse(created["uidd"]), "wrong", home,
                        on_task=lambda action: None, status=dict)
    client.start(stop)
    try:
        assert not client.connected.wait(2)
    finally:
        stop.set()
        client.join(5)
