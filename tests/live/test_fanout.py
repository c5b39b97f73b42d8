"""200 viewers of one live stream on loopback miss no segment (issue 5, fan-out).

Segments are pushed once a second the way the adapter pushes them; 200
viewers follow the playlist as hls.js does with a blocking-reload origin
(ask for the next media sequence number, fetch each new segment) for eight
segments. Every viewer must get every segment from the first it saw to the
last, byte for byte, and the origin must hold no more than its window.
"""

from __future__ import annotations

import asyncio
import threading
import time
from urllib.parse import urlencode

import httpx
import pytest

from tests.conftest import Deployment
from tests.live.test_origin import push, streamname, uris
from tests.logger.test_alerts import camera_with_owner
from tests.mediafiles import make_ts
from tests.support import auth_header

pytestmark = pytest.mark.e2e
VIEWERS = 200
SEGMENTS = 8
PUSH_EVERY_S = 1.0  # a segment a second, as the demo's cameras cut them


async def get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    """A GET retried once when a kept-alive connection was closed under it (uvicorn closes
    idle ones after 5 s; a request can race the close), as players retry."""
    try:
        return await client.get(url)
    except httpx.RemoteProtocolError:
        return await client.get(url)


async def follow(client: httpx.AsyncClient, base: str, token: str, until: int) -> dict[int, bytes]:
    """One viewer: blocking reloads for the next segment, each new one fetched once."""
    got: dict[int, bytes] = {}
    want: int | None = None
    while want is None or want <= until:
        query = {"userToken": token} | ({} if want is None else {"_HLS_msn": want})
        answer = await get(client, f"{base}/playlist.m3u8?{urlencode(query)}")
        assert answer.status_code == 200, answer.text
        for uri in uris(answer.text):
            number = int(uri.split("_", 1)[1].split(".", 1)[0])
            if number not in got and number <= until:
                segment = await get(client, f"{base}/{uri}")
                assert segment.status_code == 200, segment.text
                got[number] = segment.content
        want = max(got) + 1
    return got


async def watch_all(base: str, token: str) -> list[dict[int, bytes]]:
    """200 viewers, each with a client of its own as each player has. (One httpx client
    shared by all 200 spends ~5 ms of CPU a request managing its pool of 200 connections:
    this process then falls seconds behind, and the test measures the client.)"""

    async def viewer() -> dict[int, bytes]:
        async with httpx.AsyncClient(timeout=30) as client:
            return await follow(client, base, token, SEGMENTS - 1)

    return await asyncio.gather(*(viewer() for _ in range(VIEWERS)))


def test_two_hundred_viewers_miss_no_segment(deployment: Deployment) -> None:
    uidd, key, token = camera_with_owner(deployment)
    base = f"{deployment.url}/manything/{streamname(deployment, uidd, token)}"
    data = [make_ts(1.0, fps=15) for _ in range(SEGMENTS)]
    assert push(deployment, uidd, key, 0, data[0]).status_code == 201

    pushed: list[int] = []

    def pusher() -> None:
        for sequence in range(1, SEGMENTS):
            time.sleep(PUSH_EVERY_S)
            pushed.append(push(deployment, uidd, key, sequence, data[sequence]).status_code)

    feeding = threading.Thread(target=pusher)
    feeding.start()
    seen = asyncio.run(watch_all(base, token))
    feeding.join()
    assert pushed == [201] * (SEGMENTS - 1)

    for got in seen:
        first = min(got)
        assert first == 0  # all joined while the window still held segment 0
        assert sorted(got) == list(range(SEGMENTS))
        assert all(got[n] == data[n] for n in got)

    held = httpx.get(f"{deployment.url}/admin/live", headers=auth_header(deployment.admin_token))
    mine = next(s for s in held.json()["result"]["streams"] if s["uidd"] == uidd)
    assert mine["segments"] == SEGMENTS and mine["bytes"] == sum(map(len, data))
    assert "Traceback" not in deployment.server.log()
