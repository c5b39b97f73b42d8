"""The sync client against a demo server: typed results, the viewerInfo rules,
errors, paging, the segment cache, downloads and the repeating tasks."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import httpx
import pytest

from camloft.client import (
    BadRequestError,
    CameraOfflineError,
    Client,
    Event,
    ForbiddenError,
    NotFoundError,
    SegmentCache,
    TransportError,
)
from camloft.client.cache import playlist_segments
from tests.client.conftest import event_with_video, wait_for
from tests.conftest import Deployment
from tests.logger.test_alerts import BASE, PASSWORD, add_events, camera_with_owner


class Counting(httpx.HTTPTransport):
    """A transport that counts requests by path."""

    def __init__(self) -> None:
        super().__init__()
        self.paths: list[str] = []
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.paths.append(request.url.path)
        return super().handle_request(request)

    def count(self, path: str) -> int:
        return sum(1 for p in self.paths if p == path or p.startswith(path + "?"))


def owner(demo: Deployment, **kwargs: object) -> Client:
    return Client(demo.url, email="demo@example.com", password="demo", **kwargs)  # type: ignore[arg-type]


def test_devices_and_status_are_typed(demo: Deployment) -> None:
    with owner(demo) as client:
        devices = client.devices()
        assert [(d.uidd, d.name, d.alias, d.admin) for d in devices] == [
            ("1.1", "Front Door", "Demo Customer", True),
            ("1.2", "Garden", "Demo Customer", True),
            ("1.3", "Garage", "Demo Customer", True),
        ]
        detail = client.device("1.2")
        assert detail.logger_url == demo.url and detail.wowza_url == demo.url
        assert detail.streamname and detail.streamname.startswith("1.2_")
        statuses = wait_for(
            lambda: client.status() if len(client.status()) == 3 else None,
            20,
            "three resident cameras",
        )
        assert {s.uidd for s in statuses} == {"1.1", "1.2", "1.3"}
        assert all(s.status in {"online", "novideo", "live"} for s in statuses)


def test_viewer_info_is_cached_for_ten_minutes(demo: Deployment) -> None:
    counting = Counting()
    with owner(demo, transport=counting) as client:
        for _ in range(3):
            client.device("1.1")
            client.events("1.1", limit=1)
        assert counting.count("/devices/viewerInfo") == 1
    counting = Counting()
    with owner(demo, transport=counting, viewer_info_seconds=0.0) as client:
        client.device("1.1")
        client.device("1.1")
        assert counting.count("/devices/viewerInfo") == 2


def test_not_resident_fetches_viewer_info_again_at_once(demo: Deployment) -> None:
    """Rule: viewerInfo again when a logger says a device is not resident (or offline)."""
    uidd = demo.new_device("demo@example.com", "Never Linked")
    counting = Counting()
    with owner(demo, transport=counting) as client:
        assert client.status([uidd, "1.1"])[0].uidd == "1.1"  # the other is left out
        assert counting.count("/devices/viewerInfo") == 2  # once, then again at once
        with pytest.raises(CameraOfflineError) as caught:
            client.send_task(uidd, "capturethumb")
        assert caught.value.code == "camera_offline"
        assert counting.count("/devices/viewerInfo") == 3


def test_errors_are_ours_with_the_server_code(demo: Deployment) -> None:
    with owner(demo) as client:
        with pytest.raises(NotFoundError):
            client.device("1.99")
        with pytest.raises(BadRequestError):
            client.device("../1")
        with pytest.raises(NotFoundError) as caught:
            client.alert_thumb("1.1", 5)
        assert caught.value.code == "no_image"
    with Client(demo.url, email="viewer@example.com", password="viewer") as viewer:
        with pytest.raises(ForbiddenError):
            viewer.send_task("1.1", "triggerevent")
        with pytest.raises(ForbiddenError):
            viewer.ptz("1.1", "left")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    with pytest.raises(TransportError) as failed:
        Client(closed, email="a@example.com", password="b")
    assert isinstance(failed.value.__cause__, httpx.HTTPError)


def test_events_page_newest_first_without_repeats(demo: Deployment) -> None:
    """Rule: /alert again with an offset for the next page; new events do not shift pages."""
    uidd, key, _ = camera_with_owner(demo)
    add_events(demo, uidd, key, range(5))
    owner_email = next(
        u["email"]
        for u in httpx.get(
            f"{demo.url}/admin/users",
            headers={"Authorization": f"ManythingToken {demo.admin_token}"},
        ).json()["result"]
        if u["uid"] == int(uidd.split(".")[0])
    )
    with Client(demo.url, email=owner_email, password=PASSWORD) as client:
        pages = client.iter_events(uidd, page_size=2, maxage=2**52)
        first = [next(pages), next(pages)]
        add_events(demo, uidd, key, range(5, 8))  # newer events arrive mid-pass
        ids = [e.id for e in [*first, *pages]]
        assert ids == [BASE + n * 60 for n in range(4, -1, -1)]
        assert all(isinstance(e, Event) and e.uidd == uidd and not e.recording for e in first)
        assert first[0].smx == 10 and first[0].duration == 30.0
        assert len(client.events(uidd, maxage=2**52)) == 8
        assert client.events(uidd) == []  # the plan's 7 days hide 2023's events


def test_keep_live_and_recording_repeat_their_task(demo: Deployment) -> None:
    counting = Counting()
    with owner(demo, transport=counting) as client:
        with client.keep_live("1.2", interval=0.4) as live:
            time.sleep(1.5)
        assert live.sent >= 3 and live.last_error is None
        sent = counting.count("/sendcameratask")
        time.sleep(0.6)
        assert counting.count("/sendcameratask") == sent  # stopped with the block
        with client.recording("1.2", interval=0.5) as recording:
            time.sleep(0.8)
        assert recording.sent >= 2


def test_segments_are_cached_and_an_event_plays_from_disk(demo: Deployment, tmp_path: Path) -> None:
    """Rule: cache the .ts files; a segment once cached is never fetched again."""
    counting = Counting()
    with owner(demo, transport=counting, cache=SegmentCache(tmp_path / "segs")) as client:
        event = event_with_video(client, "1.1")
        local = client.cache_event("1.1", event.id)
        listed = [line for line in local.read_text().splitlines() if line.endswith(".ts")]
        assert listed and all((local.parent / name).is_file() for name in listed)
        assert "token=" not in local.read_text()
        fetched = [p for p in counting.paths if p.endswith(".ts")]
        assert len(fetched) == len(listed)
        start_ms = int(listed[0].removesuffix(".ts"))
        assert client.segment("1.1", start_ms) == local.parent / listed[0]
        assert [p for p in counting.paths if p.endswith(".ts")] == fetched  # from the cache


def test_mp4_download_restarts_cleanly_without_range(demo: Deployment, tmp_path: Path) -> None:
    """The logger's MP4 is made while sent (no Range): a stale partial file is replaced."""
    with owner(demo) as client:
        event = event_with_video(client, "1.1")
        part = tmp_path / f".1.1-{event.id}.mp4.part"
        part.write_bytes(b"stale bytes of an earlier try")
        progress: list[int] = []
        done = client.download_event(
            "1.1", event.id, tmp_path, progress=lambda have, total: progress.append(have)
        )
        data = Path(done.path).read_bytes()
        assert not done.resumed and data[4:8] == b"ftyp" and done.size == len(data)
        assert Path(done.path).name.startswith("Front_Door-") and not part.exists()
        assert progress and progress[-1] == done.size


def test_a_partial_segment_download_resumes_with_range(demo: Deployment, tmp_path: Path) -> None:
    with owner(demo) as client:
        event = event_with_video(client, "1.1")
        _, start_ms = playlist_segments(client.playlist("1.1", event.id))[0]
        whole = client.segment("1.1", start_ms).read_bytes()
        dest = tmp_path / "segment.ts"
        dest.with_name("segment.ts.part").write_bytes(whole[:1000])
        done = client.download_file(f"/seg_1.1_{start_ms}.ts", dest, uidd="1.1")
        assert done.resumed and dest.read_bytes() == whole


def test_snapshot_and_live_url(demo: Deployment) -> None:
    with owner(demo) as client:
        second, jpeg = client.snapshot("1.3")
        assert jpeg[:2] == b"\xff\xd8" and abs(second - time.time()) < 30
        device = client.device("1.3")
        url = client.live_url("1.3")
        assert url.startswith(f"{device.wowza_url}/manything/{device.streamname}/playlist.m3u8?")
        assert httpx.URL(url).params["userToken"] == client.token
