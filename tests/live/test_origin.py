"""The live origin over HTTP (reference 1.4.1): what adapters push, what viewers get.

A real `camloft serve` (the session's deployment) takes live segments pushed
with a device key, the way the adapter pushes them, and serves them as the
reference's `/manything/<streamname>/playlist.m3u8?userToken=`; ffprobe plays
the playlist URL itself.
"""

from __future__ import annotations

import subprocess
import threading
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import Deployment
from tests.logger.test_alerts import PASSWORD, camera_with_owner
from tests.mediafiles import make_ts
from tests.support import auth_header, login

SESSION = 1_800_000_000_000
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


@pytest.fixture(scope="module")
def segments() -> list[bytes]:
    """Five 1 s MPEG-TS segments of H.264, each starting with a key frame."""
    return [make_ts(1.0) for _ in range(5)]


def streamname(deployment: Deployment, uidd: str, token: str) -> str:
    info = httpx.get(
        f"{deployment.url}/devices/viewerInfo", params={"uidd": uidd}, headers=auth_header(token)
    ).json()["result"]
    owner, device = uidd.split(".")
    name: str = info[owner]["devices"][device]["streamname"]
    return name


def push(
    deployment: Deployment,
    uidd: str,
    key: str,
    sequence: int,
    data: bytes,
    *,
    session: int = SESSION,
    **params: Any,
) -> httpx.Response:
    query = {"start_ms": session + sequence * 1000, "duration_ms": 1000} | params
    return httpx.put(
        f"{deployment.url}/live/v1/streams/{uidd}/{session}/{sequence}",
        params=query,
        content=data,
        headers={"Authorization": f"CamloftDevice {key}"},
        timeout=30,
    )


def end(deployment: Deployment, uidd: str, key: str, session: int = SESSION) -> None:
    response = httpx.delete(
        f"{deployment.url}/live/v1/streams/{uidd}/{session}",
        headers={"Authorization": f"CamloftDevice {key}"},
    )
    assert response.status_code == 200, response.text


def playlist_url(
    deployment: Deployment,
    name: str,
    token: str | None,
    page: str = "playlist",
    **params: object,
) -> str:
    query = ({} if token is None else {"userToken": token}) | params
    return f"{deployment.url}/manything/{name}/{page}.m3u8?{urlencode(query)}"


def uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_pushed_segments_play_from_the_playlist(
    deployment: Deployment, segments: list[bytes]
) -> None:
    uidd, key, token = camera_with_owner(deployment)
    name = streamname(deployment, uidd, token)
    for sequence, data in enumerate(segments):
        assert push(deployment, uidd, key, sequence, data).status_code == 201

    for page in ("playlist", "index"):
        answer = httpx.get(playlist_url(deployment, name, token, page))
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == PLAYLIST_TYPE
        assert answer.headers["cache-control"] == "no-cache"
        text = answer.text
        assert "#EXT-X-ENDLIST" not in text and "#EXT-X-MEDIA-SEQUENCE:0" in text
        listed = uris(text)
        assert len(listed) == len(segments)
        for number, (uri, data) in enumerate(zip(listed, segments, strict=True)):
            assert uri.startswith(f"media_{number}.ts?userToken=")
            fetched = httpx.get(f"{deployment.url}/manything/{name}/{uri}")
            assert fetched.status_code == 200 and fetched.content == data
            assert fetched.headers["content-type"] == "video/mp2t"

    end(deployment, uidd, key)
    assert httpx.get(playlist_url(deployment, name, token)).text.rstrip().endswith("ENDLIST")
    done = subprocess.run(
        ["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v",
         "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
         playlist_url(deployment, name, token)],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0 and done.stderr == "", done.stderr
    # One line for the program, one for the stream: each counts every frame decoded.
    assert {int(n) for n in done.stdout.split()} == {5 * 15}


def test_viewers_need_a_token_and_the_right(deployment: Deployment, segments: list[bytes]) -> None:
    uidd, key, token = camera_with_owner(deployment)
    name = streamname(deployment, uidd, token)
    assert push(deployment, uidd, key, 0, segments[0]).status_code == 201
    segment_url = f"{deployment.url}/manything/{name}/media_0.ts"

    stranger = deployment.new_user()
    stranger_token = login(deployment.url, str(stranger["email"]), PASSWORD)
    for answer in (
        httpx.get(playlist_url(deployment, name, stranger_token)),
        httpx.get(segment_url, params={"userToken": stranger_token}),
    ):
        assert answer.status_code == 403 and answer.json()["error"] == "forbidden"
    for answer in (
        httpx.get(playlist_url(deployment, name, None)),
        httpx.get(segment_url),
        httpx.get(playlist_url(deployment, name, "forged*token")),
    ):
        assert answer.status_code == 401 and "error" in answer.json()

    shared = httpx.post(
        f"{deployment.url}/sharing",
        headers=auth_header(token),
        json={"email": stranger["email"], "right": "r", "device": uidd},
    )
    assert shared.status_code == 200, shared.text
    time.sleep(10.5)  # the origin remembers rights for 10 s
    assert httpx.get(playlist_url(deployment, name, stranger_token)).status_code == 200
    header = auth_header(stranger_token)
    assert httpx.get(segment_url, headers=header).status_code == 200

    for path, error in (
        (f"/manything/{name.replace('-nr', '0-nr')}/playlist.m3u8", "no_stream"),
        ("/manything/..%2F..%2Fetc/playlist.m3u8", "not_found"),
        (f"/manything/{'9' * 90}/playlist.m3u8", "no_stream"),
        (f"/manything/{name}/media_x.ts", "no_segment"),
        (f"/manything/{name}/media_99999999999.ts", "no_segment"),
        (f"/manything/{name}/media_7.ts", "no_segment"),
    ):
        answer = httpx.get(f"{deployment.url}{path}", params={"userToken": token})
        assert answer.status_code == 404, (path, answer.text)
        assert answer.json()["error"] == error, path
    too_far = httpx.get(playlist_url(deployment, name, token, _HLS_msn=50))
    assert too_far.status_code == 400 and "error" in too_far.json()
    assert "Traceback" not in deployment.server.log()


def test_a_camera_not_streaming_yet_is_a_503_that_players_retry(deployment: Deployment) -> None:
    uidd, _key, token = camera_with_owner(deployment)
    name = streamname(deployment, uidd, token)
    started = time.monotonic()
    answer = httpx.get(playlist_url(deployment, name, token), timeout=30)
    waited = time.monotonic() - started
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "1"
    assert answer.json()["error"] == "not_streaming"
    assert 4.5 <= waited < 15  # live_wait_seconds (5): time for a livecommand to take effect


def test_a_playlist_waits_for_the_first_segment(
    deployment: Deployment, segments: list[bytes]
) -> None:
    uidd, key, token = camera_with_owner(deployment)
    name = streamname(deployment, uidd, token)
    threading.Timer(1.0, push, (deployment, uidd, key, 0, segments[0])).start()
    started = time.monotonic()
    answer = httpx.get(playlist_url(deployment, name, token), timeout=30)
    assert answer.status_code == 200 and uris(answer.text)[0].startswith("media_0.ts")
    assert 0.9 <= time.monotonic() - started < 3


def test_blocking_reload_answers_when_the_segment_exists(
    deployment: Deployment, segments: list[bytes]
) -> None:
    uidd, key, token = camera_with_owner(deployment)
    name = streamname(deployment, uidd, token)
    assert push(deployment, uidd, key, 0, segments[0]).status_code == 201
    threading.Timer(0.6, push, (deployment, uidd, key, 1, segments[1])).start()
    started = time.monotonic()
    answer = httpx.get(playlist_url(deployment, name, token, _HLS_msn=1), timeout=30)
    waited = time.monotonic() - started
    assert answer.status_code == 200 and uris(answer.text)[-1].startswith("media_1.ts")
    assert 0.5 <= waited < 2.5
    assert "#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES" in answer.text
    # The segment after the newest, asked for early, is waited for too.
    threading.Timer(0.6, push, (deployment, uidd, key, 2, segments[2])).start()
    early = httpx.get(f"{deployment.url}/manything/{name}/media_2.ts?userToken={token}")
    assert early.status_code == 200 and early.content == segments[2]
    ahead = httpx.get(playlist_url(deployment, name, token, _HLS_msn=9))
    assert ahead.status_code == 400 and "error" in ahead.json()


def test_pushes_need_the_device_key_and_mpegts(
    deployment: Deployment, segments: list[bytes]
) -> None:
    uidd, key, _token = camera_with_owner(deployment)
    other, other_key, _ = camera_with_owner(deployment)
    assert push(deployment, uidd, other_key, 0, segments[0]).status_code == 401
    assert push(deployment, uidd, "x" * 40, 0, segments[0]).status_code == 401
    no_key = httpx.put(
        f"{deployment.url}/live/v1/streams/{uidd}/{SESSION}/0",
        params={"start_ms": SESSION, "duration_ms": 1000},
        content=segments[0],
    )
    assert no_key.status_code == 401
    assert push(deployment, uidd, key, 0, b"not video").status_code == 400
    assert push(deployment, uidd, key, 0, segments[0], duration_ms=0).status_code == 400
    assert push(deployment, uidd, key, 0, segments[0], session=2**60).status_code in (400, 404)
    assert push(deployment, "1.x", key, 0, segments[0]).status_code == 400
    assert push(deployment, uidd, key, 0, segments[0]).status_code == 201
    again = push(deployment, uidd, key, 0, segments[0])
    assert again.status_code == 200 and again.json()["result"] == "exists"
    assert push(deployment, other, other_key, 0, segments[0]).status_code == 201
    assert "Traceback" not in deployment.server.log()


def test_server_admins_see_the_streams_held(deployment: Deployment, segments: list[bytes]) -> None:
    uidd, key, token = camera_with_owner(deployment)
    for sequence in range(20):
        push(deployment, uidd, key, sequence, segments[sequence % 5])
    held = httpx.get(f"{deployment.url}/admin/live", headers=auth_header(deployment.admin_token))
    mine = [s for s in held.json()["result"]["streams"] if s["uidd"] == uidd]
    assert mine and mine[0]["segments"] == 10 and mine[0]["newest"] == 19
    assert mine[0]["bytes"] == sum(len(segments[n % 5]) for n in range(10, 20))
    assert httpx.get(f"{deployment.url}/admin/live", headers=auth_header(token)).status_code == 403
