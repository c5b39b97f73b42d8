"""/cameras/status (reference 1.3.6): the state of cameras whose adapter linked to this logger."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from camloft.adapter.home import Home
from camloft.adapter.link import LinkClient
from camloft.ids import DeviceRef
from tests.conftest import Deployment
from tests.logger.test_link import jpeg_bytes, put, put_event
from tests.mediafiles import make_ts
from tests.support import auth_header, login

PASSWORD = "pw-12345"
STATUS_FIELDS = [
    "uid",
    "permissions",
    "session",
    "live",
    "startt",
    "lastchunkend",
    "endt",
    "lastactivity",
    "lastthumb",
    "laststill",
    "stillmode",
    "wowza",
    "device",
    "status",
    "lastalert",
    "battery",
    "power",
    "stalepower",
    "facebookStreamId",
    "queue_mb",
    "queue_sec",
]


@dataclass
class Camera:
    uidd: str
    key: str
    owner: dict[str, Any]
    token: str  # the owner's

    @property
    def uid(self) -> str:
        return self.uidd.split(".")[0]

    @property
    def device_id(self) -> str:
        return self.uidd.split(".")[1]


def new_camera(deployment: Deployment, owner: dict[str, Any] | None = None) -> Camera:
    owner = owner or deployment.new_user()
    created = httpx.post(
        f"{deployment.url}/admin/devices",
        headers=auth_header(deployment.admin_token),
        json={"owner": owner["email"], "name": "Cam"},
    ).json()["result"]
    return Camera(
        created["uidd"],
        created["deviceKey"],
        owner,
        login(deployment.url, str(owner["email"]), PASSWORD),
    )


@contextmanager
def linked(
    deployment: Deployment, camera: Camera, status: Callable[[], dict[str, Any]] | None = None
) -> Iterator[LinkClient]:
    """A real adapter link (camloft.adapter.link.LinkClient) for the camera, open in the block."""
    stop = threading.Event()
    client = LinkClient(
        DeviceRef.parse(camera.uidd),
        camera.key,
        Home(DeviceRef.parse(camera.uidd), camera.key, logger_url=deployment.url, auth_url=None),
        on_task=lambda action: None,
        status=status or (lambda: {"status": "online"}),
    )
    client.start(stop)
    try:
        assert client.connected.wait(10)
        yield client
    finally:
        stop.set()
        client.join(5)


def wait_for(check: Callable[[], Any], seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def status(deployment: Deployment, token: str, **params: Any) -> httpx.Response:
    return httpx.get(f"{deployment.url}/cameras/status", params=params, headers=auth_header(token))


def device_status(
    deployment: Deployment, camera: Camera, token: str | None = None
) -> dict[str, Any] | None:
    body = status(deployment, token or camera.token, uid=camera.uidd).json()
    found: dict[str, Any] | None = (
        body["result"].get(camera.uid, {}).get("devices", {}).get(camera.device_id)
    )
    return found


def test_a_linked_camera_is_online_with_its_queue_then_offline(deployment: Deployment) -> None:
    camera = new_camera(deployment)
    before = status(deployment, camera.token, uid=camera.uidd)
    assert before.status_code == 200
    assert before.json() == {"result": {}, "errors": [{camera.uidd: "not resident"}]}

    reported = {"status": "online", "queue_mb": 1.5, "queue_sec": 6.0}
    with linked(deployment, camera, lambda: reported) as client:
        shown = wait_for(
            lambda: (s := device_status(deployment, camera)) and s["queue_sec"] == 6.0 and s
        )
        assert shown, device_status(deployment, camera)
        assert list(shown) == STATUS_FIELDS
        viewer_info = httpx.get(
            f"{deployment.url}/devices/viewerInfo",
            params={"uidd": camera.uidd},
            headers=auth_header(camera.token),
        )
        wowza = viewer_info.json()["result"][camera.uid]["devices"][camera.device_id]["wowza"]
        assert shown | {"lastactivity": 0} == {
            "uid": camera.uidd,
            "permissions": ["a"],
            "session": None,
            "live": False,
            "startt": 0,
            "lastchunkend": None,
            "endt": None,
            "lastactivity": 0,
            "lastthumb": None,
            "laststill": None,
            "stillmode": "video_only",
            "wowza": wowza,
            "device": True,
            "status": "online",
            "lastalert": 0,
            "battery": None,
            "power": None,
            "stalepower": 1,
            "facebookStreamId": None,
            "queue_mb": 1.5,
            "queue_sec": 6.0,
        }
        assert abs(shown["lastactivity"] - time.time() * 1000) < 60_000

        # What the adapter uploads shows as lastchunkend, lastalert, lastthumb and laststill.
        start = 1_800_000_000_000
        assert (
            put(deployment, camera.uidd, start, make_ts(1.0), camera.key, duration=2000).status_code
            == 201
        )
        assert put_event(deployment, camera.uidd, camera.key).status_code == 201
        headers = {"Authorization": f"CamloftDevice {camera.key}"}
        for kind in ("thumb", "still"):
            httpx.put(
                f"{deployment.url}/adapter/v1/images/{camera.uidd}/{kind}/1800000001500",
                content=jpeg_bytes(),
                headers=headers,
            ).raise_for_status()
        after = device_status(deployment, camera)
        assert after is not None
        assert (after["lastchunkend"], after["lastalert"]) == (start + 2000, 1_800_000_000)
        assert (after["lastthumb"], after["laststill"]) == (1_800_000_001, 1_800_000_001)

        reported["status"] = "novideo"
        client.status_changed()
        assert wait_for(lambda: device_status(deployment, camera)["status"] == "novideo")

    # The link closed: the camera stays resident, offline, with what it last said.
    gone = wait_for(
        lambda: (s := device_status(deployment, camera)) and s["status"] == "offline" and s
    )
    assert gone and gone["queue_sec"] == 6.0 and gone["lastalert"] == 1_800_000_000


def test_asked_devices_that_cannot_be_shown_are_errors(deployment: Deployment) -> None:
    mine, theirs = new_camera(deployment), new_camera(deployment)
    viewer = deployment.new_user()
    httpx.post(
        f"{deployment.url}/sharing",
        json={"email": viewer["email"], "right": "r", "device": mine.uidd},
        headers=auth_header(mine.token),
    ).raise_for_status()
    viewer_token = login(deployment.url, str(viewer["email"]), PASSWORD)
    with linked(deployment, mine), linked(deployment, theirs):
        assert wait_for(lambda: device_status(deployment, mine))
        missing = f"{mine.uid}.999"
        answer = status(
            deployment, viewer_token, uid=[theirs.uidd, mine.uidd], uidd=[missing, mine.uidd]
        )
        assert answer.status_code == 200
        body = answer.json()
        # uidd= and uid= both count; the forbidden and the unknown look the same.
        assert body["errors"] == [{missing: "Unauthorized"}, {theirs.uidd: "Unauthorized"}]
        assert list(body["result"]) == [mine.uid]
        assert body["result"][mine.uid]["devices"][mine.device_id]["permissions"] == ["r"]
        assert list(body["result"][mine.uid]["devices"]) == [mine.device_id]

    assert status(deployment, viewer_token, uid="1.x").status_code == 400
    assert status(deployment, viewer_token, uid="7").json()["error"] == "invalid_id"
    assert status(deployment, "forged").status_code == 401
    assert httpx.get(f"{deployment.url}/cameras/status").status_code == 401


def test_without_uids_every_visible_resident_device(deployment: Deployment) -> None:
    owner = deployment.new_user()
    first, second, never_linked = (new_camera(deployment, owner) for _ in range(3))
    other = new_camera(deployment)
    viewer = deployment.new_user()
    httpx.post(
        f"{deployment.url}/sharing",
        json={"email": viewer["email"], "right": "r"},
        headers=auth_header(first.token),
    ).raise_for_status()
    viewer_token = login(deployment.url, str(viewer["email"]), PASSWORD)
    with linked(deployment, first), linked(deployment, second), linked(deployment, other):
        assert wait_for(lambda: device_status(deployment, second))
        for token in (first.token, viewer_token):
            # The token as token= this time, as the reference's other calls take it.
            body = httpx.get(f"{deployment.url}/cameras/status", params={"token": token}).json()
            assert body["errors"] == []
            assert list(body["result"]) == [first.uid]
            assert sorted(body["result"][first.uid]["devices"], key=int) == [
                first.device_id,
                second.device_id,
            ]
        assert never_linked.device_id not in body["result"][first.uid]["devices"]
        stranger = login(deployment.url, str(deployment.new_user()["email"]), PASSWORD)
        assert status(deployment, stranger).json() == {"result": {}, "errors": []}


@pytest.mark.parametrize("name", ["", "1.", ".1", "1.2.3", "a.b", "../1"])
def test_malformed_uids_are_400(deployment: Deployment, name: str) -> None:
    camera = new_camera(deployment)
    answer = status(deployment, camera.token, uid=name)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_id"
