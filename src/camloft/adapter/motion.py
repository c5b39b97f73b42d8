"""Motion detection on small gray pictures: a running-average background, behind a small interface.

What this module owns:

- `MotionSettings` (and `MaskZone`): a camera's motion settings, validated
  like every camloft setting (`extra="forbid"`, bounded fields).
- `MotionReading`: what one analysed picture says.
- `MotionDetecting`: the interface the analyser drives, one method,
  `update(gray, at_ms) -> MotionReading`; `MotionDetector` is camloft's
  implementation of it.

It sees only small uint8 gray pictures (160x90 by default): decoding and
scaling are the analyser's business, and motion belongs on low resolution.

How `MotionDetector` decides, for each picture:

1. Blur with a box filter (about 1/80 of the width in radius) so that sensor
   noise and compression blocks average out.
2. Compare with the background, a running average of past blurred pictures
   (float32). Its time constant is `adapt_seconds` of capture time (the first
   pictures are plainly averaged until then), so slow light changes are
   followed and a thing that stops moving becomes background.
3. Light that changes everywhere at once (lights on, dusk, auto exposure)
   scales and shifts every pixel alike, faster than the background follows.
   When the plain comparison finds change, it is made again with the
   background brought to the picture's light: a gain and an offset, fitted
   robustly (two guesses, "no change" and "the quartiles match", the one more
   pixels agree with refined by least squares on the pixels that agree), so a
   mover does not bend the fit. The fit runs only when the light may have
   changed: more than half of the unmasked picture moved the same way by a
   quarter of the pixel threshold or more, or `LIGHT_FIT_FRACTION` of it
   changed. A quiet picture, and a mover that leaves the rest of the picture
   at its level (most pictures of a busy scene), skip it. When
   `LIGHT_CHANGE_FRACTION` of the picture changed all the same, with or
   without that correction, the picture becomes the background and the
   reading says `light_change` instead of motion (a change of light too
   uneven to correct, or something right in front of the lens).
4. A pixel changed when its difference exceeds a threshold set by sensitivity
   (`pixel_threshold`: 44 grey levels at 1, 28 at 5, 8 at 10). Pixels inside
   mask zones never count; the changed fraction is over the pixels outside them.
5. Motion is on when the changed fraction exceeds `area_threshold` (6.9 % of
   the picture at sensitivity 1, 1.05 % at 5, 0.1 % at 10) in at least
   `min_frames` consecutive analysed pictures, which rejects single-frame noise.

The magnitude (the reference's `smx`, 0..10) follows the changed fraction f as
`ceil(10 * sqrt(f / 0.5))`, capped at 10: it grows with the side of the
changed area rather than its surface, so small and large movers both spread
over the scale. 0 for no change; 0.5 % of the picture gives 1, 2 % gives 2,
12.5 % gives 5, half the picture or more gives 10.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, Self

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from camloft.events import MAX_MAGNITUDE

Gray = npt.NDArray[np.uint8]
_Float = npt.NDArray[np.float32]

LIGHT_CHANGE_FRACTION = 0.8
"""A changed fraction this large is a change of light, not a mover."""
LIGHT_FIT_FRACTION = 0.25
"""A changed fraction this large is fitted a change of light whatever the level did."""
FULL_SCALE_FRACTION = 0.5
"""The changed fraction that gives the highest magnitude."""
_QUARTILES = (25.0, 50.0, 75.0)
_MIN_SPREAD = 4.0  # grey levels between quartiles, or their deviation, to measure a gain by
_MAX_GAIN = 4.0
_LIGHT_SHIFT = 0.25  # of the pixel threshold: a level change of most pixels this large is light
_MIN_INLIERS = 0.2  # of the unmasked picture, to refine the light's gain and offset on
_DEFAULT_STEP_MS = 200  # assumed time between pictures when capture times do not advance


class MaskZone(BaseModel):
    """A rectangle where motion is ignored, in fractions of the picture's width and height."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    left: float = Field(ge=0.0, le=1.0)
    top: float = Field(ge=0.0, le=1.0)
    right: float = Field(ge=0.0, le=1.0)
    bottom: float = Field(ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.right <= self.left or self.bottom <= self.top:
            raise ValueError("a mask zone needs left < right and top < bottom")
        return self


class MotionSettings(BaseModel):
    """A camera's motion detection settings."""

    model_config = ConfigDict(extra="forbid")

    enabled: bool = True
    sensitivity: int = Field(default=5, ge=1, le=10)  # 10 is the most sensitive
    fps: int = Field(default=5, ge=1, le=15)  # pictures analysed per second; all are decoded
    width: int = Field(default=160, ge=64, le=640)  # analysed width; the height keeps the aspect
    mask: list[MaskZone] = Field(default_factory=list, max_length=32)
    min_frames: int = Field(default=2, ge=1, le=15)  # consecutive analysed pictures with change
    adapt_seconds: float = Field(default=10.0, ge=1.0, le=600.0)  # the background's time constant


def pixel_threshold(sensitivity: int) -> float:
    """Grey levels a blurred pixel must differ from the background by to count as changed."""
    return 8.0 + 4.0 * (10 - sensitivity)


def area_threshold(sensitivity: int) -> float:
    """The changed fraction of the picture above which there is motion."""
    return 0.001 * 1.6 ** (10 - sensitivity)


def magnitude(fraction: float) -> int:
    """The reference's `smx` for a changed fraction: ceil(10 * sqrt(f / 0.5)), 0..10."""
    if fraction <= 0.0:
        return 0
    scaled = MAX_MAGNITUDE * math.sqrt(min(fraction, FULL_SCALE_FRACTION) / FULL_SCALE_FRACTION)
    return min(MAX_MAGNITUDE, math.ceil(scaled - 1e-9))


@dataclass(frozen=True, slots=True)
class MotionReading:
    """What one analysed picture says."""

    at_ms: int  # the picture's capture time
    fraction: float  # changed part of the unmasked picture, 0..1
    magnitude: int  # 0..10, see `magnitude`
    motion: bool  # change above the threshold for `min_frames` pictures in a row
    light_change: bool = False  # the picture was taken as the new background
    calibrating: bool = False  # no background yet (first picture, or a new size)


class MotionDetecting(Protocol):
    """What the analyser needs of a motion detector."""

    def update(self, gray: Gray, at_ms: int) -> MotionReading: ...


def box_blur(image: _Float, radius: int) -> _Float:
    """A (2r+1)x(2r+1) mean filter, edges repeated: two running sums."""
    if radius <= 0:
        return image
    size = 2 * radius + 1
    padded = np.pad(image, radius, mode="edge")
    sums = np.cumsum(padded, axis=0, dtype=np.float32)
    sums = np.concatenate([np.zeros((1, sums.shape[1]), np.float32), sums], axis=0)
    rows = sums[size:] - sums[:-size]
    sums = np.cumsum(rows, axis=1, dtype=np.float32)
    sums = np.concatenate([np.zeros((sums.shape[0], 1), np.float32), sums], axis=1)
    out: _Float = (sums[:, size:] - sums[:, :-size]) / np.float32(size * size)
    return out


def mask_of(zones: list[MaskZone], height: int, width: int) -> npt.NDArray[np.bool_]:
    """True where motion counts: outside every zone (a zone covers each pixel it touches)."""
    active = np.ones((height, width), dtype=np.bool_)
    for zone in zones:
        x0, x1 = math.floor(zone.left * width), math.ceil(zone.right * width)
        y0, y1 = math.floor(zone.top * height), math.ceil(zone.bottom * height)
        active[y0:y1, x0:x1] = False
    return active


class MotionDetector:
    """Background subtraction on small gray pictures; see the module docstring.

    Not thread-safe: one camera thread feeds it.
    """

    def __init__(self, settings: MotionSettings | None = None) -> None:
        self.settings = settings if settings is not None else MotionSettings()
        self._pixel_threshold = pixel_threshold(self.settings.sensitivity)
        self._area_threshold = area_threshold(self.settings.sensitivity)
        self._background: _Float | None = None
        self._active: npt.NDArray[np.bool_] = np.ones((0, 0), np.bool_)
        self._active_count = 0
        self._radius = 1
        self._last_ms = 0
        self._averaged = 0  # pictures in the background so far, until its time constant rules
        self._streak = 0

    def reset(self) -> None:
        """Forget the background: the next picture starts a new one."""
        self._background = None
        self._streak = 0

    def update(self, gray: Gray, at_ms: int) -> MotionReading:
        if gray.ndim != 2:
            raise ValueError(f"a gray picture has two dimensions, not shape {gray.shape}")
        if self._background is None or self._background.shape != gray.shape:
            self._radius = max(1, round(gray.shape[1] / 80))
            self._active = mask_of(self.settings.mask, *gray.shape)
            self._active_count = int(np.count_nonzero(self._active))
            self._restart(box_blur(gray.astype(np.float32), self._radius), at_ms)
            return MotionReading(at_ms, 0.0, 0, False, calibrating=True)
        background = self._background
        picture = box_blur(gray.astype(np.float32), self._radius)
        if self._active_count == 0:  # everything is masked
            self._blend(picture, at_ms)
            return MotionReading(at_ms, 0.0, 0, False)

        active = self._active
        threshold = np.float32(self._pixel_threshold)
        difference = picture - background
        raw = np.count_nonzero((np.abs(difference) > threshold) & active)
        fraction = raw / self._active_count
        if fraction > self._area_threshold and self._light_may_have_changed(difference, fraction):
            # Something changed: by a mover, or by the light?
            if self._active_count == active.size:  # no mask: the same pixels, uncopied
                relit = self._relit(background.reshape(-1), picture.reshape(-1))
            else:
                relit = self._relit(background[active], picture[active])
            changed = (np.abs(picture - relit(background)) > threshold) & active
            fraction = np.count_nonzero(changed) / self._active_count

        if max(raw / self._active_count, fraction) >= LIGHT_CHANGE_FRACTION:
            self._restart(picture, at_ms)
            return MotionReading(at_ms, fraction, magnitude(fraction), False, light_change=True)

        self._blend(picture, at_ms)
        self._streak = self._streak + 1 if fraction > self._area_threshold else 0
        motion = self._streak >= self.settings.min_frames
        return MotionReading(at_ms, fraction, magnitude(fraction), motion)

    def _restart(self, picture: _Float, at_ms: int) -> None:
        self._background = picture
        self._last_ms = at_ms
        self._averaged = 1
        self._streak = 0

    def _light_may_have_changed(self, difference: _Float, fraction: float) -> bool:
        """Whether a change found is worth fitting a change of light to (step 3).

        Light changes the level of the whole picture: most pixels move the same
        way, or the change is wide. A mover changes its own place only; on a busy
        scene that is most pictures, and the fit costs more than the rest together.
        """
        if fraction >= LIGHT_FIT_FRACTION:
            return True
        level = np.float32(self._pixel_threshold * _LIGHT_SHIFT)
        half = self._active_count / 2
        if self._active_count == self._active.size:  # no mask: skip the `& active`
            return bool(
                np.count_nonzero(difference > level) > half
                or np.count_nonzero(difference < -level) > half
            )
        active = self._active
        return bool(
            np.count_nonzero((difference > level) & active) > half
            or np.count_nonzero((difference < -level) & active) > half
        )

    def _relit(self, background: _Float, picture: _Float) -> Callable[[_Float], _Float]:
        """The change of light from `background` to `picture` (their unmasked pixels), as a
        function that applies it: gain and offset, robust to movers."""
        threshold = self._pixel_threshold
        b25, b50, b75 = np.percentile(background, _QUARTILES)
        p25, p50, p75 = np.percentile(picture, _QUARTILES)
        spread = b75 - b25
        gain = (p75 - p25) / spread if spread >= _MIN_SPREAD else 1.0
        guesses = [(1.0, 0.0), (gain, p50 - gain * b50)]

        def agree(model: tuple[float, float]) -> npt.NDArray[np.bool_]:
            predicted = np.float32(model[0]) * background + np.float32(model[1])
            return np.abs(picture - predicted) <= threshold

        agreeing = [agree(guess) for guess in guesses]
        counts = [int(np.count_nonzero(inliers)) for inliers in agreeing]
        best = counts.index(max(counts))  # the first of equals, as max() picks
        model, inliers, count = guesses[best], agreeing[best], counts[best]
        for step in range(2):
            if step:
                inliers = agree(model)
                count = int(np.count_nonzero(inliers))
            if count < _MIN_INLIERS * background.size:
                break
            model = _fit(background[inliers], picture[inliers])
        gain32, offset32 = np.float32(model[0]), np.float32(model[1])

        def apply(image: _Float) -> _Float:
            out: _Float = image * gain32 + offset32
            return out

        return apply

    def _blend(self, picture: _Float, at_ms: int) -> None:
        """Move the background towards `picture` by the time passed since the last one."""
        background = self._background
        assert background is not None
        step_ms = at_ms - self._last_ms
        if step_ms <= 0:
            step_ms = _DEFAULT_STEP_MS
        self._last_ms = at_ms
        self._averaged += 1
        alpha = 1.0 - math.exp(-step_ms / (1000.0 * self.settings.adapt_seconds))
        alpha = max(alpha, 1.0 / self._averaged)  # a plain mean of the first pictures
        background += np.float32(alpha) * (picture - background)


def _fit(background: _Float, picture: _Float) -> tuple[float, float]:
    """Least-squares gain and offset from background to picture levels."""
    b_mean, p_mean = float(background.mean()), float(picture.mean())
    deviation = background - np.float32(b_mean)
    variance = float(np.mean(deviation * deviation))
    if variance < _MIN_SPREAD**2:
        return 1.0, p_mean - b_mean
    gain = float(np.mean(deviation * (picture - np.float32(p_mean)))) / variance
    gain = min(max(gain, 1 / _MAX_GAIN), _MAX_GAIN)
    return gain, p_mean - gain * b_mean
