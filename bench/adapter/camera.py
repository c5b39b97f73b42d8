"""Benchmark of one camera's whole path through the adapter: CPU per camera, against ffmpeg.

Inputs (made once with PyAV, cached in `<tmp>/camloft-bench/`, nothing lands in
the repository): remux.py's main stream, 120 s of 1920x1080 15 fps ~2 Mbit/s
H.264 + AAC in MPEG-TS, and a sub-stream of the same scene and length made from
it: scaled to 640x360 (FFmpeg's area scaler), 15 fps H.264, ~512 kbit/s,
video only.

Measured in one run, CPU time = user + system:

Baselines (child processes, `getrusage(RUSAGE_CHILDREN)`, start-up included):
  `ffmpeg -i main.ts -c copy -f segment -segment_time 2 out%03d.ts` (to /dev/shm),
  remux.py's child `Segmenter` on the same file (the remux target, re-reported),
  `ffmpeg -threads 1 -i sub.ts -f null -` (the decode), and `ffmpeg -version`
  (ffmpeg's own start-up, for reference).

In process (`time.process_time`, what a long-running adapter pays per stream):
  the `Analyzer` on the sub file with motion detection on (demux + decode every
  frame + 5 fps motion, timed by pts), the `Analyzer` on the main file with
  motion off (demux; the latest key frame is kept and decoded only when a
  picture is asked for: here one thumb a minute, as the adapter's periodic
  thumb), and a bare demux of the main file, to tell them apart.

The adapter (`camloft adapter --config cameras.toml` as a child process, one
camera, record = "continuous" so every segment is uploaded) uploading to a real
logger (`camloft serve` on a free 127.0.0.1 port, its own data dir and secret,
the user and devices made with `camloft admin`):

  start-up   an adapter with no camera, from exec until it printed its banner:
             interpreter, imports (PyAV, NumPy, httpx, websockets, pydantic,
             typer), the config; a long-running adapter pays it once.
  fast       the main file read as fast as it goes, motion off (the analyser
             then decodes a key frame only for a picture: included). Done
             when the logger holds every segment and the spool is empty; the
             adapter's CPU is read then from /proc/<pid>/stat (utime + stime of
             all its threads, dead ones included), before SIGTERM, so neither
             the shutdown nor the logger (another process) is counted. Then 3 s
             idle are measured (`/proc/<pid>/task/*/schedstat`, ns): the link's
             and uploader's wake-ups, which a live camera pays per second of
             wall time and a fast run squeezes out.
  motion on main (reference)  the same with motion detection on the main stream
             (every 1080p frame decoded): what a camera without a sub-stream costs.
  live       live cameras: `ffmpeg -re -i <file> -c copy -f mpegts
             tcp://127.0.0.1:<port>?listen=1` serves each stream at its real
             rate, and adapters read them as `source` (and `substream`): 3 with
             motion off and 3 with motion on the sub-stream, for the whole 120 s,
             all at once, together with 3 of each ffmpeg baseline reading the same
             kind of live stream (`-c copy -f segment`, `-threads 1 -f null`; CPU
             from `wait4`). Reading a live input costs every reader much more per
             second of video than reading a file (a wake-up per burst of data),
             so the live ratios compare like with like. The sub-stream's analysis
             is timed by arrival (camera.py), so only a live-rate input analyses
             5 fps: a file read fast would analyse a handful of pictures. CPU is
             read from /proc when the streams ended and the spool emptied. The
             ffmpeg servers and the logger are other processes, not counted.

Per camera = the adapter's CPU minus the median start-up, per second of video;
cameras per core = 1 / that. Targets (the issue): the remux at most 1.3x ffmpeg;
the whole path at most 3x ffmpeg's segment copy, so at least 250 cameras per
core without motion detection; at least 60 cameras per core with motion
detection on a 640x360 15 fps sub-stream.

Prints a table and writes the section "## bench/adapter (per camera)" of
bench/RESULTS.md (`--no-write` to skip). Every process it started is stopped
and every temporary folder removed, also when a step fails or on SIGTERM.
Run: `.venv/bin/python bench/adapter/camera.py` (about 4 minutes; `--no-live` skips
the 2-minute live part).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common.py

import av
import remux  # bench/adapter/remux.py, beside this script: its input and ffmpeg run

from camloft.adapter.analysis import Analyzer
from camloft.adapter.motion import MotionSettings
from camloft.events import EventType
from common import (
    Children,
    Device,
    Media,
    abort_on_signals,
    add_device,
    add_h264,
    add_user,
    base_env,
    camloft_command,
    child_cpu,
    describe,
    ffmpeg_version,
    free_port,
    load_average,
    machine,
    machine_text,
    med,
    proc_cpu,
    pyav_version,
    require_ffmpeg,
    run_benchmark,
    runs_text,
    scratch_root,
    start_serve,
    tail,
    verdict,
    write_results,
)

SECTION = "## bench/adapter (per camera)"

CACHE = remux.CACHE
MAIN = remux.INPUT
SECONDS, FPS, GOP = remux.SECONDS, remux.FPS, remux.GOP
SUB_WIDTH, SUB_HEIGHT, SUB_BIT_RATE = 640, 360, 512_000
SUB = CACHE / f"sub-{SECONDS}s-{SUB_WIDTH}x{SUB_HEIGHT}-{FPS}fps-{SUB_BIT_RATE // 1000}k-g{GOP}.ts"

RUNS = 5  # fast runs, baselines and in-process measurements (median)
MAIN_MOTION_RUNS = 3  # the reference run with every 1080p frame decoded (~10 s each)
PACED = 3  # live adapters of each kind (and ffmpeg baselines), run at once for 120 s
IDLE_SECONDS = 3.0
REMUX_TARGET = 1.3
PATH_TARGET = 3.0
CAMERAS_TARGET = 250
MOTION_CAMERAS_TARGET = 60

EMAIL, PASSWORD = "bench@camloft.test", "bench-password"


# CPU of a process


def thread_runtimes(pid: int) -> dict[str, int]:
    """Nanoseconds on CPU of each live thread of `pid` (schedstat: exact, not ticks)."""
    times: dict[str, int] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(OSError):
            times[task.name] = int((task / "schedstat").read_text().split()[0])
    return times


def idle_cpu_per_second(pid: int, seconds: float) -> float:
    before = thread_runtimes(pid)
    started = time.monotonic()
    time.sleep(seconds)
    after = thread_runtimes(pid)
    elapsed = time.monotonic() - started
    spent = sum(after[tid] - before[tid] for tid in after.keys() & before.keys())
    return spent / 1e9 / elapsed


def listening(port: int) -> bool:
    """Whether something listens on 127.0.0.1:`port` (read from /proc: no connection made)."""
    wanted = f"0100007F:{port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        parts = line.split()
        if parts[1] == wanted and parts[3] == "0A":
            return True
    return False


# inputs


def make_sub(source: Path, path: Path) -> None:
    """The sub-stream: the main stream's pictures scaled to 640x360, encoded like it."""
    partial = path.with_suffix(".partial")
    with av.open(str(source), "r") as src, av.open(str(partial), "w", format="mpegts") as out:
        video_in = src.streams.video[0]
        video_in.thread_type = "AUTO"
        video = add_h264(
            out, width=SUB_WIDTH, height=SUB_HEIGHT, fps=FPS, gop=GOP, bit_rate=SUB_BIT_RATE
        )
        for index, frame in enumerate(src.decode(video_in)):
            small = frame.reformat(
                width=SUB_WIDTH, height=SUB_HEIGHT, format="yuv420p", interpolation="AREA"
            )
            small.pts = index
            small.time_base = Fraction(1, FPS)
            out.mux(video.encode(small))
        out.mux(video.encode())
    partial.replace(path)


# in-process measurements


@dataclass
class Analysed:
    cpu: float
    decoded: int
    analysed: int
    triggers: int  # motion triggers the analyser sent (at most one per picture analysed)


def analyse_file(path: Path, *, motion: bool) -> Analysed:
    """CPU s of demuxing `path` into an `Analyzer`, frames timed by pts (as a live camera's)."""
    triggers = 0

    def trigger(
        kind: EventType, at_ms: int, *, smx: int | None = None, aud: int | None = None
    ) -> None:
        nonlocal triggers
        triggers += 1

    started = time.process_time()
    with av.open(str(path), "r") as container:
        video = container.streams.video[0]
        audio = next((s for s in container.streams.audio if s.codec_context.name == "aac"), None)
        analyzer = Analyzer(
            "bench", video, trigger, audio=audio, motion=MotionSettings(enabled=motion)
        )
        base = time.time() * 1000
        next_thumb_ms = base
        for packet in container.demux(video):
            if packet.pts is None or packet.time_base is None:
                continue
            at_ms = round(base + float(packet.pts * packet.time_base) * 1000)
            analyzer.feed(packet, at_ms)
            if not motion and at_ms >= next_thumb_ms and analyzer.latest_at_ms is not None:
                analyzer.latest_thumb()  # the adapter's periodic thumb (thumb_every_seconds)
                next_thumb_ms = at_ms + 60_000
        analyzer.flush()
    cpu = time.process_time() - started
    stats = analyzer.stats
    return Analysed(cpu, stats.decoded_frames, stats.analysed_frames, triggers)


def demux_file(path: Path) -> float:
    started = time.process_time()
    with av.open(str(path), "r") as container:
        for _packet in container.demux(container.streams.video[0]):
            pass
    return time.process_time() - started


# the logger


@dataclass
class Logger:
    data_dir: Path
    url: str

    def segments(self, device: Device) -> int:
        folder = self.data_dir / "video" / device.folder
        return sum(1 for p in folder.rglob("*.ts") if not p.name.startswith("."))


def make_devices(data_dir: Path, env: dict[str, str], count: int) -> list[Device]:
    add_user(data_dir, env, EMAIL, PASSWORD)
    return [add_device(data_dir, env, EMAIL, f"Bench {n}") for n in range(count)]


@contextlib.contextmanager
def logger(children: Children, data_dir: Path, env: dict[str, str]) -> Iterator[Logger]:
    """`camloft serve` for the adapters, stopped afterwards (the children stop it also
    when it never answered)."""
    process, url = start_serve(children, data_dir, env, name="the logger")
    try:
        yield Logger(data_dir, url)
    finally:
        children.stop(process)


# the adapter


def q(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text)


def camera_toml(device: Device, source: str, *, motion: bool, substream: str | None) -> str:
    lines = [
        "[[cameras]]",
        f"uidd = {q(device.uidd)}",
        f"key = {q(device.key)}",
        'name = "bench"',
        f"source = {q(source)}",
        'record = "continuous"',
    ]
    if substream is not None:
        lines.append(f"substream = {q(substream)}")
    lines += ["[cameras.motion]", f"enabled = {'true' if motion else 'false'}"]
    return "\n".join(lines) + "\n"


@dataclass
class Adapter:
    """One `camloft adapter --config` child process, one camera (or none)."""

    children: Children
    folder: Path
    logger_url: str
    camera: str | None  # its [[cameras]] table
    device: Device | None
    process: subprocess.Popen[bytes] | None = None

    @property
    def log(self) -> Path:
        return self.folder / "adapter.log"

    @property
    def spool(self) -> Path:
        return self.folder / "spool"

    def start(self, env: dict[str, str]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        config = self.folder / "cameras.toml"
        text = f"logger_url = {q(self.logger_url)}\nspool_dir = {q(str(self.spool))}\n\n"
        config.write_text(text + (self.camera or ""), encoding="utf-8")
        command = [camloft_command(), "adapter", "--config", str(config)]
        self.process = self.children.start(command, self.log, env)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def check_alive(self) -> None:
        assert self.process is not None
        if self.process.poll() is not None:
            raise RuntimeError(
                f"the adapter exited with {self.process.returncode}:\n{tail(self.log)}"
            )

    def pending(self) -> int:
        """Items waiting in the camera's spool (temporary files and set-aside items are not)."""
        assert self.device is not None
        folder = self.spool / self.device.uidd
        if not folder.is_dir():
            return 0
        rejected = folder / "rejected"
        if rejected.is_dir() and any(rejected.iterdir()):
            raise RuntimeError(f"the logger refused items:\n{tail(self.log)}")
        return sum(1 for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))

    def stop(self) -> None:
        if self.process is not None:
            self.children.stop(self.process)


def wait_until(
    what: str, condition: Callable[[], bool], timeout: float, check: Callable[[], None]
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        check()
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.02)


def startup_cpu(children: Children, root: Path, logger_url: str, env: dict[str, str]) -> float:
    """CPU of an adapter with no camera, from exec to its banner."""
    adapter = Adapter(children, Path(tempfile.mkdtemp(dir=root)), logger_url, None, None)
    adapter.start(env)
    try:
        wait_until(
            "the adapter's banner",
            lambda: "adapter recording" in adapter.log.read_text(errors="replace"),
            60,
            adapter.check_alive,
        )
        return proc_cpu(adapter.pid)
    finally:
        adapter.stop()


@dataclass
class FastRun:
    cpu: float  # at the moment the logger held every segment and the spool was empty
    cpu_with_shutdown: float  # getrusage of the whole child, SIGTERM and exit included
    wall: float
    idle: float | None  # CPU s per wall s afterwards, idle
    segments: int


def fast_run(
    children: Children,
    root: Path,
    log_: Logger,
    device: Device,
    env: dict[str, str],
    *,
    motion: bool,
    expected: int,
    idle_seconds: float | None,
) -> FastRun:
    camera = camera_toml(device, str(MAIN), motion=motion, substream=None)
    adapter = Adapter(children, Path(tempfile.mkdtemp(dir=root)), log_.url, camera, device)
    before_segments = log_.segments(device)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    adapter.start(env)
    try:
        wait_until(
            "every segment at the logger",
            lambda: log_.segments(device) - before_segments >= expected and adapter.pending() == 0,
            300,
            adapter.check_alive,
        )
        cpu = proc_cpu(adapter.pid)
        wall = time.monotonic() - started
        idle = None if idle_seconds is None else idle_cpu_per_second(adapter.pid, idle_seconds)
    finally:
        adapter.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return FastRun(cpu, total, wall, idle, log_.segments(device) - before_segments)


@dataclass
class PacedRun:
    kind: str
    cpu: float
    wall: float
    segments: int  # at the logger (adapters) or written (ffmpeg's segmenter)


@dataclass(frozen=True)
class Served:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def ended(self) -> bool:
        """True once ffmpeg sent the whole file; raises if it failed."""
        code = self.process.poll()
        if code is None:
            return False
        if code != 0:
            raise RuntimeError(f"a paced ffmpeg failed ({code}):\n{tail(self.log)}")
        return True


def serve_paced(children: Children, root: Path, path: Path, env: dict[str, str]) -> Served:
    """An ffmpeg that sends `path` at its real rate to the first client of a TCP port."""
    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-re", "-i", str(path), "-c", "copy",
               "-f", "mpegts", f"{url}?listen=1"]  # fmt: skip
    log = root / f"ffmpeg-{port}.log"
    process = children.start(command, log, env)
    deadline = time.monotonic() + 10
    while not listening(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"ffmpeg did not listen on {url}:\n{tail(log)}")
        time.sleep(0.02)
    return Served(url, process, log)


@dataclass
class LiveFfmpeg:
    """An ffmpeg baseline reading a live stream to its end; its CPU from `wait4`."""

    kind: str
    process: subprocess.Popen[bytes]
    log: Path
    out_dir: Path | None
    cpu: float | None = None

    def reap(self) -> bool:
        if self.cpu is not None:
            return True
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.process.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            raise RuntimeError(f"{self.kind} failed ({code}):\n{tail(self.log)}")
        self.cpu = usage.ru_utime + usage.ru_stime
        return True


LIVE_OFF = "adapter, motion off"
LIVE_ON = "adapter, motion on the sub-stream"
LIVE_COPY = "ffmpeg -c copy -f segment"
LIVE_DECODE = "ffmpeg -threads 1 -f null"


def paced_runs(
    children: Children,
    root: Path,
    log_: Logger,
    devices: list[Device],
    env: dict[str, str],
    out_root: Path,
) -> list[PacedRun]:
    """Live-rate streams read all at once by adapters (half of `devices` motion off, half
    on the sub-stream) and by the ffmpeg baselines (segment copy of a main, decode of a sub)."""
    adapters: list[tuple[str, Adapter, list[Served]]] = []
    for n, device in enumerate(devices):
        motion = n % 2 == 1
        servers = [serve_paced(children, root, MAIN, env)]
        if motion:
            servers.append(serve_paced(children, root, SUB, env))
        sub_url = servers[1].url if motion else None
        camera = camera_toml(device, servers[0].url, motion=motion, substream=sub_url)
        adapter = Adapter(children, Path(tempfile.mkdtemp(dir=root)), log_.url, camera, device)
        adapters.append((LIVE_ON if motion else LIVE_OFF, adapter, servers))
    baselines: list[tuple[list[str], Path | None, Served, str]] = []
    for _ in range(len(devices) // 2):
        main = serve_paced(children, root, MAIN, env)
        segments = Path(tempfile.mkdtemp(prefix="camloft-bench-", dir=out_root))
        copy = ["ffmpeg", "-nostdin", "-v", "error", "-i", main.url, "-c", "copy",
                "-f", "segment", "-segment_time", "2", str(segments / "out%03d.ts")]  # fmt: skip
        baselines.append((copy, segments, main, LIVE_COPY))
        sub = serve_paced(children, root, SUB, env)
        decode = ["ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-i", sub.url,
                  "-f", "null", "-"]  # fmt: skip
        baselines.append((decode, None, sub, LIVE_DECODE))

    before = {device.uidd: log_.segments(device) for device in devices}
    started = time.monotonic()
    clients: list[tuple[LiveFfmpeg, Served]] = []
    results: dict[int, PacedRun] = {}
    try:
        for n, (command, out_dir, served, kind) in enumerate(baselines):
            log = root / f"client-{n}.log"
            clients.append(
                (LiveFfmpeg(kind, children.start(command, log, env), log, out_dir), served)
            )
        for _kind, adapter, _servers in adapters:
            adapter.start(env)
        deadline = started + SECONDS + 90
        settled: dict[int, tuple[int, float]] = {}  # adapter -> (segments, since when)
        while len(results) < len(adapters) or not all(c.reap() for c, _ in clients):
            now = time.monotonic()
            if now > deadline:
                raise RuntimeError("timed out waiting for the live runs")
            for _client, served in clients:
                served.ended()  # raises if a server failed
            for index, (kind, adapter, servers) in enumerate(adapters):
                if index in results:
                    continue
                adapter.check_alive()
                if not all([server.ended() for server in servers]):
                    continue
                assert adapter.device is not None
                count = log_.segments(adapter.device) - before[adapter.device.uidd]
                if adapter.pending() or settled.get(index, (-1, 0.0))[0] != count:
                    settled[index] = (count, now)
                    continue
                if now - settled[index][1] >= 1.0:  # streams ended, spool empty, count steady
                    results[index] = PacedRun(kind, proc_cpu(adapter.pid), now - started, count)
                    adapter.stop()
            time.sleep(0.1)
        wall = time.monotonic() - started
        runs = [results[i] for i in range(len(adapters))]
        for client, _served in clients:
            assert client.cpu is not None
            written = len(list(client.out_dir.iterdir())) if client.out_dir is not None else 0
            runs.append(PacedRun(client.kind, client.cpu, wall, written))
        return runs
    finally:
        for _kind, adapter, servers in adapters:
            adapter.stop()
            for server in servers:
                children.stop(server.process)
        for client, served in clients:
            children.stop(client.process)
            children.stop(served.process)
        for _command, out_dir, served, _kind in baselines:
            children.stop(served.process)
            if out_dir is not None:
                shutil.rmtree(out_dir, ignore_errors=True)


# reporting


@dataclass
class Row:
    what: str
    times: list[float]  # CPU s, one per run
    note: str = ""

    @property
    def median(self) -> float:
        return med(self.times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    parser.add_argument("--no-live", action="store_true", help="skip the 2-minute live runs")
    args = parser.parse_args()

    ffmpeg = require_ffmpeg()
    abort_on_signals()
    began = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    if not MAIN.exists():
        print(f"encoding {MAIN} (once) ...", flush=True)
        remux.make_input(MAIN)
    if not SUB.exists():
        print(f"encoding {SUB} (once) ...", flush=True)
        make_sub(MAIN, SUB)
    main_media, sub_media = describe(MAIN), describe(SUB)
    video_s = main_media.duration_s
    out_root = scratch_root()

    load_before = load_average()
    children = Children()
    root = Path(tempfile.mkdtemp(prefix="camera-run-", dir=CACHE))
    try:
        print("baselines and in-process parts", flush=True)
        segment_count, _ = remux.segment_file(MAIN)
        remux.run_ffmpeg(ffmpeg, out_root)  # warm-up: page cache, shared libraries
        remux.run_camloft_child()
        decode = [ffmpeg, "-nostdin", "-v", "error", "-threads", "1", "-i", str(SUB),
                  "-f", "null", "-"]  # fmt: skip
        child_cpu(decode)  # warm-up
        ffmpeg_copy = Row(
            "(a) `ffmpeg -c copy -f segment -segment_time 2`, main",
            [remux.run_ffmpeg(ffmpeg, out_root)[0] for _ in range(RUNS)],
        )
        remux_child = Row(
            "(b) camloft Segmenter (remux.py's child process), main",
            [remux.run_camloft_child()[0] for _ in range(RUNS)],
        )
        ffmpeg_decode = Row(
            "(c) `ffmpeg -threads 1 -i sub.ts -f null -`",
            [child_cpu(decode)[0] for _ in range(RUNS)],
        )
        ffmpeg_start = Row(
            "ffmpeg's start-up (`ffmpeg -version`)",
            [child_cpu([ffmpeg, "-version"])[0] for _ in range(RUNS)],
        )
        analyse_file(SUB, motion=True)
        sub_runs = [analyse_file(SUB, motion=True) for _ in range(RUNS)]
        sub_analysis = Row(
            "(d) Analyzer, sub, motion on: demux + decode all + 5 fps motion (in process)",
            [r.cpu for r in sub_runs],
            f"{sub_runs[0].decoded} decoded, {sub_runs[0].analysed} analysed, "
            f"{sub_runs[0].triggers} with motion (the scene moves all the time)",
        )
        key_runs = [analyse_file(MAIN, motion=False) for _ in range(RUNS)]
        key_frames = Row(
            "(e) Analyzer, main, motion off: demux + a thumb a minute (in process)",
            [r.cpu for r in key_runs],
            f"{key_runs[0].decoded} decoded",
        )
        demux_only = Row(
            "(f) demux of main, video packets only (in process)",
            [demux_file(MAIN) for _ in range(RUNS)],
        )
        for row in (
            ffmpeg_copy,
            remux_child,
            ffmpeg_decode,
            ffmpeg_start,
            sub_analysis,
            key_frames,
            demux_only,
        ):
            print(f"  {row.what:<80} {row.median:7.3f} s", flush=True)

        env = base_env(drop_proxies=True, unbuffered=True)  # the banner reaches the log
        data_dir = root / "logger"
        data_dir.mkdir()
        print("logger, user and devices", flush=True)
        devices = make_devices(data_dir, env, max(1, 2 * PACED))
        with logger(children, data_dir, env) as log_:
            print("adapter start-up", flush=True)
            startup = Row(
                "adapter start-up: no camera, exec to banner",
                [startup_cpu(children, root, log_.url, env) for _ in range(RUNS)],
            )
            print(f"  {startup.median:.3f} s", flush=True)

            def run_fast(motion: bool, idle_seconds: float | None) -> FastRun:
                return fast_run(children, root, log_, devices[0], env, motion=motion,
                                expected=segment_count, idle_seconds=idle_seconds)  # fmt: skip

            print("fast runs, motion off", flush=True)
            run_fast(False, None)  # warm-up
            fast = []
            for _ in range(RUNS):
                fast.append(run_fast(False, IDLE_SECONDS))
                print(f"  {fast[-1]}", flush=True)
            print("fast runs, motion on the main stream", flush=True)
            main_motion = []
            for _ in range(MAIN_MOTION_RUNS):
                main_motion.append(run_fast(True, None))
                print(f"  {main_motion[-1]}", flush=True)
            paced: list[PacedRun] = []
            if not args.no_live:
                print(
                    f"live runs: {len(devices)} adapters, {len(devices)} ffmpeg, {video_s:.0f} s",
                    flush=True,
                )
                paced = paced_runs(children, root, log_, devices, env, out_root)
                for run in paced:
                    print(f"  {run}", flush=True)
    finally:
        children.stop_all()
        shutil.rmtree(root, ignore_errors=True)

    took = time.monotonic() - began
    load = f"load average (1 min) {load_before:.2f} before, {load_average():.2f} after"
    boot = startup.median
    copy = ffmpeg_copy.median
    idle = med([r.idle for r in fast if r.idle is not None])

    table_a = [
        "| what | median CPU s | runs (CPU s) | ms CPU per s of video | vs ffmpeg | note |",
        "|---|---:|---|---:|---:|---|",
    ]
    for row, versus in (
        (ffmpeg_copy, ffmpeg_copy), (remux_child, ffmpeg_copy), (ffmpeg_decode, ffmpeg_decode),
        (sub_analysis, ffmpeg_decode), (key_frames, None), (demux_only, None),
        (ffmpeg_start, None),
    ):  # fmt: skip
        ratio = "" if versus is None else f"{row.median / versus.median:.2f}x"
        table_a.append(
            f"| {row.what} | {row.median:.3f} | {runs_text(row.times)} | "
            f"{row.median / video_s * 1000:.2f} | {ratio} | {row.note} |"
        )

    def line(what: str, times: list[float], versus: float, *, own: bool = True) -> str:
        """A table row; `own` subtracts the adapter's start-up."""
        cpu = med(times)
        net = cpu - boot if own else cpu
        return (
            f"| {what} | {cpu:.3f} | {runs_text(times)} | {net:.3f} | "
            f"{net / video_s * 1000:.2f} | {video_s / net:.0f} | {net / versus:.2f}x |"
        )

    fast_cpu = [r.cpu for r in fast]
    fast_net = med(fast_cpu) - boot
    fast_ratio = fast_net / copy
    fast_cameras = video_s / fast_net
    idle_net = fast_net + idle * video_s
    estimate_net = idle_net + sub_analysis.median
    main_net = med([r.cpu for r in main_motion]) - boot
    table_b = [
        "| adapter, file input | median CPU s | runs (CPU s) | minus start-up "
        "| ms CPU per s of video | cameras per core | vs (a) |",
        "|---|---:|---|---:|---:|---:|---:|",
        f"| start-up: no camera, exec to banner | {boot:.3f} | {runs_text(startup.times)} "
        "| | | | |",
        line(f"fast, motion off ({RUNS} runs)", fast_cpu, copy),
        line(
            "fast, motion off, until exit (getrusage: + the idle seconds, SIGTERM, exit)",
            [r.cpu_with_shutdown for r in fast],
            copy,
        ),
        f"| fast, motion off, + idle wake-ups of a live camera ({idle * 1000:.2f} ms per s, "
        f"runs {runs_text([(r.idle or 0.0) * 1000 for r in fast], 2)}) | | | {idle_net:.3f} "
        f"| {idle_net / video_s * 1000:.2f} | {video_s / idle_net:.0f} | {idle_net / copy:.2f}x |",
        f"| estimate, motion on the sub-stream: the line above + (d) | | | {estimate_net:.3f} "
        f"| {estimate_net / video_s * 1000:.2f} | {video_s / estimate_net:.0f} | |",
        line(
            f"fast, motion on the 1080p main stream ({MAIN_MOTION_RUNS} runs, reference)",
            [r.cpu for r in main_motion],
            copy,
        ),
    ]

    def live(kind: str) -> list[float]:
        return [r.cpu for r in paced if r.kind == kind]

    def live_segments(kind: str) -> str:
        return "/".join(str(r.segments) for r in paced if r.kind == kind)

    table_c: list[str] = []
    live_off_net = live_on_net = live_copy = live_decode = None
    if paced:
        live_copy, live_decode = med(live(LIVE_COPY)), med(live(LIVE_DECODE))
        live_off_net = med(live(LIVE_OFF)) - boot
        live_on_net = med(live(LIVE_ON)) - boot
        table_c = [
            "| live input (at once) | median CPU s | runs (CPU s) | minus start-up "
            "| ms CPU per s of video | cameras per core | vs ffmpeg live |",
            "|---|---:|---|---:|---:|---:|---:|",
            line(
                f"`{LIVE_COPY}`, main ({live_segments(LIVE_COPY)} segments)",
                live(LIVE_COPY),
                live_copy,
                own=False,
            ),
            line(f"`{LIVE_DECODE}`, sub", live(LIVE_DECODE), live_decode, own=False),
            line(
                f"{LIVE_OFF} ({live_segments(LIVE_OFF)} segments at the logger), vs copy",
                live(LIVE_OFF),
                live_copy,
            ),
            line(
                f"{LIVE_ON} ({live_segments(LIVE_ON)} segments), vs copy + decode",
                live(LIVE_ON),
                live_copy + live_decode,
            ),
        ]

    remux_ratio = remux_child.median / copy
    verdicts = [
        f"- Remux, (b) <= {REMUX_TARGET}x (a): {verdict(remux_ratio <= REMUX_TARGET)} "
        f"({remux_ratio:.2f}x).",
        f"- Whole path, motion off, <= {PATH_TARGET}x ffmpeg's segment copy, adapter start-up "
        f"excluded: file input {verdict(fast_ratio <= PATH_TARGET)} ({fast_ratio:.2f}x; "
        f"{idle_net / copy:.2f}x with a live camera's idle wake-ups; "
        f"{med(fast_cpu) / copy:.2f}x with the start-up)"
        + (
            ""
            if live_off_net is None or live_copy is None
            else f"; live input {verdict(live_off_net / live_copy <= PATH_TARGET)} "
            f"({live_off_net / live_copy:.2f}x ffmpeg reading the same live stream)"
        )
        + ".",
    ]
    off_cameras = video_s / live_off_net if live_off_net is not None else video_s / idle_net
    verdicts.append(
        f"- At least {CAMERAS_TARGET} cameras per core, motion off: "
        f"{verdict(off_cameras >= CAMERAS_TARGET)} ("
        + (f"live {off_cameras:.0f}; " if live_off_net is not None else "")
        + f"file input {fast_cameras:.0f}, {video_s / idle_net:.0f} with idle wake-ups"
        + (
            ""
            if live_copy is None
            else f"; ffmpeg's segment copy alone: {video_s / copy:.0f} on the file, "
            f"{video_s / live_copy:.0f} live"
        )
        + ")."
    )
    on_cameras = video_s / live_on_net if live_on_net is not None else video_s / estimate_net
    verdicts.append(
        f"- At least {MOTION_CAMERAS_TARGET} cameras per core, motion on the 640x360 "
        f"sub-stream: {verdict(on_cameras >= MOTION_CAMERAS_TARGET)} ("
        + (f"live, measured: {on_cameras:.0f}; " if live_on_net is not None else "")
        + f"estimate from the file-input parts: {video_s / estimate_net:.0f}; motion on the "
        f"1080p main stream instead: {video_s / main_net:.0f})."
    )
    print("\n".join([*table_a, "", *table_b, "", *table_c, "", *verdicts]))

    versions = machine_text(machine({"PyAV": pyav_version(), "ffmpeg": ffmpeg_version(ffmpeg)}))

    def media(name: str, m: Media) -> str:
        return (
            f"{name}: {m.duration_s:.0f} s of {m.width}x{m.height} {FPS} fps H.264 (libx264 "
            f"ultrafast, key frame every {GOP} frames){' + AAC' if m.audio else ', video only'}, "
            f"{m.size_mb:.1f} MB ({m.kbit_s:.0f} kbit/s)"
        )

    section = "\n".join(
        [
            SECTION,
            "",
            f"Run: `bench/adapter/camera.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"took {took:.0f} s (input encoding excluded: it is cached).",
            "Command: `.venv/bin/python bench/adapter/camera.py` (or `make bench`).",
            "",
            f"Machine: {versions}; {load}.",
            "",
            f"Data: {media('main', main_media)}; {media('sub', sub_media)}, the main stream's "
            f"pictures scaled down. {segment_count} segments of 2 s.",
            "",
            "Method: CPU = user + system. Baselines are child processes (`getrusage`, start-up "
            f"included), median of {RUNS} after one warm-up. In-process parts use "
            "`time.process_time()`. Each adapter is `camloft adapter --config` as a child "
            'process with one camera (`record = "continuous"`: every segment is stored and '
            "uploaded, so the pre-roll buffer is not used), uploading to `camloft serve` on "
            "127.0.0.1 (another process: the logger's CPU is not counted). Its CPU is read "
            "from `/proc/<pid>/stat` (all threads, ended ones included) when the logger holds "
            "every segment and the spool is empty, before SIGTERM (the exit is not counted, "
            "except in the row that says so). With motion off the analyser decodes a key "
            "frame of the main stream only for a picture (the periodic thumb, once a "
            'minute): included. "Fast" reads the main '
            "file as fast as it goes, which squeezes out the wake-ups a live camera pays per "
            "second of wall time (the link's 1 s poll, the websocket's keepalive): those were "
            f"measured for {IDLE_SECONDS:.0f} s after each fast run "
            '(`/proc/<pid>/task/*/schedstat`) and added in the row that says so. "Live" '
            "serves each stream at its real rate (`ffmpeg -re -i <file> -c copy -f mpegts "
            "tcp://127.0.0.1:<port>?listen=1`, other processes, not counted) to adapters "
            f"reading it as `source` and `substream`, {PACED} of each kind, together with "
            f"{PACED} of each ffmpeg baseline reading the same kind of live stream, all at "
            "once for the whole stream (median of each kind). The adapter reads a live "
            "input in batches (after a read that waited for data it waits 0.5 s, "
            "`media/batching.py`); ffmpeg reads as data comes. Only a live-rate input shows "
            "the real cost of motion on the sub-stream: its analysis is timed by arrival, so "
            'a file read fast gets a handful of pictures analysed. "Minus start-up" '
            "subtracts the median CPU of an adapter with no camera, from exec to its banner "
            "(interpreter and imports), which a long-running adapter pays once; ms per s of "
            "video = that / seconds of video, cameras per core = its inverse.",
            "",
            *table_a,
            "",
            *table_b,
            "",
            *table_c,
            "",
            *verdicts,
            "",
        ]
    )
    if not args.no_write:
        write_results(section)
    return 0


if __name__ == "__main__":
    run_benchmark(main)
