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
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/, for common.py

import av

from camloft.media.segment import Segment
from camloft.media.segmenter import Segmenter
from common import (
    Tone,
    add_h264,
    child_cpu,
    describe,
    ffmpeg_version,
    machine,
    machine_text,
    pyav_version,
    require_ffmpeg,
    run_benchmark,
    runs_text,
    scratch_root,
    verdict,
    write_results,
)

SECTION = "## bench/adapter (remux)"

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

    partial = path.with_suffix(".partial")
    with av.open(str(partial), "w", format="mpegts") as output:
        video = add_h264(output, width=WIDTH, height=HEIGHT, fps=FPS, gop=GOP, bit_rate=BIT_RATE)
        tone = Tone(output, SECONDS, sample_rate=SAMPLE_RATE, frame=AUDIO_FRAME)
        for index in range(SECONDS * FPS):
            luma[:] = ramp
            x = (index * 24) % (WIDTH - 120)
            luma[:, x : x + 120] = 235
            luma[: HEIGHT // 4, : WIDTH // 4] = noise[index % len(noise)]
            planes = np.concatenate([luma, chroma])  # yuv420p as one (1.5 * H, W) array
            frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
            frame.pts = index
            output.mux(video.encode(frame))
            tone.after_frame(index, FPS)
        output.mux(video.encode())
        tone.flush()
    partial.replace(path)


def segment_file(path: Path) -> tuple[int, int]:
    """Runs camloft's Segmenter over `path`, in memory: (segments, bytes)."""
    segments: list[Segment] = []
    with av.open(str(path), "r") as container:
        Segmenter(container, segments.append).run()
    return len(segments), sum(len(s.data) for s in segments)


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--no-write", action="store_true", help="do not touch RESULTS.md")
    args = parser.parse_args()

    ffmpeg = require_ffmpeg()
    began = time.monotonic()
    CACHE.mkdir(parents=True, exist_ok=True)
    if not INPUT.exists():
        print(f"encoding {INPUT} (once) ...", flush=True)
        started = time.monotonic()
        make_input(INPUT)
        print(f"  took {time.monotonic() - started:.0f} s", flush=True)
    media = describe(INPUT)
    out_root = scratch_root()

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
        table.append(
            f"| {name} | {median:.3f} | {runs_text(times)} | {count} | {size:,} "
            f"| {median / baseline:.2f}x |"
        )
    took = time.monotonic() - began
    versions = machine_text(machine({"PyAV": pyav_version(), "ffmpeg": ffmpeg_version(ffmpeg)}))
    target = f"Target (b) <= {TARGET_RATIO}x (a): {verdict(met)} ({ratio:.2f}x)."
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
            f"Data: {media.duration_s:.0f} s of {WIDTH}x{HEIGHT} {FPS} fps H.264 (libx264 "
            f"ultrafast, key frame every {GOP} frames){' + AAC' if media.audio else ''} in "
            f"MPEG-TS, {media.size_mb:.1f} MB ({media.kbit_s:.0f} kbit/s). "
            f"CPU time = user + system, median of {RUNS} runs after one warm-up; "
            "(a) and (b) are whole child processes "
            "(`getrusage(RUSAGE_CHILDREN)`), process start included; (c) is "
            "`time.process_time()` around opening the file and `Segmenter.run()`.",
            "",
            *table,
            "",
            target,
            "",
        ]
    )
    print("\n".join(table))
    print(target)
    if not args.no_write:
        write_results(section)
    return 0


if __name__ == "__main__":
    run_benchmark(main)
