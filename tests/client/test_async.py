"""AsyncClient's own helpers: the keepalive task, async paging, async MP4 download."""

from __future__ import annotations

import asyncio
from pathlib import Path

from camloft.client import AsyncClient, Client
from tests.client.conftest import event_with_video
from tests.conftest import Deployment


def test_keepalive_task_paging_and_download(demo: Deployment, tmp_path: Path) -> None:
    with Client(demo.url, email="demo@example.com", password="demo") as sync:
        ready = event_with_video(sync, "1.1")

    part = tmp_path / f".1.1-{ready.id}.mp4.part"
    part.write_bytes(b"stale")
    downloads = []

    async def run() -> None:
        async with AsyncClient(demo.url) as client:
            await client.login("demo@example.com", "demo")
            task = client.keepalive_task("1.2", interval=0.3)
            async with client.recording("1.3", interval=0.3) as recording:
                await asyncio.sleep(1.0)
            assert recording.sent >= 3 and recording.last_error is None
            task.cancel()
            assert [e.id async for e in client.iter_events("1.1", page_size=1)][:1] == [
                (await client.events("1.1", limit=1))[0].id
            ]
            downloads.append(await client.download_event("1.1", ready.id, tmp_path))

    asyncio.run(run())
    (done,) = downloads
    assert Path(done.path).read_bytes()[4:8] == b"ftyp" and not done.resumed
