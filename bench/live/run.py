"""Benchmark of live video on demand (issue 5 items 3 and 4): start-up, glass to glass, fan-out.

Everything runs on loopback in child processes: one `camloft serve` (SQLite, its
own data dir and secret; logger and live origin in one process, log level info
as deployed) and `camloft adapter --config cameras.toml` with synthetic cameras
(640x360, 15 fps, a key frame every second, ~512 kbit/s H.264 + AAC, motion
detection off). Every camera has `live_tail_seconds = 3`. Users and devices
are made with `camloft admin` (a server admin for `GET /admin/live`, an owner
whose token the viewers use).

1. Start-up: livecommand -> first playable segment. One trial: send
   `GET /sendcameratask?uidd=&action=livecommand`, then at once the playlist
   (`<wowzaUrl>/manything/<streamname>/playlist.m3u8?userToken=`, which the
   origin holds until the first segment exists), then its first segment; the
   time runs from sending the livecommand until that segment is downloaded.
   Each trial starts on a fresh stream: the camera is used again only once
   the origin has freed its last stream (it ends 3 s after the livecommand
   and is kept 30 s more), so 3 cameras per mode take turns. `TRIALS` trials
   with `live_from_buffer = true` (the first segment is the GOP buffer) and as
   many with `false` (waits for the next key frame), interleaved. Targets: < 1 s
   and < 2 s (median). The age of the first segment's first picture at download
   (burnt-in clock) is shown too.
2. Glass to glass with standard HLS: one camera kept alive (livecommand every
   second), two players on it at once for `FOLLOW_SECONDS`: one reloads the
   playlist with `_HLS_msn=<next>` as hls.js does when the playlist says
   CAN-BLOCK-RELOAD, one polls like an HLS player without blocking reload
   (RFC 8216 6.3.4: reload one target duration after the last reload began,
   half that when the playlist did not change). Both start at the newest
   segment and fetch every segment after it in order. Each segment is decoded
   with PyAV afterwards; its first (oldest) and last (newest) pictures' burnt-in
   clocks are read (`camloft.media.synthetic.read_clock`) and the wall clock at
   download completion minus each is glass to glass (of the download: a player
   shows it later by its own buffer, hls.js 3 target durations by default).
   The segment each player joined on is left out. Target: < 4 s.
3. Fan-out: `VIEWERS` viewers of that stream in `WORKERS` processes started from
   this one (spawned; asyncio, an httpx.AsyncClient and connection per viewer,
   one owner token; one process with one client for all of them was the
   bottleneck), all starting at one moment, each
   following the playlist with blocking reload for `FANOUT_SECONDS` from the
   newest segment and downloading every segment. Missed per viewer = segments
   between its first and last download that it did not get (slid out of the
   window or failed). Delivery delay = download done minus the first time any
   viewer got a playlist listing that segment (~ its arrival at the origin), and
   minus the segment's end (PROGRAM-DATE-TIME + EXTINF, the adapter's clock).
   The server's CPU (utime + stime from /proc/<pid>/stat) and RSS (VmRSS) before
   and after, this process's CPU (is the client the bottleneck?), and every
   second `GET /admin/live` (segments and bytes the origin holds for the stream).

Prints the numbers and writes the section "## bench/live" of bench/RESULTS.md
(`--no-write` to skip). Every child process is stopped and the temporary folder
removed, also when a step fails or on SIGTERM.
Run: `.venv/bin/python bench/live/run.py` (about 4 minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import json
import multiprocessing
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common.py

import av
import httpx

from camloft.media.synthetic import read_clock
from common import (
    Children,
    Device,
    abort_on_signals,
    add_device,
    add_user,
    base_env,
    camloft_command,
    load_average,
    machine,
    machine_text,
    med,
    proc_cpu,
    pyav_version,
    run_benchmark,
    runs_text,
    start_serve,
    tail,
    verdict,
    write_results,
)

SECTION = "## bench/live"

TAIL_SECONDS = 3
TRIALS = 10  # start-up trials per mode
START_CAMERAS = 3  # cameras per mode taking turns for the start-up trials
FOLLOW_SECONDS = 30.0
VIEWERS = 200
FANOUT_SECONDS = 30.0
KEEPALIVE_SECONDS = 1.0
WORKERS = 4  # viewer processes: one Python process cannot keep 200 viewers fed
WORKER_START_SECONDS = 8.0

START_BUFFER_TARGET = 1.0
START_KEYFRAME_TARGET = 2.0
GLASS_TARGET = 4.0
MISSED_TARGET = 0

ADMIN_EMAIL, OWNER_EMAIL, PASSWORD = "admin@camloft.test", "owner@camloft.test", "bench-pw-1"


# processes


def proc_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# the deployment


def make_devices(data_dir: Path, env: dict[str, str], names: list[str]) -> list[Device]:
    add_user(data_dir, env, ADMIN_EMAIL, PASSWORD, admin=True)
    add_user(data_dir, env, OWNER_EMAIL, PASSWORD)
    return [add_device(data_dir, env, OWNER_EMAIL, name) for name in names]


@dataclass(frozen=True)
class CameraConfig:
    device: Device
    name: str
    from_buffer: bool


def start_adapter(
    children: Children, folder: Path, url: str, cameras: list[CameraConfig], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    lines = [f"logger_url = {json.dumps(url)}", f"spool_dir = {json.dumps(str(folder / 'spool'))}"]
    for camera in cameras:
        lines += [
            "",
            "[[cameras]]",
            f"uidd = {json.dumps(camera.device.uidd)}",
            f"key = {json.dumps(camera.device.key)}",
            f"name = {json.dumps(camera.name)}",
            'source = "synthetic"',
            f"live_tail_seconds = {TAIL_SECONDS}",
            f"live_from_buffer = {'true' if camera.from_buffer else 'false'}",
            "[cameras.synthetic]",
            "random_motion = false",
            "[cameras.motion]",
            "enabled = false",
        ]
    config = folder / "cameras.toml"
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return children.start(
        [camloft_command(), "adapter", "--config", str(config)], folder / "adapter.log", env
    )


@dataclass
class Site:
    url: str
    server_pid: int
    owner_token: str
    admin_token: str
    client: httpx.Client

    def get(self, path: str, token: str | None = None, **params: str) -> Any:
        answer = self.client.get(
            f"{self.url}{path}",
            params=params,
            headers={"Authorization": f"ManythingToken {token or self.owner_token}"},
        )
        if answer.status_code != 200:
            raise RuntimeError(f"GET {path}: {answer.status_code} {answer.text[:300]}")
        return answer.json()

    def status(self, uidd: str) -> str:
        owner, device = uidd.split(".")
        found = self.get("/cameras/status", uidd=uidd)["result"]
        return str(found.get(owner, {}).get("devices", {}).get(device, {}).get("status", ""))

    def playlist_url(self, uidd: str) -> str:
        owner, device = uidd.split(".")
        info = self.get("/devices/viewerInfo", uidd=uidd)["result"][owner]["devices"][device]
        return f"{info['wowzaUrl']}/manything/{info['streamname']}/playlist.m3u8"

    def held(self) -> dict[str, dict[str, Any]]:
        """The origin's streams (GET /admin/live), by uidd."""
        streams = self.get("/admin/live", token=self.admin_token)["result"]["streams"]
        return {str(s["uidd"]): s for s in streams}

    def wait_online(self, uidds: list[str], adapter: subprocess.Popen[bytes], log: Path) -> None:
        deadline = time.monotonic() + 60
        while not all(self.status(uidd) in ("online", "live") for uidd in uidds):
            if adapter.poll() is not None:
                raise RuntimeError(f"the adapter exited:\n{tail(log)}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"cameras not online in 60 s:\n{tail(log)}")
            time.sleep(0.3)


def login(client: httpx.Client, url: str, email: str) -> str:
    answer = client.get(f"{url}/login", params={"email": email, "password": PASSWORD})
    answer.raise_for_status()
    token: str = answer.json()["result"]["authToken"]
    return token


# playlists and segments


@dataclass(frozen=True)
class Listed:
    msn: int
    uri: str
    program_time: float | None  # seconds since the epoch
    duration: float


@dataclass(frozen=True)
class Playlist:
    target: int
    segments: list[Listed]
    ended: bool

    @property
    def newest(self) -> int | None:
        return self.segments[-1].msn if self.segments else None


def parse_playlist(text: str) -> Playlist:
    target, sequence, ended = 1, 0, False
    program_time: float | None = None
    duration = 0.0
    segments: list[Listed] = []
    for line in text.splitlines():
        if line.startswith("#EXT-X-TARGETDURATION:"):
            target = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-MEDIA-SEQUENCE:"):
            sequence = int(line.split(":", 1)[1])
        elif line.startswith("#EXT-X-PROGRAM-DATE-TIME:"):
            program_time = datetime.fromisoformat(line.split(":", 1)[1]).timestamp()
        elif line.startswith("#EXTINF:"):
            duration = float(line.split(":", 1)[1].split(",")[0])
        elif line.startswith("#EXT-X-ENDLIST"):
            ended = True
        elif line and not line.startswith("#"):
            segments.append(Listed(sequence, line, program_time, duration))
            sequence += 1
            program_time = None
    return Playlist(target, segments, ended)


def with_query(url: str, **params: str | int) -> str:
    return str(httpx.URL(url).copy_merge_params(params))


@dataclass(frozen=True)
class Clocks:
    first: float  # the burnt-in clock of the segment's first (oldest) picture
    last: float  # of its last (newest) picture
    frames: int


def segment_clocks(data: bytes) -> Clocks | None:
    """Decode a segment on its own; None when no picture decodes."""
    first: float | None = None
    last: float | None = None
    frames = 0
    try:
        with av.open(io.BytesIO(data), "r", format="mpegts") as container:
            for frame in container.decode(video=0):
                clock = read_clock(frame.to_ndarray(format="gray"))
                first = clock if first is None else first
                last = clock
                frames += 1
    except (av.FFmpegError, ValueError):
        if first is None:
            return None
    if first is None or last is None:
        return None
    return Clocks(first, last, frames)


# 1. start-up


@dataclass
class StartTrial:
    from_buffer: bool
    total: float  # livecommand sent -> first segment downloaded, s
    answered: float  # livecommand answered
    playlist: float  # playlist answered (the origin held it until the first segment)
    first_age: float | None  # download done minus the first picture's capture clock
    size: int


def start_trial(site: Site, uidd: str, playlist_url: str, from_buffer: bool) -> StartTrial:
    headers = {"Authorization": f"ManythingToken {site.owner_token}"}
    url = with_query(playlist_url, userToken=site.owner_token)
    began = time.monotonic()
    answer = site.client.get(
        f"{site.url}/sendcameratask",
        params={"uidd": uidd, "action": "livecommand"},
        headers=headers,
    )
    answered = time.monotonic()
    if answer.status_code != 200:
        raise RuntimeError(f"livecommand: {answer.status_code} {answer.text[:300]}")
    playlist = site.client.get(url, timeout=30)
    listed_at = time.monotonic()
    if playlist.status_code != 200:
        raise RuntimeError(f"playlist: {playlist.status_code} {playlist.text[:300]}")
    parsed = parse_playlist(playlist.text)
    if not parsed.segments or parsed.segments[0].msn != 0:
        raise RuntimeError(f"not a fresh stream:\n{playlist.text}")
    segment = site.client.get(url.rsplit("/", 1)[0] + "/" + parsed.segments[0].uri, timeout=30)
    done = time.monotonic()
    done_wall = time.time()
    if segment.status_code != 200:
        raise RuntimeError(f"segment: {segment.status_code} {segment.text[:300]}")
    clocks = segment_clocks(segment.content)
    return StartTrial(
        from_buffer,
        done - began,
        answered - began,
        listed_at - began,
        None if clocks is None else done_wall - clocks.first,
        len(segment.content),
    )


def wait_freed(site: Site, uidd: str, timeout: float = 90.0) -> None:
    """Until the origin holds no stream of `uidd` (ended and kept its 30 s)."""
    deadline = time.monotonic() + timeout
    while uidd in site.held():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the origin still holds {uidd} after {timeout:.0f} s")
        time.sleep(0.5)


def start_trials(
    site: Site, by_mode: dict[bool, list[str]], playlists: dict[str, str]
) -> list[StartTrial]:
    trials: list[StartTrial] = []
    for n in range(2 * TRIALS):
        from_buffer = n % 2 == 0
        uidd = by_mode[from_buffer][(n // 2) % len(by_mode[from_buffer])]
        wait_freed(site, uidd)
        trial = start_trial(site, uidd, playlists[uidd], from_buffer)
        trials.append(trial)
        print(
            f"  {'buffer  ' if from_buffer else 'keyframe'} {uidd}: {trial.total:.3f} s "
            f"(answer {trial.answered:.3f}, playlist {trial.playlist:.3f}, "
            f"first picture {trial.first_age or 0:.3f} s old)",
            flush=True,
        )
    return trials


# 2. glass to glass


@dataclass
class Fetched:
    msn: int
    done: float  # time.time() at download completion
    data: bytes
    joined: bool  # the segment the player joined on


async def keepalive(client: httpx.AsyncClient, site: Site, uidd: str) -> None:
    while True:
        answer = await client.get(
            f"{site.url}/sendcameratask",
            params={"uidd": uidd, "action": "livecommand"},
            headers={"Authorization": f"ManythingToken {site.owner_token}"},
        )
        answer.raise_for_status()
        await asyncio.sleep(KEEPALIVE_SECONDS)


async def fetch_segments(
    client: httpx.AsyncClient,
    base: str,
    playlist: Playlist,
    next_msn: int,
    out: list[Fetched],
    joined: bool,
) -> int:
    for listed in playlist.segments:
        if listed.msn < next_msn:
            continue
        answer = await client.get(f"{base}/{listed.uri}")
        if answer.status_code == 200:
            out.append(Fetched(listed.msn, time.time(), answer.content, joined))
        next_msn = listed.msn + 1
    return next_msn


async def follow_blocking(client: httpx.AsyncClient, url: str, seconds: float) -> list[Fetched]:
    """Like hls.js on a CAN-BLOCK-RELOAD playlist: reload asking for the next segment."""
    base = url.split("?", 1)[0].rsplit("/", 1)[0]
    out: list[Fetched] = []
    first = parse_playlist((await client.get(url)).text)
    assert first.newest is not None
    next_msn = await fetch_segments(client, base, first, first.newest, out, True)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = await client.get(with_query(url, _HLS_msn=next_msn))
        playlist = parse_playlist(answer.text)
        next_msn = await fetch_segments(client, base, playlist, next_msn, out, False)
    return out


async def follow_polling(client: httpx.AsyncClient, url: str, seconds: float) -> list[Fetched]:
    """Like an HLS player without blocking reload (RFC 8216 6.3.4)."""
    base = url.split("?", 1)[0].rsplit("/", 1)[0]
    out: list[Fetched] = []
    deadline = time.monotonic() + seconds
    next_msn: int | None = None
    previous = ""
    while time.monotonic() < deadline:
        began = time.monotonic()
        answer = await client.get(url)
        playlist = parse_playlist(answer.text)
        if next_msn is None:
            assert playlist.newest is not None
            next_msn = await fetch_segments(client, base, playlist, playlist.newest, out, True)
        else:
            next_msn = await fetch_segments(client, base, playlist, next_msn, out, False)
        wait = playlist.target if answer.text != previous else playlist.target / 2
        previous = answer.text
        await asyncio.sleep(max(0.0, began + wait - time.monotonic()))
    return out


@dataclass
class Glass:
    oldest: list[float] = field(default_factory=list)  # s, download done - first picture
    newest: list[float] = field(default_factory=list)  # s, download done - last picture
    segments: int = 0
    undecodable: int = 0
    frames: list[int] = field(default_factory=list)


def glass(fetched: list[Fetched]) -> Glass:
    result = Glass()
    for item in fetched:
        if item.joined:
            continue
        result.segments += 1
        clocks = segment_clocks(item.data)
        if clocks is None:
            result.undecodable += 1
            continue
        result.oldest.append(item.done - clocks.first)
        result.newest.append(item.done - clocks.last)
        result.frames.append(clocks.frames)
    return result


async def glass_to_glass(site: Site, url: str) -> tuple[Glass, Glass]:
    async with (
        httpx.AsyncClient(timeout=30, trust_env=False) as one,
        httpx.AsyncClient(timeout=30, trust_env=False) as two,
    ):
        blocking, polling = await asyncio.gather(
            follow_blocking(one, url, FOLLOW_SECONDS), follow_polling(two, url, FOLLOW_SECONDS)
        )
    return glass(blocking), glass(polling)


# 3. fan-out


@dataclass
class Viewer:
    downloads: dict[int, float] = field(default_factory=dict)  # msn -> done (time.time())
    failures: Counter[str] = field(default_factory=Counter)  # what went wrong, how often
    skipped: int = 0  # segments that slid out of the window before this viewer got them


@dataclass
class Worker:
    """What one viewer process saw (picklable: it comes back from the process)."""

    viewers: list[Viewer]
    first_listed: dict[int, float]  # msn -> first time.time() a playlist listing it arrived
    ends: dict[int, float]  # msn -> PROGRAM-DATE-TIME + EXTINF
    cpu: float  # this process's CPU from the start time to its end
    late: float  # how long after the start time its viewers began


@dataclass
class Fanout:
    viewers: list[Viewer]
    first_listed: dict[int, float]
    ends: dict[int, float]
    held: list[tuple[int, int]]  # (segments, bytes) each second
    workers: int
    late: float
    raw: bool  # RawConnection viewers, else httpx
    wall: float = 0.0
    server_cpu: float = 0.0
    client_cpu: float = 0.0
    rss_before: float = 0.0
    rss_after: float = 0.0
    rss_max: float = 0.0
    newest: int = 0
    load_before: float = 0.0
    load_after: float = 0.0


class RawConnection:
    """A minimal keep-alive HTTP/1.1 GET client on asyncio streams: a viewer that costs
    its process far less CPU than httpx, so the origin, not the client, is measured."""

    def __init__(self, url: str) -> None:
        parts = httpx.URL(url)
        self.host, self.port = parts.host, parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def get(self, url: str) -> tuple[int, bytes]:
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self._streams
        target = httpx.URL(url).raw_path.decode()
        try:
            writer.write(f"GET {target} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
            await writer.drain()
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").lower()
            status = int(head.split(" ", 2)[1])
            length = re.search(r"\r\ncontent-length: *([0-9]+)", head)
            if length is None:
                raise OSError(f"no content-length in {head!r}")
            body = await reader.readexactly(int(length[1]))
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            raise
        if "\r\nconnection: close" in head:
            self.close()
        return status, body

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None


class HttpxConnection:
    def __init__(self) -> None:
        self._client = httpx.AsyncClient(timeout=30, trust_env=False)

    async def get(self, url: str) -> tuple[int, bytes]:
        answer = await self._client.get(url)
        return answer.status_code, answer.content

    async def aclose(self) -> None:
        await self._client.aclose()


async def view(url: str, until: float, viewer: Viewer, seen: Worker, raw: bool) -> None:
    """One viewer with its own connection: blocking reload, every segment in order."""
    base = url.split("?", 1)[0].rsplit("/", 1)[0]
    next_msn: int | None = None
    connection = RawConnection(url) if raw else HttpxConnection()
    try:
        while time.monotonic() < until:
            target = url if next_msn is None else with_query(url, _HLS_msn=next_msn)
            try:
                status, body = await connection.get(target)
            except (httpx.HTTPError, OSError, asyncio.IncompleteReadError) as err:
                viewer.failures[f"playlist {type(err).__name__}"] += 1
                continue
            listed_at = time.time()
            if status != 200:
                viewer.failures[f"playlist {status}"] += 1
                await asyncio.sleep(0.5)
                continue
            playlist = parse_playlist(body.decode())
            for listed in playlist.segments:
                if listed_at < seen.first_listed.get(listed.msn, listed_at + 1):
                    seen.first_listed[listed.msn] = listed_at
                if listed.program_time is not None:
                    seen.ends[listed.msn] = listed.program_time + listed.duration
            if not playlist.segments:
                continue
            if next_msn is None:
                next_msn = playlist.segments[-1].msn
            if playlist.segments[0].msn > next_msn:
                viewer.skipped += playlist.segments[0].msn - next_msn
                next_msn = playlist.segments[0].msn
            for listed in playlist.segments:
                if listed.msn < next_msn:
                    continue
                try:
                    status, body = await connection.get(f"{base}/{listed.uri}")
                except (httpx.HTTPError, OSError, asyncio.IncompleteReadError) as err:
                    viewer.failures[f"segment {type(err).__name__}"] += 1
                    continue
                if status == 200 and body[:1] == b"G":
                    viewer.downloads[listed.msn] = time.time()
                else:
                    viewer.failures[f"segment {status}"] += 1
                next_msn = listed.msn + 1
    finally:
        if isinstance(connection, RawConnection):
            connection.close()
        else:
            await connection.aclose()


async def _viewers(url: str, count: int, start_at: float, seconds: float, raw: bool) -> Worker:
    await asyncio.sleep(max(0.0, start_at - time.time()))
    late = max(0.0, time.time() - start_at)
    cpu = own_cpu()
    seen = Worker([Viewer() for _ in range(count)], {}, {}, 0.0, late)
    until = time.monotonic() + seconds - late
    await asyncio.gather(*(view(url, until, viewer, seen, raw) for viewer in seen.viewers))
    seen.cpu = own_cpu() - cpu
    return seen


def viewer_process(url: str, count: int, start_at: float, seconds: float, raw: bool) -> Worker:
    """`count` viewers in a process of their own, from `start_at` (time.time()) on."""
    return asyncio.run(_viewers(url, count, start_at, seconds, raw))


async def sample_held(site: Site, uidd: str, fanout: Fanout, until: float) -> None:
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        while time.monotonic() < until:
            answer = await client.get(
                f"{site.url}/admin/live",
                headers={"Authorization": f"ManythingToken {site.admin_token}"},
            )
            for stream in answer.json()["result"]["streams"]:
                if stream["uidd"] == uidd:
                    fanout.held.append((int(stream["segments"]), int(stream["bytes"])))
                    fanout.newest = max(fanout.newest, int(stream["newest"] or 0))
            fanout.rss_max = max(fanout.rss_max, proc_rss_mb(site.server_pid))
            await asyncio.sleep(1.0)


async def fan_out(site: Site, uidd: str, url: str, raw: bool) -> Fanout:
    """VIEWERS viewers spread over WORKERS processes, all starting at one moment."""
    loop = asyncio.get_running_loop()
    counts = [VIEWERS // WORKERS + (1 if n < VIEWERS % WORKERS else 0) for n in range(WORKERS)]
    spawn = multiprocessing.get_context("spawn")  # never fork a process running an event loop
    with ProcessPoolExecutor(max_workers=WORKERS, mp_context=spawn) as pool:
        start_at = time.time() + WORKER_START_SECONDS  # time for the processes to import
        futures = [
            loop.run_in_executor(pool, viewer_process, url, count, start_at, FANOUT_SECONDS, raw)
            for count in counts
        ]
        await asyncio.sleep(max(0.0, start_at - time.time()))
        load_before = load_average()
        rss_before = proc_rss_mb(site.server_pid)
        server_before = proc_cpu(site.server_pid)
        began = time.monotonic()
        fanout = Fanout([], {}, {}, [], WORKERS, 0.0, raw)
        sampler = asyncio.create_task(sample_held(site, uidd, fanout, began + FANOUT_SECONDS))
        workers: list[Worker] = await asyncio.gather(*futures)
        fanout.wall = time.monotonic() - began
        fanout.server_cpu = proc_cpu(site.server_pid) - server_before
        await sampler
    for worker in workers:
        fanout.viewers += worker.viewers
        fanout.ends.update(worker.ends)
        for msn, at in worker.first_listed.items():
            fanout.first_listed[msn] = min(at, fanout.first_listed.get(msn, at))
        fanout.client_cpu += worker.cpu
        fanout.late = max(fanout.late, worker.late)
    fanout.rss_before, fanout.rss_after = rss_before, proc_rss_mb(site.server_pid)
    fanout.load_before, fanout.load_after = load_before, load_average()
    return fanout


async def follow_phase(site: Site, uidd: str, url: str) -> tuple[Glass, Glass, list[Fanout], float]:
    """Keep the camera live, let it settle, then glass to glass, then the fan-out."""
    async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
        alive = asyncio.create_task(keepalive(client, site, uidd))
        try:
            await asyncio.sleep(0.5)
            first = await client.get(url)  # held until the first segment
            first.raise_for_status()
            await asyncio.sleep(3.0)  # past the session's first, non-independent, segments
            load = load_average()
            print(f"glass to glass: two players for {FOLLOW_SECONDS:.0f} s", flush=True)
            blocking, polling = await glass_to_glass(site, url)
            fanouts = []
            for raw in (False, True):
                kind = "RawConnection" if raw else "httpx"
                print(f"fan-out: {VIEWERS} {kind} viewers for {FANOUT_SECONDS:.0f} s", flush=True)
                fanouts.append(await fan_out(site, uidd, url, raw))
        finally:
            alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await alive
    return blocking, polling, fanouts, load


# reporting


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


@dataclass
class Report:
    started: datetime
    took: float
    loads: dict[str, tuple[float, float]]
    trials: list[StartTrial]
    blocking: Glass
    polling: Glass
    fanouts: list[Fanout]
    idle_rss: float


def fanout_numbers(fanout: Fanout) -> dict[str, Any]:
    missed: list[int] = []
    delays: list[float] = []
    since_end: list[float] = []
    for viewer in fanout.viewers:
        if not viewer.downloads:
            missed.append(-1)
            continue
        low, high = min(viewer.downloads), max(viewer.downloads)
        missed.append(high - low + 1 - len(viewer.downloads))
        for msn, done in viewer.downloads.items():
            delays.append(done - fanout.first_listed[msn])
            if msn in fanout.ends:
                since_end.append(done - fanout.ends[msn])
    got = [len(v.downloads) for v in fanout.viewers]
    return {
        "missed": missed,
        "delays": delays,
        "since_end": since_end,
        "got": got,
        "failures": sum((v.failures for v in fanout.viewers), Counter[str]()),
        "skipped": sum(v.skipped for v in fanout.viewers),
        "never": sum(1 for m in missed if m < 0),
    }


def markdown(report: Report, command: str) -> str:
    trials = report.trials
    buffered = [t for t in trials if t.from_buffer]
    keyed = [t for t in trials if not t.from_buffer]
    loads = "; ".join(
        f"{name} {a:.2f} before, {b:.2f} after" for name, (a, b) in report.loads.items()
    )
    versions = machine_text(machine({"PyAV": pyav_version(), "httpx": httpx.__version__}))
    lines = [
        SECTION,
        "",
        f"Run: `bench/live/run.py`, {report.started:%Y-%m-%d %H:%M} UTC, took {report.took:.0f} s.",
        f"Command: `{command}` (or `make bench`).",
        "",
        f"Machine: {versions}; load average (1 min): {loads}.",
        "",
        "Setup: one `camloft serve` (SQLite, logger and live origin in one process, log level "
        "info) and `camloft adapter --config cameras.toml` child processes on 127.0.0.1, "
        "synthetic cameras of 640x360, 15 fps, a key frame every second, ~512 kbit/s H.264 + "
        f"AAC, motion detection off, `live_tail_seconds = {TAIL_SECONDS}`; live segments are "
        "cut at every key frame (1 s). Low-Latency HLS (partial segments, `EXT-X-PART`, "
        "preload hints) is not implemented: the origin serves whole segments only, with "
        "blocking playlist reload (`_HLS_msn`, CAN-BLOCK-RELOAD=YES).",
        "",
        "### Start-up: livecommand to the first playable segment",
        "",
        f"{TRIALS} trials per mode, interleaved, each on a fresh stream ({START_CAMERAS} cameras "
        "per mode in one adapter take turns; a camera is used again once the origin freed its "
        "stream). One trial: `GET /sendcameratask?action=livecommand` sent, then the playlist "
        "at once (held by the origin until the first segment exists), then the first segment "
        'it lists; timed until that download is done. "First picture age" is the wall clock '
        "then minus the burnt-in clock of the segment's first picture.",
        "",
        "| mode | median | runs (s) | livecommand answered (median) | playlist answered "
        "(median) | first picture age (median) | target | met |",
        "|---|---:|---|---:|---:|---:|---|---|",
    ]
    for name, group, target in (
        ("`live_from_buffer = true` (GOP buffer)", buffered, START_BUFFER_TARGET),
        ("`live_from_buffer = false` (next key frame)", keyed, START_KEYFRAME_TARGET),
    ):
        totals = [t.total for t in group]
        ages = [t.first_age for t in group if t.first_age is not None]
        lines.append(
            f"| {name} | {med(totals):.3f} s | {runs_text(totals)} | "
            f"{med([t.answered for t in group]) * 1000:.0f} ms | "
            f"{med([t.playlist for t in group]):.3f} s | {med(ages):.3f} s | "
            f"< {target:.0f} s | {'yes' if med(totals) < target else 'no'} |"
        )
    lines += [
        "",
        "With `live_from_buffer = false` the time is the wait for the camera's next key frame "
        "(0-1 s) plus the segment (1 s) plus ~0.1 s: 1.0-2.1 s depending on where in the GOP the "
        "livecommand lands, so its worst case is over 2 s. The trials start when the origin frees "
        "a stream, which ties them to the cameras' timing: the runs cluster and do not sample "
        "that phase uniformly. With the GOP buffer the first picture a viewer gets is the last "
        "key frame, up to 1 s old.",
        "",
        "### Glass to glass, standard HLS",
        "",
        f"One camera kept alive (livecommand every {KEEPALIVE_SECONDS:.0f} s), two players at "
        f"once for {FOLLOW_SECONDS:.0f} s, each from the newest segment on (that first one is "
        "left out): one reloads with `_HLS_msn=<next>` as hls.js does on a CAN-BLOCK-RELOAD "
        "playlist, one polls as a player without blocking reload (RFC 8216 6.3.4: a target "
        "duration after the last reload began, half that when nothing changed). Every "
        "segment is decoded with PyAV afterwards; glass to glass = wall clock when its "
        "download completed minus the burnt-in capture clock of its first (oldest) and last "
        "(newest) picture, read with `camloft.media.synthetic.read_clock`. This is glass to "
        "the player's download: a player shows the picture later by its own buffer "
        "(hls.js keeps 3 target durations by default).",
        "",
        "| player | segments (undecodable) | oldest picture: median | p90 | max | newest "
        "picture: median | max | target (oldest, median) | met |",
        "|---|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for name, result in (
        ("blocking reload (`_HLS_msn`)", report.blocking),
        ("polling every target duration", report.polling),
    ):
        lines.append(
            f"| {name} | {result.segments} ({result.undecodable}) | {med(result.oldest):.3f} s | "
            f"{pct(result.oldest, 90):.3f} s | {max(result.oldest, default=float('nan')):.3f} s | "
            f"{med(result.newest):.3f} s | {max(result.newest, default=float('nan')):.3f} s | "
            f"< {GLASS_TARGET:.0f} s | {'yes' if med(result.oldest) < GLASS_TARGET else 'no'} |"
        )
    lines += [
        "",
        f"### Fan-out: {VIEWERS} viewers of one stream",
        "",
        f"{VIEWERS} viewers in {WORKERS} processes started from this one (asyncio, a connection "
        "per viewer, all with the owner's token), all starting at one moment, each following "
        f"the playlist with blocking reload for {FANOUT_SECONDS:.0f} s from the newest segment "
        "and downloading every segment. Run twice on the same stream: viewers on "
        "httpx.AsyncClient (one each), then on a minimal keep-alive HTTP/1.1 client on "
        "asyncio streams (`RawConnection`), which costs its processes far less CPU and so "
        "leaves more of the 2 cores to the server. A first attempt (2026-11-25) with all 200 "
        "viewers on one httpx.AsyncClient in one process used 0.82 cores, fell 5-10 s behind "
        "and missed segments (up to 23 per viewer) while the server used 0.18 cores: the "
        "client was the bottleneck. Missed = segments between a viewer's first and last "
        "download it did not "
        "get. Delivery delay = download done minus the first time any viewer received a "
        'playlist listing the segment (~ its arrival at the origin); "since cut" = download '
        "done minus the segment's PROGRAM-DATE-TIME + EXTINF (the adapter's clock: when its "
        "last picture arrived there). Server CPU is utime + stime of `camloft serve` from "
        "/proc/<pid>/stat over the run (per request: divided by the playlist and segment "
        "requests answered); origin memory sampled every second with `GET /admin/live` as a "
        "server admin.",
        "",
        "| what | "
        + " | ".join(
            "httpx viewers" if f.raw is False else "RawConnection viewers" for f in report.fanouts
        )
        + " |",
        "|---|" + "---|" * len(report.fanouts),
    ]
    rows: dict[str, list[str]] = {}
    worst: list[int] = []
    worst_held = 0
    for fanout in report.fanouts:
        numbers = fanout_numbers(fanout)
        missed = [m for m in numbers["missed"] if m >= 0]
        worst.append(-1 if numbers["never"] else max(missed, default=-1))
        delays = [d * 1000 for d in numbers["delays"]]
        since_end = [d * 1000 for d in numbers["since_end"]]
        failures: Counter[str] = numbers["failures"]
        failed = ", ".join(f"{w} x{n}" for w, n in failures.most_common()) if failures else "none"
        held_segments = [h for h, _ in fanout.held]
        held_bytes = [b for _, b in fanout.held]
        worst_held = max(worst_held, *held_segments, 0)
        got: list[int] = numbers["got"]
        requests = 2 * len(delays)  # a playlist and a segment per download, about
        values = {
            "viewers started (the last process late by)": f"{len(fanout.viewers)} "
            f"({fanout.late * 1000:.0f} ms)",
            "segments downloaded per viewer": f"median {med([float(g) for g in got]):.0f}"
            f", min {min(numbers['got'])}, max {max(numbers['got'])}",
            "segments missed per viewer": f"max {max(missed, default=-1)}, total {sum(missed)}; "
            f"viewers with none: {numbers['never']}",
            "failed requests": failed,
            "slid out of the window before fetched": str(numbers["skipped"]),
            "delivery delay since first listed": f"p50 {pct(delays, 50):.0f} ms, p99 "
            f"{pct(delays, 99):.0f} ms, max {max(delays, default=float('nan')):.0f} ms "
            f"({len(delays)} downloads)",
            "delivery delay since cut": f"p50 {pct(since_end, 50):.0f} ms, p99 "
            f"{pct(since_end, 99):.0f} ms",
            "server CPU": f"{fanout.server_cpu:.1f} s in {fanout.wall:.1f} s = "
            f"{fanout.server_cpu / fanout.wall:.2f} cores, "
            f"~{fanout.server_cpu / max(1, requests) * 1000:.2f} ms per request",
            f"viewers' CPU ({WORKERS} processes)": f"{fanout.client_cpu:.1f} s = "
            f"{fanout.client_cpu / fanout.wall:.2f} cores",
            "server RSS": f"{fanout.rss_before:.0f} MB before, {fanout.rss_after:.0f} MB after "
            f"(max sampled {fanout.rss_max:.0f} MB; {report.idle_rss:.0f} MB idle at start)",
            "origin holds for the stream": f"{min(held_segments, default=0)}-"
            f"{max(held_segments, default=0)} segments, {min(held_bytes, default=0) / 1e3:.0f}-"
            f"{max(held_bytes, default=0) / 1e3:.0f} kB ({len(fanout.held)} samples; newest "
            f"media sequence {fanout.newest})",
            "load average (1 min)": f"{fanout.load_before:.2f} before, "
            f"{fanout.load_after:.2f} after",
        }
        for what, value in values.items():
            rows.setdefault(what, []).append(value)
    lines += [f"| {what} | " + " | ".join(values) + " |" for what, values in rows.items()]
    newest = max(f.newest for f in report.fanouts)
    lines += [
        "",
        f"- Start-up from the GOP buffer < {START_BUFFER_TARGET:.0f} s: "
        f"{verdict(med([t.total for t in buffered]) < START_BUFFER_TARGET)} "
        f"(median {med([t.total for t in buffered]):.3f} s).",
        f"- Start-up at the next key frame < {START_KEYFRAME_TARGET:.0f} s: "
        f"{verdict(med([t.total for t in keyed]) < START_KEYFRAME_TARGET)} "
        f"(median {med([t.total for t in keyed]):.3f} s).",
        f"- Glass to glass < {GLASS_TARGET:.0f} s with standard HLS (oldest picture, median): "
        f"blocking reload {verdict(med(report.blocking.oldest) < GLASS_TARGET)} "
        f"({med(report.blocking.oldest):.3f} s), polling "
        f"{verdict(med(report.polling.oldest) < GLASS_TARGET)} "
        f"({med(report.polling.oldest):.3f} s).",
        f"- {VIEWERS} viewers miss no segment: "
        + "; ".join(
            f"{'httpx' if not f.raw else 'RawConnection'} viewers {verdict(w == MISSED_TARGET)} "
            f"(worst viewer missed {w})"
            for f, w in zip(report.fanouts, worst, strict=True)
        )
        + ".",
        f"- Origin memory for the stream bounded: {verdict(worst_held <= 10)} "
        f"(at most {worst_held} segments held while {newest + 1} were made).",
        "- Low-Latency HLS (partial segments, under 2 s glass to glass): not implemented, "
        "not measured.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    global TRIALS, FOLLOW_SECONDS, FANOUT_SECONDS, VIEWERS, WORKERS
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--trials", type=int, default=TRIALS, help="start-up trials per mode")
    parser.add_argument("--seconds", type=float, default=FOLLOW_SECONDS,
                        help="how long the players and the viewers follow the stream")  # fmt: skip
    parser.add_argument("--viewers", type=int, default=VIEWERS, help="fan-out viewers")
    parser.add_argument("--workers", type=int, default=WORKERS, help="viewer processes")
    args = parser.parse_args()
    TRIALS, VIEWERS, WORKERS = args.trials, args.viewers, args.workers
    FOLLOW_SECONDS = FANOUT_SECONDS = args.seconds
    abort_on_signals()
    started = datetime.now(UTC)
    began = time.monotonic()
    loads: dict[str, tuple[float, float]] = {}
    children = Children()
    root = Path(tempfile.mkdtemp(prefix="camloft-bench-live-"))
    try:
        env = base_env(drop_proxies=True, unbuffered=True)
        data_dir = root / "server"
        data_dir.mkdir()
        names = [f"buffer {n}" for n in range(START_CAMERAS)]
        names += [f"keyframe {n}" for n in range(START_CAMERAS)]
        names.append("follow")
        print("users and devices", flush=True)
        devices = make_devices(data_dir, env, names)
        server, url = start_serve(children, data_dir, env)
        pid = server.pid
        with httpx.Client(timeout=30, trust_env=False) as client:
            site = Site(url, pid, login(client, url, OWNER_EMAIL), "", client)
            site.admin_token = login(client, url, ADMIN_EMAIL)
            idle_rss = proc_rss_mb(pid)
            playlists = {d.uidd: site.playlist_url(d.uidd) for d in devices}

            cameras = [
                CameraConfig(device, name.replace(" ", "-"), name.startswith("buffer"))
                for device, name in zip(devices[:-1], names[:-1], strict=True)
            ]
            adapter = start_adapter(children, root / "adapter-start", url, cameras, env)
            site.wait_online([c.device.uidd for c in cameras], adapter, root / "adapter-start")
            time.sleep(2.0)  # every camera's GOP buffer holds a key frame
            by_mode = {
                mode: [c.device.uidd for c in cameras if c.from_buffer == mode]
                for mode in (True, False)
            }
            print(f"start-up: {TRIALS} trials per mode", flush=True)
            load = load_average()
            trials = start_trials(site, by_mode, playlists)
            loads["start-up"] = (load, load_average())
            children.stop(adapter)

            follow = CameraConfig(devices[-1], "follow", True)
            adapter = start_adapter(children, root / "adapter-follow", url, [follow], env)
            site.wait_online([follow.device.uidd], adapter, root / "adapter-follow")
            time.sleep(2.0)
            live_url = with_query(playlists[follow.device.uidd], userToken=site.owner_token)
            blocking, polling, fanouts, load = asyncio.run(
                follow_phase(site, follow.device.uidd, live_url)
            )
            loads["glass to glass"] = (load, fanouts[0].load_before)
            loads["fan-out"] = (fanouts[0].load_before, fanouts[-1].load_after)
            if adapter.poll() is not None:
                raise RuntimeError(f"the adapter exited:\n{tail(root / 'adapter-follow')}")
            children.stop(adapter)
        for log in (data_dir / "server.log", *root.glob("adapter-*/adapter.log")):
            if "Traceback" in log.read_text(errors="replace"):
                print(f"note: a traceback in {log.name}:\n{tail(log, 40)}", flush=True)
    finally:
        children.stop_all()
        shutil.rmtree(root, ignore_errors=True)

    report = Report(
        started, time.monotonic() - began, loads, trials, blocking, polling, fanouts, idle_rss
    )
    section = markdown(report, ".venv/bin/python bench/live/run.py")
    print(section)
    if not args.no_write:
        write_results(section)
    return 0


if __name__ == "__main__":
    run_benchmark(main)
