"""Real media for tests, encoded with PyAV in memory."""

from __future__ import annotations

import io
import subprocess
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


def decodes_cleanly(path: Path, *, timeout: float = 120) -> None:
    """ffmpeg decodes the whole file and says nothing: no error, no warning."""
    done = subprocess.run(
        ["ffmpeg", "-v", "error", "-xerror", "-i", str(path), "-f", "null", "-"],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0 and done.stderr == "", done.stderr


def make_ts(seconds: float = 2.0, *, width: int = 160, height: int = 90, fps: int = 15) -> bytes:
    """An MPEG-TS of H.264 video that starts with a key frame: a real, small segment."""
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as output:
        stream = output.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.options = {"g": str(fps), "bf": "0"}
        stream.time_base = Fraction(1, fps)
        for n in range(int(seconds * fps)):
            pixels = np.full((height, width, 3), (n * 7) % 255, dtype=np.uint8)
            frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
            frame.pts = n
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return buffer.getvalue()
