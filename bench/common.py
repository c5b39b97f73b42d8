"""What the benchmarks in bench/ share: one version of each helper they all lean on.

It owns:

- stopping cleanly: `Aborted` and `abort_on_signals` (SIGTERM/SIGHUP unwind, so the
  `finally` blocks stop children, remove folders and drop databases);
- child processes: `Children` (every child registered, all stopped at the end),
  `tail` of a log, `child_cpu` of a child run to its end, `proc_cpu` and
  `proc_cpu_times` of a live one (from /proc/<pid>/stat, all threads);
- the camloft deployment: `camloft_command` (and `beside_python` for other tools
  of this venv), `base_env`, `free_port`, `start_serve` (`camloft serve` until it
  answers /healthz), `camloft_admin`, `add_user` and `add_device` (a `Device`);
- PostgreSQL: `pg_admin`, `pg_database` (a fresh database, always dropped),
  `postgres_version`;
- test media: `add_h264` and `Tone` (the encoders of the synthetic streams),
  `describe` (a `Media`), `scratch_root`, `ffmpeg_version`, `pyav_version`;
- the report: `machine` and `machine_text` (nproc, CPU, Python and versions),
  `cpu_model`, `load_average`, `med`, `runs_text`, `verdict`, and `write_results`,
  which replaces one `## ...` section of bench/RESULTS.md.

What a benchmark measures, and how it words its section, stays in its own script.
The scripts run as `python bench/<x>/<y>.py` and import this module as `common`
(each puts bench/ on `sys.path` first).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

import asyncpg
import httpx

if TYPE_CHECKING:  # PyAV and NumPy are imported where used: not every benchmark needs them
    import numpy as np
    from av.audio.stream import AudioStream
    from av.container import OutputContainer
    from av.video.stream import VideoStream
    from numpy.typing import NDArray

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADER = """\
# Benchmark results

Timings come from a shared 2-core machine and are noisy: the server under test,
the client and the database all share the two cores with whatever else runs.
Medians are reported (with p95 where a request is timed many times), and each
section names the script that produced it, its date and the machine, so a
number can be reproduced by running that script again.
"""
CLOCK_TICK = os.sysconf("SC_CLK_TCK")
PG_ADMIN_DSN = "postgresql://root@127.0.0.1:5432/postgres"
PG_URL = "postgresql+asyncpg://root@127.0.0.1:5432/{db}"


# stopping cleanly


class Aborted(Exception):
    """SIGTERM/SIGHUP: unwind so that the clean-up in `finally` blocks runs."""


def _abort(signum: int, _frame: FrameType | None) -> None:
    raise Aborted(f"stopped by signal {signum}")


def abort_on_signals() -> None:
    """SIGTERM and SIGHUP raise `Aborted` in the main thread."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _abort)


def run_benchmark(main: Callable[[], int], aborted: str = "{stop}") -> NoReturn:
    """Exits with what `main` answers; when it was `Aborted` (its clean-up has run by
    then), prints `aborted` with `{stop}` replaced by the reason, and exits with 1."""
    try:
        status = main()
    except Aborted as stop:
        print(aborted.format(stop=stop), file=sys.stderr)
        status = 1
    sys.exit(status)


# child processes: every child is registered, and stopped at the end whatever happens


@dataclass
class Children:
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def start(self, command: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            process = subprocess.Popen(
                command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
            )
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        if process in self.processes:
            self.processes.remove(process)

    def stop_all(self) -> None:
        for process in list(self.processes):
            self.stop(process, timeout=10)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def child_cpu(command: list[str]) -> tuple[float, str]:
    """CPU seconds (user + system) of one child process run to its end, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, done.stdout


def proc_stat(pid: int) -> list[str]:
    """The fields of /proc/<pid>/stat from the third (state) on: `[11]` is utime."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    return stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "


def proc_cpu_times(pid: int) -> tuple[float, float]:
    """(user, system) CPU seconds of a live process, all its threads (also those that ended)."""
    fields = proc_stat(pid)
    return int(fields[11]) / CLOCK_TICK, int(fields[12]) / CLOCK_TICK  # utime, stime


def proc_cpu(pid: int) -> float:
    """utime + stime of a live process (all its threads, also those that ended), seconds."""
    fields = proc_stat(pid)
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICK


# the camloft deployment


def beside_python(name: str) -> Path | None:
    """A command of this venv: beside this Python, in the repository's .venv, or on PATH."""
    for candidate in (Path(sys.executable).parent / name, ROOT / ".venv" / "bin" / name):
        if candidate.exists():
            return candidate
    found = shutil.which(name)
    return Path(found) if found else None


def camloft_command() -> str:
    camloft = beside_python("camloft")
    if camloft is None:
        raise RuntimeError("no `camloft` command beside this Python: run `make` first")
    return str(camloft)


def base_env(*, drop_proxies: bool, unbuffered: bool) -> dict[str, str]:
    """This run's settings only: no CAMLOFT_* variable of the caller leaks in (with
    `drop_proxies`, no *_proxy variable either), and a fresh CAMLOFT_SECRET of 48
    characters. `unbuffered` sets PYTHONUNBUFFERED=1, so that a child's banner
    reaches its log when printed."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("CAMLOFT_") and not (drop_proxies and key.lower().endswith("_proxy"))
    }
    if unbuffered:
        env["PYTHONUNBUFFERED"] = "1"
    env["CAMLOFT_SECRET"] = secrets.token_urlsafe(36)
    return env


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_serve(
    children: Children, data_dir: Path, env: dict[str, str], *, name: str = "the server"
) -> tuple[subprocess.Popen[bytes], str]:
    """`camloft serve` on a free 127.0.0.1 port, its output in `data_dir/server.log`:
    the process and its base URL, once GET /healthz answers (60 s at most). It is
    registered with `children`, which stop it also when it never answered."""
    port = free_port()
    log = data_dir / "server.log"
    command = [camloft_command(), "serve", "--port", str(port), "--data-dir", str(data_dir)]
    process = children.start(command, log, env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{tail(log)}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                return process, url
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not answer /healthz:\n{tail(log)}")
        time.sleep(0.1)


@dataclass(frozen=True)
class Device:
    uidd: str
    key: str

    @property
    def folder(self) -> str:
        """Where the logger keeps its video, below `<data dir>/video/`."""
        uid, device_id = self.uidd.split(".")
        return f"{uid}/{device_id}"


def camloft_admin(data_dir: Path, env: dict[str, str], *args: str) -> str:
    """`camloft admin --data-dir data_dir ARGS`: what it printed."""
    done = subprocess.run(
        [camloft_command(), "admin", "--data-dir", str(data_dir), *args],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"camloft admin {' '.join(args[:2])} failed: {done.stderr.strip()}")
    return done.stdout


def add_user(
    data_dir: Path, env: dict[str, str], email: str, password: str, *, admin: bool = False
) -> None:
    camloft_admin(
        data_dir, env, "user", "add", email, "--password", password, *(["--admin"] if admin else [])
    )


def add_device(data_dir: Path, env: dict[str, str], email: str, name: str) -> Device:
    printed = camloft_admin(data_dir, env, "device", "add", email, name)
    uidd = re.search(r"uidd: (\S+)", printed)
    key = re.search(r"device key: (\S+)", printed)
    if uidd is None or key is None:
        raise RuntimeError(f"no uidd or key in: {printed}")
    return Device(uidd[1], key[1])


# rows seeded straight into the database (bulk inserts: the admin CLI is too slow for
# thousands)


def user_row(
    email: str,
    password_hash: str,
    alias: str,
    *,
    max_age_days: int,
    now_ms: int,
    last_device_id: int = 0,
) -> dict[str, Any]:
    """A `users` row of a free local account that may have 100 devices."""
    return {
        "email": email,
        "password_hash": password_hash,
        "alias": alias,
        "region": "local",
        "max_age_days": max_age_days,
        "max_devices": 100,
        "account_type": "free",
        "is_admin": False,
        "last_device_id": last_device_id,
        "created_ms": now_ms,
    }


def device_row(owner: int, device: int, key_hash: str, *, now_ms: int) -> dict[str, Any]:
    """A `devices` row of an IP camera recording to the cloud, stream `<uidd>_bench-nr`."""
    return {
        "owner_uid": owner,
        "device_id": device,
        "phonename": f"Camera {device} of {owner}",
        "key_hash": key_hash,
        "streamname": f"{owner}.{device}_bench-nr",
        "logger_url": None,
        "wowza_url": None,
        "cloud_recording_enabled": True,
        "app_version": "camloft",
        "device_type": "ipcam",
        "language": "en-GB",
        "phoneid": f"camloft-{owner}-{device}",
        "created_ms": now_ms,
    }


# PostgreSQL


async def pg_admin(sql: str) -> Any:
    """One statement on the server's `postgres` database: the first value it answers."""
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return await conn.fetchval(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def pg_database() -> Iterator[str]:
    """A fresh database's name; it is dropped afterwards, also when a step failed."""
    name = f"camloft_bench_{secrets.token_hex(6)}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield name
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def postgres_version() -> str:
    try:
        return str(asyncio.run(pg_admin("SHOW server_version")))
    except (OSError, asyncpg.PostgresError) as err:
        return f"unavailable ({err})"


# test media


def add_h264(
    output: OutputContainer, *, width: int, height: int, fps: int, gop: int, bit_rate: int
) -> VideoStream:
    """A libx264 ultrafast stream of `output`: a key frame every `gop` frames exactly,
    capped at `bit_rate`, yuv420p."""
    video = output.add_stream(
        "libx264",
        rate=fps,
        options={
            "preset": "ultrafast",
            "g": str(gop),
            "keyint_min": str(gop),
            "sc_threshold": "0",
            "maxrate": str(bit_rate),
            "bufsize": str(bit_rate),
        },
    )
    video.width, video.height, video.pix_fmt = width, height, "yuv420p"
    video.bit_rate = bit_rate
    return video


class Tone:
    """A 440 Hz mono tone of `seconds`, as a 64 kbit/s AAC stream of `output`, muxed
    in frames of `frame` samples as the video goes."""

    def __init__(
        self, output: OutputContainer, seconds: int, *, sample_rate: int, frame: int
    ) -> None:
        import numpy as np

        self.output, self.sample_rate, self.frame = output, sample_rate, frame
        self.samples: NDArray[np.float32] = (
            0.2 * np.sin(2 * np.pi * 440 * np.arange(sample_rate * seconds) / sample_rate)
        ).astype(np.float32)
        self.stream: AudioStream = output.add_stream("aac", rate=sample_rate, layout="mono")
        self.stream.bit_rate = 64_000
        self.sent = 0

    def after_frame(self, index: int, fps: int) -> None:
        """Muxes the samples up to the end of video frame `index` (whole frames only)."""
        import av

        until = round((index + 1) * self.sample_rate / fps)
        while self.sent + self.frame <= until:
            chunk = av.AudioFrame.from_ndarray(
                self.samples[None, self.sent : self.sent + self.frame], format="flt", layout="mono"
            )
            chunk.sample_rate = self.sample_rate
            chunk.pts = self.sent
            self.output.mux(self.stream.encode(chunk))
            self.sent += self.frame

    def flush(self) -> None:
        self.output.mux(self.stream.encode())


@dataclass(frozen=True)
class Media:
    duration_s: float
    size_mb: float
    kbit_s: float
    width: int
    height: int
    audio: bool


def describe(path: Path) -> Media:
    import av

    with av.open(str(path), "r") as probe:
        duration = (probe.duration or 0) / 1_000_000
        video = probe.streams.video[0]
        size = path.stat().st_size
        return Media(
            duration,
            size / 1e6,
            size * 8 / duration / 1000 if duration else 0.0,
            video.width,
            video.height,
            bool(probe.streams.audio),
        )


def require_ffmpeg() -> str:
    """The ffmpeg command; exits with 1 and a hint when it is not installed."""
    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        sys.exit("ffmpeg is not installed: apt-get install -y ffmpeg")
    return ffmpeg


def scratch_root() -> Path:
    """/dev/shm when there is one (so the disk is not measured), else the temp dir."""
    shm = Path("/dev/shm")
    return shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())


def ffmpeg_version(ffmpeg: str = "ffmpeg") -> str:
    first = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=False)
    match = re.match(r"ffmpeg version (\S+)", first.stdout)
    return match.group(1) if match else "unknown"


def pyav_version() -> str:
    """PyAV's version and the libavformat it carries."""
    import av

    libavformat = ".".join(map(str, av.library_versions["libavformat"]))
    return f"{av.__version__} (libavformat {libavformat})"


# the report


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> float:
    """The 1-minute load average."""
    return os.getloadavg()[0]


def machine(versions: Mapping[str, str]) -> dict[str, str]:
    """nproc, CPU and Python, then `versions` (what else the numbers depend on)."""
    return {
        "nproc": str(os.cpu_count()),
        "CPU": cpu_model(),
        "Python": platform.python_version(),
        **versions,
    }


def machine_text(info: Mapping[str, str]) -> str:
    """`nproc 2, CPU ..., Python ...`: `machine()` as a report says it."""
    return ", ".join(f"{key} {value}" for key, value in info.items())


def med(values: list[float]) -> float:
    """The median; NaN for no values."""
    return statistics.median(values) if values else float("nan")


def runs_text(values: list[float], digits: int = 3) -> str:
    return ", ".join(f"{v:.{digits}f}" for v in values)


def verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def write_results(section: str) -> None:
    """Replaces the section of bench/RESULTS.md whose `## ` heading is the first line of
    `section` (up to the next `## ` heading), or appends it; makes the file if missing.
    Says so on stdout."""
    heading = section.split("\n", 1)[0]
    if not heading.startswith("## "):
        raise ValueError(f"a section starts with its `## ` heading, not {heading!r}")
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")
    print(f"wrote the section {heading!r} of {RESULTS.relative_to(ROOT)}")
