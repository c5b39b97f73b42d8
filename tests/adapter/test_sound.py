"""Sound levels of real av.AudioFrames made here: silence, a 1 kHz tone at -6 and -40 dBFS.

Frames are built in the formats decoders hand out (fltp from AAC, s16 from
G.711 and PCM), planar and packed, mono and stereo.
"""

from __future__ import annotations

from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pydantic
import pytest

from camloft.adapter.sound import (
    SILENCE_DB,
    SoundLevel,
    SoundReading,
    SoundSettings,
    level_db,
    magnitude,
    to_float,
)

RATE = 48_000
FRAME = 1024  # samples per frame, as AAC
T0 = 1_800_000_000_000

FORMATS = ["fltp", "s16", "s16p", "flt", "s32", "dbl", "u8"]
SCALE = {"s16": 32767, "s32": 2**31 - 1, "u8": 127}


def tone(seconds: float, amplitude: float, channels: int = 1) -> npt.NDArray[np.float64]:
    """A 1 kHz sine of peak `amplitude`, shaped (channels, samples)."""
    t = np.arange(round(seconds * RATE)) / RATE
    wave = amplitude * np.sin(2 * np.pi * 1000.0 * t)
    return np.tile(wave, (channels, 1))


def frames(signal: npt.NDArray[np.float64], fmt: str, *, size: int = FRAME) -> list[av.AudioFrame]:
    """`signal` (channels, samples) in -1..1 as AudioFrames of `fmt`, `size` samples each."""
    channels = signal.shape[0]
    layout = {1: "mono", 2: "stereo"}[channels]
    packed = av.AudioFormat(fmt).packed.name
    out = []
    for start in range(0, signal.shape[1], size):
        chunk = signal[:, start : start + size]
        data: Any
        if packed in ("flt", "dbl"):
            data = chunk.astype(np.float32 if packed == "flt" else np.float64)
        elif packed == "u8":
            data = np.round(chunk * SCALE["u8"] + 128).astype(np.uint8)
        else:
            dtype = np.int16 if packed == "s16" else np.int32
            data = np.round(chunk * SCALE[packed]).astype(dtype)
        if not av.AudioFormat(fmt).is_planar:
            data = data.T.reshape(1, -1)  # interleaved
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(data), format=fmt, layout=layout)
        frame.sample_rate = RATE
        out.append(frame)
    return out


def levels(
    signal: npt.NDArray[np.float64], fmt: str, settings: SoundSettings | None = None
) -> list[SoundReading]:
    meter = SoundLevel(settings if settings is not None else SoundSettings(enabled=True))
    readings = []
    for i, frame in enumerate(frames(signal, fmt)):
        readings.extend(meter.feed(frame, T0 + i * FRAME * 1000 // RATE))
    return readings


@pytest.mark.parametrize("fmt", ["fltp", "s16"])
@pytest.mark.parametrize("channels", [1, 2])
def test_silence_tone_and_quiet_tone(fmt: str, channels: int) -> None:
    """-6 dBFS reads -6 and is loud (aud 9); -40 reads -40, quiet (aud 3); silence is aud 0."""
    silent = levels(np.zeros((channels, RATE)), fmt)
    assert len(silent) == 10
    assert all(r.db == SILENCE_DB and r.magnitude == 0 and not r.loud for r in silent)

    loud = levels(tone(1.0, 0.5, channels), fmt)
    assert len(loud) == 10
    for reading in loud:
        assert reading.db == pytest.approx(-6.02, abs=0.1)
        assert reading.magnitude == 9 and reading.loud

    quiet = levels(tone(1.0, 0.01, channels), fmt)
    for reading in quiet:
        assert reading.db == pytest.approx(-40.0, abs=0.2)
        assert reading.magnitude == 3 and not reading.loud


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_sample_format_becomes_the_same_floats(fmt: str) -> None:
    signal = tone(0.05, 0.5, channels=2)
    signal[1] *= -0.5  # channels differ, so that an interleaving mistake shows
    (frame,) = frames(signal, fmt, size=signal.shape[1])
    samples = to_float(frame)
    assert samples.dtype == np.float32 and samples.shape == (signal.shape[1], 2)
    tolerance = 1 / 100 if fmt == "u8" else 1e-4
    np.testing.assert_allclose(samples, signal.T, atol=tolerance)


def test_windows_are_100_ms_of_samples_across_frames() -> None:
    """Windows span frames of any size; each is timed by its first sample."""
    meter = SoundLevel(SoundSettings(enabled=True))
    readings: list[SoundReading] = []
    for i, frame in enumerate(frames(tone(1.0, 0.5), "fltp", size=700)):  # 700 does not divide 4800
        readings.extend(meter.feed(frame, T0 + i * 700 * 1000 // RATE))
    assert len(readings) == 10
    steps = np.diff([r.at_ms for r in readings])
    assert readings[0].at_ms == T0 and all(99 <= s <= 101 for s in steps)


def test_a_burst_is_loud_only_in_its_windows() -> None:
    signal = np.zeros((1, RATE))
    signal[:, RATE // 2 : RATE // 2 + RATE // 5] = tone(0.2, 0.5)
    readings = levels(signal, "s16")
    assert [r.loud for r in readings] == [False] * 5 + [True] * 2 + [False] * 3


def test_the_threshold_decides_what_is_loud() -> None:
    quiet = tone(0.5, 0.01)  # -40 dBFS
    assert not any(r.loud for r in levels(quiet, "fltp"))
    sensitive = SoundSettings(enabled=True, threshold_db=-45)
    assert all(r.loud for r in levels(quiet, "fltp", sensitive))


def test_level_and_magnitude_scales() -> None:
    """dBFS on the AES17 scale; aud = round((dB + 60) / 6) in 0..10."""
    assert level_db(0.0) == SILENCE_DB
    assert level_db(0.5) == pytest.approx(0.0)  # mean square of a full-scale sine
    assert level_db(0.5 * 0.5**2) == pytest.approx(-6.02, abs=0.01)
    assert [magnitude(db) for db in (-120, -60, -57, -40, -30, -6, 0, 3)] == [
        0,
        0,
        0,
        3,
        5,
        9,
        10,
        10,
    ]


def test_a_new_sample_rate_starts_a_new_window() -> None:
    meter = SoundLevel(SoundSettings(enabled=True))
    first = frames(tone(0.05, 0.5), "fltp")  # half a window at 48 kHz
    for frame in first:
        assert meter.feed(frame, T0) == []
    other = av.AudioFrame.from_ndarray(
        np.zeros((1, 1600), np.float32), format="fltp", layout="mono"
    )
    other.sample_rate = 16_000
    (reading,) = meter.feed(other, T0 + 50)
    assert reading.at_ms == T0 + 50 and reading.db == SILENCE_DB


def test_settings_are_off_by_default_and_bounded() -> None:
    settings = SoundSettings()
    assert settings.enabled is False and settings.threshold_db == -30.0
    for bad in ({"threshold_db": 1}, {"threshold_db": -100}, {"level": 3}):
        with pytest.raises(pydantic.ValidationError):
            SoundSettings.model_validate(bad)
