"""Motion detection on small gray pictures made here with numpy: noise, movers, masks, light.

Each picture is a fixed textured scene plus fresh sensor noise, 160x90 like the
analyser's default, five pictures a second.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import numpy.typing as npt
import pydantic
import pytest

from camloft.adapter.motion import (
    MaskZone,
    MotionDetector,
    MotionReading,
    MotionSettings,
    area_threshold,
    box_blur,
    magnitude,
    mask_of,
    pixel_threshold,
)

W, H = 160, 90
STEP_MS = 200
T0 = 1_800_000_000_000

Float = npt.NDArray[np.float64]


def scene(seed: int = 1) -> Float:
    """A textured, smoothly varying background, grey levels about 40..200."""
    rng = np.random.default_rng(seed)
    coarse = rng.uniform(40, 200, size=(H // 10 + 1, W // 10 + 1))
    texture = np.kron(coarse, np.ones((10, 10)))[:H, :W]
    gradient = np.linspace(-20, 20, W)[None, :]
    return np.asarray(texture + gradient, dtype=np.float64)


class Camera:
    """Pictures of `background` with sensor noise, fed to a detector at 5 fps."""

    def __init__(self, settings: MotionSettings | None = None, *, noise: float = 6.0) -> None:
        self.detector = MotionDetector(settings)
        self.background = scene()
        self.rng = np.random.default_rng(7)
        self.noise = noise
        self.at_ms = T0

    def shoot(self, picture: Float | None = None) -> MotionReading:
        base = self.background if picture is None else picture
        noisy = base + self.rng.normal(0.0, self.noise, base.shape)
        gray = np.clip(np.round(noisy), 0, 255).astype(np.uint8)
        reading = self.detector.update(gray, self.at_ms)
        self.at_ms += STEP_MS
        return reading

    def with_square(self, left: int, top: int, size: int, level: float = 250.0) -> Float:
        picture = self.background.copy()
        picture[top : top + size, left : left + size] = level
        return picture

    def settle(self, count: int = 10) -> None:
        for _ in range(count):
            assert not self.shoot().motion


def moving_square(
    camera: Camera, size: int, *, top: int = 20, steps: int = 12, level: float = 250.0
) -> list[MotionReading]:
    """A square crossing from left to right, `size` pixels a side."""
    readings = []
    for i in range(steps):
        left = 4 + i * (W - size - 8) // (steps - 1)
        readings.append(camera.shoot(camera.with_square(left, top, size, level)))
    return readings


def test_static_noisy_scene_has_no_motion() -> None:
    """Sensor noise never counts as motion, even at the highest sensitivity."""
    for sensitivity in (1, 5, 10):
        camera = Camera(MotionSettings(sensitivity=sensitivity), noise=8.0)
        first = camera.shoot()
        assert first.calibrating and not first.motion
        readings = [camera.shoot() for _ in range(50)]
        assert not any(r.motion or r.light_change for r in readings)
        assert max(r.fraction for r in readings) < area_threshold(sensitivity)


def test_a_moving_bright_square_is_motion() -> None:
    camera = Camera()
    camera.settle()
    readings = moving_square(camera, 24)
    assert not readings[0].motion  # one picture is not enough: min_frames is 2
    assert all(r.motion for r in readings[1:])
    assert all(1 <= r.magnitude <= 10 for r in readings)
    after = [camera.shoot() for _ in range(5)]
    assert not any(r.motion for r in after[1:])  # it left: motion stops at once


def test_magnitude_rises_with_the_size_of_the_mover() -> None:
    typical = []
    for size in (12, 24, 40, 64):
        camera = Camera(MotionSettings(sensitivity=10))
        camera.settle()
        readings = moving_square(camera, size, top=10)
        typical.append(int(np.median([r.magnitude for r in readings[1:]])))
    assert typical == sorted(typical) and len(set(typical)) == len(typical), typical


def test_a_single_picture_flash_is_not_motion() -> None:
    """min_frames=2 rejects one odd picture (a glitch, an insect at the lens)."""
    camera = Camera()
    camera.settle()
    flash = camera.shoot(camera.with_square(60, 30, 30))
    assert flash.fraction > area_threshold(5) and not flash.motion
    assert not camera.shoot().motion
    strict = Camera(MotionSettings(min_frames=1))
    strict.settle()
    assert strict.shoot(strict.with_square(60, 30, 30)).motion


def test_motion_inside_a_mask_zone_is_ignored() -> None:
    zone = MaskZone(left=0.0, top=0.0, right=1.0, bottom=0.5)  # the top half
    camera = Camera(MotionSettings(mask=[zone]))
    camera.settle()
    inside = moving_square(camera, 30, top=5)
    assert not any(r.motion for r in inside)
    assert max(r.fraction for r in inside) == 0.0
    below = moving_square(camera, 30, top=55)
    assert all(r.motion for r in below[1:])


def test_everything_masked_sees_nothing() -> None:
    camera = Camera(MotionSettings(mask=[MaskZone(left=0, top=0, right=1, bottom=1)]))
    camera.settle()
    assert not any(r.motion or r.fraction for r in moving_square(camera, 40))


def test_lights_switched_on_are_adapted_to_at_once() -> None:
    """A global brightness step (lights on, night mode off) is not motion for long."""
    camera = Camera()
    camera.settle()
    camera.background = np.clip(camera.background * 1.5 + 25, 0, 255)
    readings = [camera.shoot() for _ in range(20)]
    assert sum(r.motion for r in readings) <= 1
    assert readings[0].light_change
    assert not any(r.motion or r.light_change for r in readings[2:])
    # And the detector still sees a mover in the new light (dark: a third of it is white).
    assert all(r.motion for r in moving_square(camera, 24, level=10)[1:])


def test_a_uniform_brightness_step_is_not_motion() -> None:
    """A small step of auto exposure moves every pixel alike: never motion."""
    camera = Camera(MotionSettings(sensitivity=10))
    camera.settle()
    camera.background = camera.background + 30
    readings = [camera.shoot() for _ in range(20)]
    assert not any(r.motion for r in readings)


def test_slow_dusk_is_followed_without_motion() -> None:
    """Light fading over a minute (5 % of the picture's level a second) is never motion."""
    camera = Camera(MotionSettings(sensitivity=10))
    camera.settle()
    start = camera.background
    for i in range(300):
        factor = 1.0 - 0.6 * i / 300
        assert not camera.shoot(start * factor).motion


def test_a_new_picture_size_starts_a_new_background() -> None:
    detector = MotionDetector()
    detector.update(np.zeros((90, 160), np.uint8), T0)
    reading = detector.update(np.full((120, 160), 200, np.uint8), T0 + 200)
    assert reading.calibrating and not reading.motion
    with pytest.raises(ValueError, match="two dimensions"):
        detector.update(np.zeros((90, 160, 3), np.uint8), T0 + 400)


def test_magnitude_mapping() -> None:
    """smx = ceil(10 * sqrt(f / 0.5)): 0.5 % -> 1, 2 % -> 2, 12.5 % -> 5, half or more -> 10."""
    assert magnitude(0.0) == 0
    assert magnitude(0.0001) == 1
    assert magnitude(0.005) == 1
    assert magnitude(0.02) == 2
    assert magnitude(0.125) == 5
    assert magnitude(0.3) == 8
    assert magnitude(0.5) == 10
    assert magnitude(0.95) == 10
    values = [magnitude(f) for f in np.linspace(0, 1, 101)]
    assert values == sorted(values)


def test_thresholds_fall_as_sensitivity_rises() -> None:
    pixels = [pixel_threshold(s) for s in range(1, 11)]
    areas = [area_threshold(s) for s in range(1, 11)]
    assert pixels == sorted(pixels, reverse=True) and pixels[-1] == 8.0
    assert areas == sorted(areas, reverse=True) and areas[-1] == pytest.approx(0.001)


def test_box_blur_is_the_mean_of_the_neighbourhood() -> None:
    rng = np.random.default_rng(3)
    image = rng.uniform(0, 255, size=(9, 13)).astype(np.float32)
    radius = 2
    padded = np.pad(image, radius, mode="edge").astype(np.float64)
    expected = np.zeros(image.shape)
    for y in range(image.shape[0]):
        for x in range(image.shape[1]):
            expected[y, x] = padded[y : y + 5, x : x + 5].mean()
    np.testing.assert_allclose(box_blur(image, radius), expected, rtol=1e-5)


def test_mask_zones_cover_every_pixel_they_touch() -> None:
    active = mask_of([MaskZone(left=0.5, top=0.0, right=0.51, bottom=0.1)], 90, 160)
    assert not active[0:9, 80:82].any()
    assert active[9:, :].all() and active[:, :80].all() and active[:, 82:].all()


def test_settings_are_bounded_and_strict() -> None:
    settings = MotionSettings()
    assert (settings.sensitivity, settings.fps, settings.width, settings.min_frames) == (
        5,
        5,
        160,
        2,
    )
    assert settings.mask == []
    parsed = MotionSettings.model_validate(
        {"sensitivity": 10, "mask": [{"left": 0, "top": 0, "right": 0.3, "bottom": 0.2}]}
    )
    assert parsed.mask[0].right == 0.3
    for bad in (
        {"sensitivity": 0},
        {"sensitivity": 11},
        {"fps": 16},
        {"width": 32},
        {"min_frames": 0},
        {"threshold": 30},  # not a setting of camloft's
        {"mask": [{"left": 0.5, "top": 0, "right": 0.4, "bottom": 1}]},
        {"mask": [{"left": 0, "top": 0, "right": 1.2, "bottom": 1}]},
    ):
        with pytest.raises(pydantic.ValidationError):
            MotionSettings.model_validate(bad)


def test_a_thing_that_stops_becomes_background() -> None:
    """A parked car is motion while it arrives, then, within adapt_seconds or so, scenery."""
    camera = Camera(MotionSettings(adapt_seconds=10))
    camera.settle(60)  # 12 s: the background is a running average, not a plain mean
    parked = camera.with_square(50, 40, 30)
    readings = [camera.shoot(parked) for _ in range(150)]  # 30 s
    assert readings[1].motion
    assert not any(r.motion for r in readings[-50:])
    assert sum(r.motion for r in readings) < 100  # gone within 20 s


def test_the_light_fit_runs_only_when_the_light_may_have_changed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gain/offset fit is skipped for a mover (most of the picture kept its level),
    which is what it costs on a busy scene, and still runs for dusk and a light step."""
    fits: list[int] = []
    relit = MotionDetector._relit

    def counted(
        self: MotionDetector, background: npt.NDArray[np.float32], picture: npt.NDArray[np.float32]
    ) -> Callable[[npt.NDArray[np.float32]], npt.NDArray[np.float32]]:
        fits.append(1)
        return relit(self, background, picture)

    monkeypatch.setattr(MotionDetector, "_relit", counted)
    camera = Camera()
    camera.settle()
    readings = moving_square(camera, 24)
    assert all(r.motion for r in readings[1:]) and not fits

    dusk = Camera(MotionSettings(sensitivity=10))
    dusk.settle()
    start = dusk.background
    for i in range(100):
        assert not dusk.shoot(start * (1.0 - 0.6 * i / 300)).motion
    assert fits
