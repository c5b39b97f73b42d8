"""Sound level of a camera's audio: RMS dBFS per ~100 ms window, and when it is loud.

What this module owns:

- `SoundSettings`: whether a camera raises audio events at all (off by default:
  audio events are optional per camera) and the level that counts as loud.
- `SoundLevel`: takes decoded `av.AudioFrame`s of any sample format and
  channel layout (packed or planar; u8, s16, s32, s64, flt, dbl), turns them
  into floats in -1..1 and reports one `SoundReading` per complete window.
- `to_float`, `level_db`, `magnitude`: the conversions, usable on their own.

Levels are RMS over every channel of a window in dBFS, on the AES17 scale: a
full-scale sine reads 0 dBFS, so a sine of peak amplitude A reads 20*log10(A)
(A = 0.5 reads -6 dBFS). Silence reads `SILENCE_DB`.

The magnitude (the reference's `aud`, 0..10) is linear in dBFS: -60 dBFS and
below give 0, every 6 dB more one step, 0 dBFS gives 10;
`round((dB + 60) / 6)` clamped to 0..10. The default loud threshold, -30 dBFS,
is magnitude 5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from camloft.events import MAX_MAGNITUDE

SILENCE_DB = -120.0
"""The level of digital silence (and the floor of every reading)."""
MAGNITUDE_FLOOR_DB = -60.0
"""The level of magnitude 0; magnitude 10 is 0 dBFS."""
WINDOW_MS = 100

_AES17_OFFSET = math.sqrt(2.0)  # RMS of a full-scale sine is 1/sqrt(2)

Samples = npt.NDArray[np.float32]


class SoundSettings(BaseModel):
    """A camera's sound detection settings."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = False
    threshold_db: float = Field(default=-30.0, ge=-90.0, le=0.0)  # RMS dBFS that counts as loud


@dataclass(frozen=True, slots=True)
class SoundReading:
    """The level of one window of sound."""

    at_ms: int  # capture time of the window's first sample
    db: float  # RMS dBFS (AES17), SILENCE_DB..~+3
    magnitude: int  # 0..10, see `magnitude`
    loud: bool  # db at or above the threshold


def to_float(frame: av.AudioFrame) -> Samples:
    """The frame's samples as float32 in -1..1, shaped (samples, channels)."""
    fmt = frame.format
    channels = frame.layout.nb_channels
    data = frame.to_ndarray()
    # Planar: (channels, samples); packed: (1, samples * channels). Both to (samples, channels).
    interleaved = data.T if fmt.is_planar else data.reshape(-1, channels)
    name = fmt.packed.name
    if name in ("flt", "dbl"):
        return interleaved.astype(np.float32, copy=False)
    if name == "u8":
        return (interleaved.astype(np.float32) - 128.0) / 128.0
    if name in ("s16", "s32", "s64"):
        return interleaved.astype(np.float32) / np.float32(2.0 ** (fmt.bits - 1))
    raise ValueError(f"unsupported audio sample format {fmt.name}")


def level_db(mean_square: float) -> float:
    """RMS dBFS on the AES17 scale for a mean of squared samples."""
    rms = math.sqrt(max(mean_square, 0.0)) * _AES17_OFFSET
    if rms <= 0.0:
        return SILENCE_DB
    return max(SILENCE_DB, 20.0 * math.log10(rms))


def magnitude(db: float) -> int:
    """The reference's `aud` for a level: round((dB + 60) / 6), 0..10."""
    steps = (db - MAGNITUDE_FLOOR_DB) / (-MAGNITUDE_FLOOR_DB / MAX_MAGNITUDE)
    return max(0, min(MAX_MAGNITUDE, round(steps)))


class SoundLevel:
    """Windows of sound and their levels, from consecutive decoded audio frames.

    Samples are counted across frames: a window ends after `window_ms` worth of
    samples whatever the frame size. A window's time is its first sample's
    capture time. A change of sample rate starts a new window. Not
    thread-safe: one camera thread feeds it.
    """

    def __init__(self, settings: SoundSettings | None = None, *, window_ms: int = WINDOW_MS):
        if window_ms <= 0:
            raise ValueError("window_ms must be positive")
        self.settings = settings if settings is not None else SoundSettings()
        self.window_ms = window_ms
        self._rate = 0
        self._window = 0  # samples per window
        self._sum = 0.0  # of squares, channels averaged, of the samples in the window so far
        self._count = 0
        self._start_ms = 0

    def feed(self, frame: av.AudioFrame, at_ms: int) -> list[SoundReading]:
        """Add a frame whose first sample was captured at `at_ms`; the windows it completes."""
        rate = frame.sample_rate
        if rate <= 0:
            raise ValueError("an audio frame needs a sample rate")
        if rate != self._rate:
            self._rate = rate
            self._window = max(1, rate * self.window_ms // 1000)
            self._count = 0
            self._sum = 0.0
        samples = to_float(frame)
        power = np.square(samples, dtype=np.float64).mean(axis=1)  # per sample, channels averaged
        readings: list[SoundReading] = []
        taken = 0
        while taken < len(power):
            if self._count == 0:
                self._start_ms = at_ms + taken * 1000 // rate
            take = min(self._window - self._count, len(power) - taken)
            self._sum += float(power[taken : taken + take].sum())
            self._count += take
            taken += take
            if self._count == self._window:
                readings.append(self._reading(self._sum / self._count))
                self._sum = 0.0
                self._count = 0
        return readings

    def _reading(self, mean_square: float) -> SoundReading:
        db = level_db(mean_square)
        loud = db >= self.settings.threshold_db
        return SoundReading(self._start_ms, db, magnitude(db), loud)
