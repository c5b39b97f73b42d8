"""/alert, /events and the pictures, as the reference's "viewing a recorded event" uses them."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.conftest import Deployment
from tests.logger.test_link import put, put_event
from tests.mediafiles import make_ts
from tests.support import auth_header, login

PASSWORD = "pw-12345"
BASE = 1_700_000_000  # in the past: maxage can hide these


def camera_with_owner(deployment: Deployment) -> tuple[str, str, str]:
    owner = deployment.new_user()
    created = httpx.post(f"{deployment.url}/admin/devices", headers=auth_header(
        deployment.admin_token), json={"owner": owner["email"], "name": "Cam"}).json()["result"]
    return created["uidd"], created["deviceKey"], login(deployment.url, str(owner["email"]),
                                                        PASSWORD)


def add_events(deployment: Deployment, uidd: str, key: str, ids: range) -> None:
    for n in ids:
        response = put_event(deployment, uidd, key, id=BASE + n * 60,
                             startt=(BASE + n * 60) * 1000, endt=(BASE + n * 60) * 1000 + 30_000,
                             end=(BASE + n * 60) * 1000 + 15_000, recording=False, smx=10)
        assert response.status_code == 201


def alert(deployment: Deployment, token: str, **params: object) -> httpx.Response:
    return httpx.get(f"{deployment.url}/alert", params={"token": token, **params})


def test_alert_shape_newest_first(deployment: Deployment) -> None:
    uidd, key, token = camera_with_owner(deployment)
    add_events(deployment, uidd, key, range(3))
    body = alert(deployment, token, uid=uidd, startt=1, offset=0, limit=20).json()
    ids = [e["id"] for e in body["result"]]
    assert ids == [BASE + 120, BASE + 60, BASE]
    first = body["result"][0]
    assert first == {
        "alert": BASE + 120, "id": BASE + 120, "uid": uidd,
        "deviceid": int(uidd.split(".")[1]), "startt": (BASE + 120) * 1000,
        "endt": (BASE + 120) * 1000 + 30_000, "end": (BASE + 120) * 1000 + 15_000,
        "type": "motion", "smx": "0a", "aud": None, "tz": 1.0, "rom": 1, "has_hdstill": 0,
        "startval": None, "recording": False,
    }


def test_paging_neither_repeats_nor_skips_while_events_arrive(deployment: Deployment) -> None:
    uidd, key, token = camera_with_owner(deployment)
    add_events(deployment, uidd, key, range(30))
    first = alert(deployment, token, uid=uidd, offset=0, limit=20).json()["result"]
    add_events(deployment, uidd, key, range(30, 35))  # new events while the user scrolls
    second = alert(deployment, token, uid=uidd, offset=20, limit=20).json()["result"]
    ids = [e["id"] for e in first + second]
    assert ids == [BASE + n * 60 for n in range(29, -1, -1)]
    fresh = alert(deployment, token, uid=uidd, offset=0, limit=20).json()["result"]
    assert fresh[0]["id"] == BASE + 34 * 60


def test_limit_is_capped_and_maxage_hides_old_events(deployment: Deployment) -> None:
    uidd, key, token = camera_with_owner(deployment)
    add_events(deployment, uidd, key, range(3))
    now = int(time.time() * 1000)
    recent_start = now - 60_000
    put_event(deployment, uidd, key, id=recent_start // 1000, startt=recent_start,
              endt=recent_start + 10_000, end=recent_start + 5_000, recording=False)
    seven_days = 7 * 86_400_000
    shown = alert(deployment, token, uid=uidd, maxage=seven_days).json()["result"]
    assert [e["startt"] for e in shown] == [recent_start]
    assert len(alert(deployment, token, uid=uidd, limit=5000).json()["result"]) == 4


def test_events_window(deployment: Deployment) -> None:
    uidd, key, token = camera_with_owner(deployment)
    add_events(deployment, uidd, key, range(5))
    found = httpx.get(f"{deployment.url}/events", headers=auth_header(token), params={
        "uidd": uidd, "startt": (BASE + 60) * 1000, "endt": (BASE + 180) * 1000}).json()
    assert [e["id"] for e in found] == [BASE + 120, BASE + 60]


def test_rights_and_bad_input(deployment: Deployment) -> None:
    uidd, _, token = camera_with_owner(deployment)
    stranger = deployment.new_user()
    stranger_token = login(deployment.url, str(stranger["email"]), PASSWORD)
    assert alert(deployment, stranger_token, uid=uidd).status_code == 403
    assert alert(deployment, "forged*token", uid=uidd).status_code == 401
    for params in ({"uid": "1.x"}, {}, {"uid": uidd, "offset": -1},
                   {"uid": uidd, "offset": 10**30}, {"uid": uidd, "limit": 0},
                   {"uid": uidd, "maxage": "week"}):
        response = alert(deployment, token, **params)
        assert response.status_code == 400, (params, response.text)
        assert "error" in response.json()
    assert alert(deployment, token, uid=uidd, offset=900_000).json() == {"result": []}
    # The reference's first-page example leaves offset empty.
    assert alert(deployment, token, uid=uidd, startt=1, offset="", limit=20,
                 maxage="").status_code == 200


def test_pictures_by_path_token(deployment: Deployment) -> None:
    uidd, key, token = camera_with_owner(deployment)
    buffer = io.BytesIO()
    Image.new("RGB", (256, 144), (10, 200, 30)).save(buffer, "JPEG")
    headers = {"Authorization": f"CamloftDevice {key}"}
    for kind in ("alert", "thumb", "still"):
        httpx.put(f"{deployment.url}/adapter/v1/images/{uidd}/{kind}/{BASE}000",
                  content=buffer.getvalue(), headers=headers).raise_for_status()
    for path in ("alertthumb", "getthumb", "getstill"):
        answer = httpx.get(f"{deployment.url}/{path}/{uidd}/{BASE}/{token}")
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
        assert "max-age" in answer.headers["cache-control"]
        assert Image.open(io.BytesIO(answer.content)).size == (256, 144)
        missing = httpx.get(f"{deployment.url}/{path}/{uidd}/{BASE + 1}/{token}")
        assert missing.status_code == 404 and missing.json()["error"] == "no_image"
        assert httpx.get(f"{deployment.url}/{path}/{uidd}/{BASE}/garbage").status_code == 401
        assert httpx.get(f"{deployment.url}/{path}/1.x/{BASE}/{token}").status_code == 400
        header_only = httpx.get(f"{deployment.url}/{path}/{uidd}/{BASE}",
                                headers=auth_header(token))
        assert header_only.status_code == 200


def test_delete_needs_admin_and_takes_video_and_thumb(deployment: Deployment) -> None:
    uidd, key, owner_token = camera_with_owner(deployment)
    owner_uid = uidd.split(".")[0]
    viewer = deployment.new_user()
    httpx.post(f"{deployment.url}/sharing", headers=auth_header(owner_token),
               json={"email": viewer["email"], "right": "r"}).raise_for_status()
    viewer_token = login(deployment.url, str(viewer["email"]), PASSWORD)
    start = BASE * 1000
    segment = make_ts(2.0)
    for n in range(3):
        put(deployment, uidd, start + n * 2000, segment, key).raise_for_status()
    put(deployment, uidd, start + 60_000, segment, key).raise_for_status()  # another time
    put_event(deployment, uidd, key, id=BASE, startt=start, endt=start + 6000, end=start + 4000,
              recording=False).raise_for_status()
    buffer = io.BytesIO()
    Image.new("RGB", (256, 144)).save(buffer, "JPEG")
    httpx.put(f"{deployment.url}/adapter/v1/images/{uidd}/alert/{start}",
              content=buffer.getvalue(),
              headers={"Authorization": f"CamloftDevice {key}"}).raise_for_status()

    refused = httpx.delete(f"{deployment.url}/alert/{uidd}/{BASE}",
                           headers=auth_header(viewer_token))
    assert refused.status_code == 403
    deleted = httpx.delete(f"{deployment.url}/alert/{uidd}/{BASE}",
                           headers=auth_header(owner_token))
    assert deleted.status_code == 200 and deleted.json()["segments"] == 3
    assert alert(deployment, owner_token, uid=uidd).json()["result"] == []
    assert httpx.get(f"{deployment.url}/alertthumb/{uidd}/{BASE}/{owner_token}").status_code == 404
    video = Path(deployment.server.data_dir, "video", owner_uid, uidd.split(".")[1])
    assert sorted(int(p.stem) for p in video.rglob("*.ts")) == [start + 60_000]
    again = httpx.delete(f"{deployment.url}/alert/{uidd}/{BASE}", headers=auth_header(owner_token))
    assert again.status_code == 404


def test_an_event_deleted_while_recording_stays_deleted(deployment: Deployment) -> None:
    """The adapter goes on updating the event it records; a viewer's delete still holds."""
    uidd, key, token = camera_with_owner(deployment)
    start = BASE * 1000
    put_event(deployment, uidd, key, id=BASE, startt=start, endt=start + 6000, end=start + 4000,
              recording=True).raise_for_status()
    deleted = httpx.delete(f"{deployment.url}/alert/{uidd}/{BASE}", headers=auth_header(token))
    assert deleted.status_code == 200
    for fields in ({"endt": start + 12_000, "end": start + 8_000, "recording": True},
                   {"endt": start + 30_000, "end": start + 15_000, "recording": False}):
        later = put_event(deployment, uidd, key, id=BASE, startt=start, **fields)
        assert later.status_code == 200 and later.json() == {"result": "deleted"}
    assert alert(deployment, token, uid=uidd).json()["result"] == []
    # Its thumb, still queued at the adapter, arrives after the delete: not kept.
    buffer = io.BytesIO()
    Image.new("RGB", (256, 144)).save(buffer, "JPEG")
    late = httpx.put(f"{deployment.url}/adapter/v1/images/{uidd}/alert/{start}",
                     content=buffer.getvalue(), headers={"Authorization": f"CamloftDevice {key}"})
    assert late.status_code == 200 and late.json() == {"result": "deleted"}
    assert httpx.get(f"{deployment.url}/alertthumb/{uidd}/{BASE}/{token}").status_code == 404
    # The next event of the camera is a new one, as ever.
    put_event(deployment, uidd, key, id=BASE + 60, startt=start + 60_000, endt=start + 66_000,
              end=start + 64_000).raise_for_status()
    assert [e["id"] for e in alert(deployment, token, uid=uidd).json()["result"]] == [BASE + 60]


def test_disk_use_per_device(deployment: Deployment) -> None:
    uidd, key, token = camera_with_owner(deployment)
    segment = make_ts(1.0)
    for n in range(2):
        put(deployment, uidd, BASE * 1000 + n * 1000, segment, key).raise_for_status()
    use = httpx.get(f"{deployment.url}/cameras/diskuse", headers=auth_header(token)).json()
    assert use["result"] == {uidd: 2 * len(segment)}
    stranger = deployment.new_user()
    other = login(deployment.url, str(stranger["email"]), PASSWORD)
    seen = httpx.get(f"{deployment.url}/cameras/diskuse", headers=auth_header(other)).json()
    assert uidd not in seen["result"]
