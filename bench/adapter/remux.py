"""Benchmark of cutting a camera stream into segments without transcoding.

Input: 120 s of 1920x1080, 15 fps, ~2 Mbit/s H.264 (libx264, a key frame every
15 frames) + AAC in MPEG-TS, made once with PyAV and cached in the system's
temp dir (`<tmp>/camloft-bench/`), so nothing lands in the repository.

Measured, CPU time (user + system), median of 5 runs after one warm-up run:

(a) the baseline, ffmpeg's own segmenter, as a child process:
    `ffmpeg -i in.ts -c copy -f segment -segment_time 2 out%03d.ts`
    (its output goes to /dev/shm when there is one, so the disk is not measured);
(b) camloft's `Segmenter` on the same file, segments kept in memory, as a child
    process running only that (`python -c`: interpreter start and `import av`
    included, as ffmpeg's start is);
(c) the same `Segmenter` run inside this process (`time.process_time`): what a
    long-running adapter pays per stream.

Target: (b) at most 1.3x (a). Prints a table and writes the section
"## bench/adapter (remux)" of bench/RESULTS.md (`--no-write` to skip).
Run: `.venv/bin/python bench/adapter/remux.py`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import av

from camloft.media.segment import Segment
from camloft.media.segmenter import Segmenter

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "bench" / "RESULTS.md"
SECTION = "## bench/adapter (remux)"
HEADER = "# Benchmark results\n"

SECONDS, WIDTH, HEIGHT, FPS, GOP, BIT_RATE = 120, 1920, 1080, 15, 15, 2_000_000
SAMPLE_RATE, AUDIO_FRAME = 48_000, 1024
RUNS = 5
TARGET_RATIO = 1.3
CACHE = Path(tempfile.gettempdir()) / "camloft-bench"
INPUT = CACHE / f"remux-{SECONDS}s-{WIDTH}x{HEIGHT}-{FPS}fps-{BIT_RATE // 1000}k-g{GOP}.ts"


def make_input(path: Path) -> None:
    """Encodes the test stream: a moving bar and a noisy patch (so the bit rate is real)."""
    import numpy as np  # only needed here: the child processes stay lean

    rng = np.random.default_rng(7)
    noise = [rng.integers(0, 256, (HEIGHT // 4, WIDTH // 4), np.uint8) for _ in range(8)]
    luma = np.empty((HEIGHT, WIDTH), np.uint8)
    ramp = np.linspace(30, 200, WIDTH, dtype=np.float32).astype(np.uint8)
    chroma = np.full((HEIGHT // 2, WIDTH), 128, np.uint8)
    tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(SAMPLE_RATE * SECONDS) / SAMPLE_RATE)).astype(
        np.float32
    )

    partial = path.with_suffix(".partial")
    with av.open(str(partial), "w", format="mpegts") as output:
        video = output.add_stream(
            "libx264",
            rate=FPS,
            options={
                "preset": "ultrafast",
                "g": str(GOP),
                "keyint_min": str(GOP),
                "sc_threshold": "0",
                "maxrate": str(BIT_RATE),
                "bufsize": str(BIT_RATE),
            },
        )
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        video.bit_rate = BIT_RATE
        sound = output.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
        sound.bit_rate = 64_000
        sent = 0
        for index in range(SECONDS * FPS):
            luma[:] = ramp
            x = (index * 24) % (WIDTH - 120)
            luma[:, x : x + 120] = 235
            luma[: HEIGHT // 4, : WIDTH // 4] = noise[index % len(noise)]
            planes = np.concatenate([luma, chroma])  # yuv420p as one (1.5 * H, W) array
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            output.mux(video.encode(frame))
            until = round((index + 1) * SAMPLE_RATE / FPS)
            while sent + AUDIO_FRAME <= until:
                chunk = av.AudioFrame.from_ndarray(
                    tone[None, sent : sent + AUDIO_FRAME], format="flt", layout="mono"
                )
                chunk.sample_rate = SAMPLE_RATE
                chunk.pts = sent
                output.mux(sound.encode(chunk))
                sent += AUDIO_FRAME
        output.mux(video.encode())
        output.mux(sound.encode())
    partial.replace(path)


def segment_file(path: Path) -> tuple[int, int]:
    """Runs camloft's Segmenter over `path`, in memory: (segments, bytes)."""
    segments: list[Segment] = []
    with av.open(str(path), "r") as container:
        Segmenter(container, segments.append).run()
    return len(segments), sum(len(s.data) for s in segments)


def child_cpu(command: list[str]) -> tuple[float, str]:
    """CPU seconds (user + system) of one child process, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{command[0]} failed ({done.returncode}): {done.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, done.stdout


def run_ffmpeg(ffmpeg: str, out_root: Path) -> tuple[float, tuple[int, int]]:
    out_dir = Path(tempfile.mkdtemp(prefix="camloft-bench-", dir=out_root))
    try:
        cpu, _ = child_cpu(
            [ffmpeg, "-nostdin", "-v", "error", "-i", str(INPUT), "-c", "copy",
             "-f", "segment", "-segment_time", "2", str(out_dir / "out%03d.ts")]
        )  # fmt: skip
        files = list(out_dir.iterdir())
        return cpu, (len(files), sum(f.stat().st_size for f in files))
    finally:
        shutil.rmtree(out_dir)


# The child process of (b): only what a camera adapter would load, not this script.
CHILD = """
import sys
import av
from camloft.media.segmenter import Segmenter
sizes = []
with av.open(sys.argv[1], "r") as container:
    Segmenter(container, lambda segment: sizes.append(len(segment.data))).run()
print(len(sizes), sum(sizes))
"""


def run_camloft_child() -> tuple[float, tuple[int, int]]:
    cpu, printed = child_cpu([sys.executable, "-c", CHILD, str(INPUT)])
    count, size = printed.split()
    return cpu, (int(count), int(size))


def run_camloft_in_process() -> tuple[float, tuple[int, int]]:
    start = time.process_time()
    result = segment_file(INPUT)
    return time.process_time() - start, result


def measure(
    run: Callable[[], tuple[float, tuple[int, int]]],
) -> tuple[float, list[float], tuple[int, int]]:
    run()  # warm-up: page cache, shared libraries
    results = [run() for _ in range(RUNS)]
    times = [cpu for cpu, _ in results]
    return statistics.median(times), times, results[-1][1]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def ffmpeg_version(ffmpeg: str) -> str:
    first = subprocess.run([ffmpeg, "-version"], capture_output=True, text=True, check=True)
    match = re.match(r"ffmpeg version (\S+)", first.stdout)
    return match.group(1) if match else "unknown"


def write_results(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.MULTILINE | re.DOTALL)
    if pattern.search(text):
        text = pattern.sub(lambda _m: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()

    ffmpeg = shutil.which("ffmpeg")
    if ffmpeg is None:
        print("ffmpeg is not installed: apt-get install -y ffmpeg", file=sys.stderr)
        return 1
    began = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    if not INPUT.exists():
        print(f"encoding {INPUT} (once) ...", flush=True)
        started = time.monotonic()
        make_input(INPUT)
        print(f"  took {time.monotonic() - started:.0f} s", flush=True)
    with av.open(str(INPUT), "r") as probe:
        duration_s = (probe.duration or 0) / 1_000_000
        size_mb = INPUT.stat().st_size / 1_000_000
        rate_kbit = INPUT.stat().st_size * 8 / duration_s / 1000 if duration_s else 0.0
        has_audio = bool(probe.streams.audio)
    shm = Path("/dev/shm")
    out_root = shm if shm.is_dir() and os.access(shm, os.W_OK) else Path(tempfile.gettempdir())

    rows = [
        ("(a) ffmpeg -c copy -f segment", *measure(lambda: run_ffmpeg(ffmpeg, out_root))),
        ("(b) camloft Segmenter, child process", *measure(run_camloft_child)),
        ("(c) camloft Segmenter, in process", *measure(run_camloft_in_process)),
    ]
    baseline = rows[0][1]
    ratio = rows[1][1] / baseline
    met = ratio <= TARGET_RATIO

    table = [
        "| what | median CPU s | runs (CPU s) | segments | bytes | vs ffmpeg |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for name, median, times, (count, size) in rows:
        runs = ", ".join(f"{t:.3f}" for t in times)
        table.append(
            f"| {name} | {median:.3f} | {runs} | {count} | {size:,} | {median / baseline:.2f}x |"
        )
    took = time.monotonic() - began
    libavformat = ".".join(map(str, av.library_versions["libavformat"]))
    versions = (
        f"nproc {os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()}, "
        f"PyAV {av.__version__} (libavformat {libavformat}), ffmpeg {ffmpeg_version(ffmpeg)}"
    )
    verdict = f"Target (b) <= {TARGET_RATIO}x (a): {'met' if met else 'NOT met'} ({ratio:.2f}x)."
    section = "\n".join(
        [
            SECTION,
            "",
            f"Run: `bench/adapter/remux.py`, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
            f"took {took:.0f} s (input encoding excluded: it is cached).",
            "Command: `.venv/bin/python bench/adapter/remux.py`.",
            "",
            f"Machine: {versions}.",
            "",
            f"Data: {duration_s:.0f} s of {WIDTH}x{HEIGHT} {FPS} fps H.264 (libx264 ultrafast, "
            f"key frame every {GOP} frames){' + AAC' if has_audio else ''} in MPEG-TS, "
            f"{size_mb:.1f} MB ({rate_kbit:.0f} kbit/s). CPU time = user + system, median of "
            f"{RUNS} runs after one warm-up; (a) and (b) are whole child processes "
            "(`getrusage(RUSAGE_CHILDREN)`), process start included; (c) is "
            "`time.process_time()` around opening the file and `Segmenter.run()`.",
            "",
            *table,
            "",
            verdict,
            "",
        ]
    )
    print("\n".join(table))
    print(verdict)
    if not args.no_write:
        write_results(section)
        print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
