"""An event's recorded video as a viewer gets it (1.3.3): HLS playlist, segments, MP4.

Real segments (H.264 + AAC encoded in the test and cut by the adapter's own
`Segmenter`) are uploaded through the adapter link with an event that covers
them; then the logger is asked the way hls.js, Safari or ffmpeg ask it, and
ffprobe plays the playlist URL itself.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import time
from pathlib import Path
from urllib.parse import urlencode, urljoin, urlsplit

import av
import httpx
import numpy as np
import pytest

from camloft.media.segment import Segment
from camloft.media.segmenter import Segmenter
from tests.conftest import Deployment
from tests.logger.test_alerts import PASSWORD, camera_with_owner
from tests.logger.test_link import put, put_event
from tests.media.conftest import encode_camera
from tests.mediafiles import decodes_cleanly
from tests.support import auth_header, login

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
PLAYLIST_TYPE = "application/vnd.apple.mpegurl"


def cut(data: bytes, start_ms: int) -> list[Segment]:
    """Segments as the adapter cuts them, its clock reading `start_ms` at the first frame."""
    segments: list[Segment] = []
    with av.open(io.BytesIO(data), "r") as container:
        Segmenter(container, segments.append, clock=lambda: start_ms / 1000).run()
    return segments


@pytest.fixture(scope="module")
def recording() -> list[Segment]:
    """8 s from T0: four 2 s segments that meet exactly."""
    segments = cut(encode_camera(8.0), T0)
    assert [(s.start_ms, s.duration_ms) for s in segments] == [
        (T0 + n * 2000, 2000) for n in range(4)
    ]
    return segments


@pytest.fixture(scope="module")
def later() -> list[Segment]:
    """4 s more after a camera restart 30 s after T0: a gap, and a new MPEG-TS clock."""
    return cut(encode_camera(4.0), T0 + 30_000)


def upload(deployment: Deployment, uidd: str, key: str, segments: list[Segment]) -> None:
    for segment in segments:
        response = put(deployment, uidd, segment.start_ms, segment.data, key, segment.duration_ms)
        assert response.status_code == 201, response.text


def report_event(
    deployment: Deployment, uidd: str, key: str, start_ms: int, end_ms: int, recording: bool = False
) -> None:
    response = put_event(
        deployment,
        uidd,
        key,
        id=start_ms // 1000,
        startt=start_ms,
        endt=end_ms,
        end=end_ms,
        recording=recording,
    )
    assert response.status_code in (200, 201), response.text


def video_url(
    deployment: Deployment,
    uidd: str,
    token: str | None,
    *,
    path: str = "alerturl.m3u8",
    event: int | None = T0 // 1000,
    **params: object,
) -> str:
    """The reference's URL: uid, startt, endt (seconds), rom, id, buildmp4, token."""
    query: dict[str, object] = {"uid": uidd, "startt": T0 // 1000, "endt": T0 // 1000 + 8, "rom": 1}
    if event is not None:
        query["id"] = event
    query |= {"buildmp4": 0} | params
    if token is not None:
        query["token"] = token
    return f"{deployment.url}/{path}?{urlencode(query)}"


def uris(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def ffprobe(target: str) -> dict[str, object]:
    """ffprobe's view of a file or URL; fails on anything it prints as an error."""
    done = subprocess.run(
        [
            "ffprobe",
            "-v",
            "error",
            "-show_entries",
            "format=duration:stream=codec_name",
            "-of",
            "json",
            target,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def duration(probe: dict[str, object]) -> float:
    return float(probe["format"]["duration"])  # type: ignore[index]


def codecs(probe: dict[str, object]) -> list[str]:
    return [s["codec_name"] for s in probe["streams"]]  # type: ignore[attr-defined]


def test_a_finished_event_plays_as_hls(deployment: Deployment, recording: list[Segment]) -> None:
    uidd, key, token = camera_with_owner(deployment)
    upload(deployment, uidd, key, recording)
    report_event(deployment, uidd, key, T0, T0 + 8000)
    url = video_url(deployment, uidd, token)
    answer = httpx.get(url)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == PLAYLIST_TYPE
    assert "no-cache" not in answer.headers["cache-control"]
    lines = answer.text.splitlines()
    assert lines[:5] == [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        "#EXT-X-TARGETDURATION:2",
        "#EXT-X-MEDIA-SEQUENCE:0",
        "#EXT-X-PLAYLIST-TYPE:VOD",
    ]
    assert lines[-1] == "#EXT-X-ENDLIST" and "#EXT-X-DISCONTINUITY" not in lines
    assert [line for line in lines if line.startswith("#EXTINF")] == ["#EXTINF:2.000,"] * 4
    assert "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z" in lines
    # Each URI lies in the playlist's folder, carries the token, and is the segment uploaded.
    for uri, segment in zip(uris(answer.text), recording, strict=True):
        assert uri == f"seg_{uidd}_{segment.start_ms}.ts?{urlencode({'token': token})}"
        resolved = urljoin(url, uri)
        assert urlsplit(resolved).path == f"/{uri.split('?')[0]}"
        got = httpx.get(resolved)
        assert got.status_code == 200 and got.headers["content-type"] == "video/mp2t"
        assert got.content == segment.data
    # The reference's other name, and a token sent only in the header, give the same playlist.
    assert httpx.get(video_url(deployment, uidd, token, path="alert.m3u8")).text == answer.text
    by_header = httpx.get(video_url(deployment, uidd, None), headers=auth_header(token))
    assert by_header.text == answer.text
    # ffmpeg plays the playlist URL itself: H.264 + AAC, as long as the event.
    probe = ffprobe(url)
    assert codecs(probe) == ["h264", "aac"]
    assert abs(duration(probe) - 8.0) <= 2.0


def test_a_recording_event_is_an_open_playlist(
    deployment: Deployment, recording: list[Segment]
) -> None:
    uidd, key, token = camera_with_owner(deployment)
    upload(deployment, uidd, key, recording[:2])
    report_event(deployment, uidd, key, T0, T0 + 4000, recording=True)
    first = httpx.get(video_url(deployment, uidd, token))
    assert first.status_code == 200
    assert first.headers["cache-control"] == "private, no-cache"
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in first.text and "#EXT-X-ENDLIST" not in first.text
    assert len(uris(first.text)) == 2
    # Recording goes on: the reloaded playlist has grown and is still open.
    upload(deployment, uidd, key, recording[2:])
    report_event(deployment, uidd, key, T0, T0 + 8000, recording=True)
    grown = httpx.get(video_url(deployment, uidd, token)).text
    assert uris(grown)[:2] == uris(first.text) and len(uris(grown)) == 4
    assert "#EXT-X-ENDLIST" not in grown
    report_event(deployment, uidd, key, T0, T0 + 8000)
    finished = httpx.get(video_url(deployment, uidd, token)).text
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in finished and finished.endswith("#EXT-X-ENDLIST\n")


def test_a_gap_is_a_discontinuity(
    deployment: Deployment, recording: list[Segment], later: list[Segment]
) -> None:
    uidd, key, token = camera_with_owner(deployment)
    upload(deployment, uidd, key, recording + later)
    report_event(deployment, uidd, key, T0, T0 + 34_000)
    url = video_url(deployment, uidd, token)
    lines = httpx.get(url).text.splitlines()
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    after = lines[lines.index("#EXT-X-DISCONTINUITY") :]
    assert uris("\n".join(after))[0].startswith(f"seg_{uidd}_{T0 + 30_000}.ts?")
    assert "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:50.000Z" in after
    assert abs(duration(ffprobe(url)) - 12.0) <= 2.0


def test_a_time_window_without_an_event(deployment: Deployment, recording: list[Segment]) -> None:
    uidd, key, token = camera_with_owner(deployment)
    upload(deployment, uidd, key, recording)
    # Seconds T0+2 to T0+5, to the end of second 5: the 2nd and 3rd segments.
    answer = httpx.get(
        video_url(deployment, uidd, token, event=None, startt=T0 // 1000 + 2, endt=T0 // 1000 + 5)
    )
    assert answer.status_code == 200, answer.text
    assert [u.split("?")[0] for u in uris(answer.text)] == [
        f"seg_{uidd}_{T0 + n * 2000}.ts" for n in (1, 2)
    ]
    assert answer.text.endswith("#EXT-X-ENDLIST\n")
    # /alert's ms where the reference asks for seconds are understood as ms.
    in_ms = httpx.get(
        video_url(deployment, uidd, token, event=None, startt=T0 + 2000, endt=T0 + 6000)
    )
    assert uris(in_ms.text) == uris(answer.text)


def test_segments_answer_range_requests(deployment: Deployment, recording: list[Segment]) -> None:
    uidd, key, token = camera_with_owner(deployment)
    upload(deployment, uidd, key, recording[:1])
    data = recording[0].data
    path = f"{deployment.url}/seg_{uidd}_{T0}.ts"
    part = httpx.get(path, params={"token": token}, headers={"Range": "bytes=188-1127"})
    assert part.status_code == 206
    assert part.headers["content-range"] == f"bytes 188-1127/{len(data)}"
    assert part.content == data[188:1128]
    whole = httpx.get(path, headers=auth_header(token))
    assert whole.status_code == 200 and whole.content == data
    assert "immutable" in whole.headers["cache-control"]
    assert whole.headers["accept-ranges"] == "bytes"
    assert httpx.get(path, params={"userToken": token}).status_code == 200


def test_rights_and_bad_requests(deployment: Deployment, recording: list[Segment]) -> None:
    uidd, key, token = camera_with_owner(deployment)
    upload(deployment, uidd, key, recording[:2])
    report_event(deployment, uidd, key, T0, T0 + 4000)
    segment = f"{deployment.url}/seg_{uidd}_{T0}.ts"

    stranger = deployment.new_user()
    stranger_token = login(deployment.url, str(stranger["email"]), PASSWORD)
    assert httpx.get(video_url(deployment, uidd, stranger_token)).status_code == 403
    assert httpx.get(segment, params={"token": stranger_token}).status_code == 403
    assert httpx.get(video_url(deployment, uidd, stranger_token, buildmp4=1)).status_code == 403

    # A viewer the owner shared the camera with may watch.
    shared = httpx.post(
        f"{deployment.url}/sharing",
        headers=auth_header(token),
        json={"email": stranger["email"], "right": "r"},
    )
    assert shared.status_code == 200, shared.text
    assert httpx.get(video_url(deployment, uidd, stranger_token)).status_code == 200
    assert httpx.get(segment, params={"token": stranger_token}).status_code == 200

    for answer in (
        httpx.get(video_url(deployment, uidd, None)),
        httpx.get(segment),
        httpx.get(segment, params={"token": "forged*token"}),
    ):
        assert answer.status_code == 401 and "error" in answer.json()

    cases = [
        ("1.x", {}, 400),
        (uidd, {"buildmp4": 2}, 400),
        (uidd, {"id": "soon"}, 400),
        (uidd, {"id": T0 // 1000 + 1}, 404),
        (uidd, {"endt": T0 // 1000 - 100}, 200),  # the event decides, not startt/endt
    ]
    for device, params, status in cases:
        answer = httpx.get(video_url(deployment, device, token, **params))  # type: ignore[arg-type]
        assert answer.status_code == status, (params, answer.text)
        assert status == 200 or "error" in answer.json()
    no_event = httpx.get(video_url(deployment, uidd, token, id=T0 // 1000 + 1)).json()
    assert no_event["error"] == "no_event"
    no_time = httpx.get(video_url(deployment, uidd, token, event=None, startt="", endt=""))
    assert no_time.status_code == 400
    nothing = httpx.get(
        video_url(
            deployment, uidd, token, event=None, startt=T0 // 1000 - 600, endt=T0 // 1000 - 300
        )
    )
    assert nothing.status_code == 404 and nothing.json()["error"] == "no_video"
    backwards = httpx.get(
        video_url(deployment, uidd, token, event=None, startt=T0 // 1000, endt=T0 // 1000 - 10)
    )
    assert backwards.status_code == 400

    unknown = httpx.get(f"{deployment.url}/seg_{uidd}_{T0 + 1}.ts", params={"token": token})
    assert unknown.status_code == 404 and unknown.json()["error"] == "no_segment"
    bad = httpx.get(f"{deployment.url}/seg_1.x_{T0}.ts", params={"token": token})
    assert bad.status_code == 400 and "error" in bad.json()
    assert "Traceback" not in deployment.server.log()


def new_named_camera(deployment: Deployment, name: str) -> tuple[str, str, str]:
    owner = deployment.new_user()
    created = httpx.post(
        f"{deployment.url}/admin/devices",
        headers=auth_header(deployment.admin_token),
        json={"owner": owner["email"], "name": name},
    )
    result = created.json()["result"]
    return result["uidd"], result["deviceKey"], login(deployment.url, str(owner["email"]), PASSWORD)


def test_buildmp4_downloads_one_mp4(
    deployment: Deployment, recording: list[Segment], later: list[Segment], tmp_path: Path
) -> None:
    uidd, key, token = new_named_camera(deployment, 'Front door "A"/1')
    upload(deployment, uidd, key, recording + later)
    report_event(deployment, uidd, key, T0, T0 + 34_000)
    answer = httpx.get(video_url(deployment, uidd, token, buildmp4=1), timeout=60)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "video/mp4"
    assert answer.headers["content-disposition"] == (
        'attachment; filename="Front_door_A_1-20231114T221320Z.mp4"'
    )
    assert "content-length" not in answer.headers  # sent as it is made
    path = tmp_path / "export.mp4"
    path.write_bytes(answer.content)
    probe = ffprobe(str(path))
    assert codecs(probe) == ["h264", "aac"]
    # Plays straight through: the 8 s and the 4 s after the gap, without the gap.
    assert abs(duration(probe) - 12.0) <= 2.0
    decodes_cleanly(path, timeout=60)


@pytest.fixture(scope="module")
def noisy() -> list[Segment]:
    """20 s of lossless random noise: ten 2 s segments of 3.3 MB, 33 MB in all, more than the
    export's queue and the sockets' buffers together hold."""
    buffer = io.BytesIO()
    pixels = np.random.default_rng(1)
    with av.open(buffer, "w", format="mpegts") as output:
        options = {"g": "15", "bf": "0", "preset": "ultrafast", "qp": "0", "threads": "1"}
        video = output.add_stream("libx264", rate=15, options=options)
        video.width, video.height, video.pix_fmt = 320, 180, "yuv420p"
        for n in range(300):
            image = pixels.integers(0, 255, (180, 320, 3), dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = n
            output.mux(video.encode(frame))
        output.mux(video.encode())
    return cut(buffer.getvalue(), T0)


def test_an_export_the_client_drops_does_not_hurt_the_server(
    deployment: Deployment, noisy: list[Segment]
) -> None:
    """A client that reads the first bytes of a long export and goes away: the remux behind it
    stops (its thread logs so), and the server keeps answering, with no error in its log."""
    uidd, key, token = camera_with_owner(deployment)
    upload(deployment, uidd, key, noisy)
    report_event(deployment, uidd, key, T0, T0 + 20_000)
    stops_before = deployment.server.log().count("mp4 export stopped early")
    with httpx.stream("GET", video_url(deployment, uidd, token, buildmp4=1)) as answer:
        assert answer.status_code == 200
        assert answer.headers.get("transfer-encoding") == "chunked"
        first = next(answer.iter_raw())
        assert first[4:8] == b"ftyp"
    for _ in range(3):
        assert httpx.get(video_url(deployment, uidd, token)).status_code == 200
    stopped = "mp4 export stopped early: its reader went away"
    deadline = time.monotonic() + 10
    while deployment.server.log().count(stopped) < stops_before + 1:
        assert time.monotonic() < deadline, "the export went on after its client left"
        time.sleep(0.1)
    log = deployment.server.log()
    assert "Traceback" not in log and not re.search(r"ERROR.*(mp4|export)", log)
