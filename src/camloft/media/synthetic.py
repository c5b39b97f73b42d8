"""A synthetic IP camera: real H.264 + AAC in MPEG-TS, encoded in-process with PyAV.

For demos and tests, never a mock: what comes out is what a camera sends, and the
adapter reads it like any other PyAV input.

What this module owns:

- `SyntheticScene`: the settings of one camera (size, rate, bitrate, audio) and
  its script: windows of motion (a bright disc crossing the scene) and of sound
  (a loud 1 kHz tone), given or drawn at random from a seed.
- `Schedule`, `motion_active`, `tone_active`: the ground truth of that script for
  any offset from the camera's start, for the tests of motion and sound detection.
- `SyntheticCamera`: the pictures (a static textured background, the disc, the
  camera's name and a burnt-in UTC clock with milliseconds), the sound (near
  silence or the tone), and the encoder loop: `run` writes MPEG-TS to a sink in
  real time or as fast as it can; `open_pipe` runs that loop in a named daemon
  thread and hands back the read end of a pipe.
- `SceneView`: an optional virtual pan-tilt-zoom head: the camera then films a
  window over a larger world around the scene, moved by any thread while it
  runs (`camloft.adapter.ptz.VirtualPtz` steers it). While the view moves, every
  frame changes: the motion ground truth above covers the disc only.

The clock burnt into each frame is that frame's capture time: `started_at` plus
its index over the frame rate, the same value `FrameInfo.capture_time` reports
and, relative to the first frame, the same as the frame's presentation time.
No network and no camera protocol live here.
"""

from __future__ import annotations

import bisect
import calendar
import contextlib
import functools
import logging
import math
import os
import random
import select
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, BinaryIO, Protocol

import av
import numpy as np
import numpy.typing as npt
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.video.frame import PictureType
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)

Window = tuple[float, float]
"""A stretch of time as (start_s, duration_s), relative to the camera's start."""

Box = tuple[int, int, int, int]
"""A rectangle in pixels as (left, top, right, bottom), right and bottom exclusive."""

SAMPLE_RATE = 48_000
AUDIO_FRAME_SAMPLES = 1024  # one AAC frame
TONE_HZ = 1000.0
TONE_AMPLITUDE = 0.5  # -6 dBFS
NOISE_AMPLITUDE = 0.002  # standard deviation, about -54 dBFS
AUDIO_BITRATE = 64_000
_AAC_DELAY_SAMPLES = 2 * AUDIO_FRAME_SAMPLES  # frames fed before the encoder gives one back

_OBJECT_FILL = (255, 236, 150)
_OBJECT_OUTLINE = (70, 50, 20)
_CLOCK_TEMPLATE = "8888-88-88 88:88:88.888 UTC"


@dataclass(frozen=True, slots=True)
class SyntheticScene:
    """The settings and the script of one synthetic camera.

    `motion` and `tones` are (start_s, duration_s) windows relative to the
    camera's start. With `random_motion`, more motion windows come from `seed`:
    after each quiet gap drawn from `random_gap_s`, a burst drawn from
    `random_burst_s`, forever. Lists are accepted and kept as tuples.
    """

    width: int = 640
    height: int = 360
    fps: int = 15
    keyframe_interval_s: float = 1.0
    bitrate: int = 512_000  # bits per second of video
    audio: bool = True
    motion: Sequence[Window] = ()
    random_motion: bool = False
    seed: int = 0
    random_gap_s: tuple[float, float] = (30.0, 90.0)
    random_burst_s: tuple[float, float] = (5.0, 15.0)
    tones: Sequence[Window] = ()

    def __post_init__(self) -> None:
        if self.width < 64 or self.height < 64 or self.width % 2 or self.height % 2:
            raise ValueError(
                f"size must be even and at least 64x64, not {self.width}x{self.height}"
            )
        if not 1 <= self.fps <= 60:
            raise ValueError(f"fps must be 1..60, not {self.fps}")
        if self.keyframe_interval_s <= 0 or self.fps * self.keyframe_interval_s < 1:
            raise ValueError("keyframe_interval_s must be at least one frame")
        if self.bitrate < 16_000:
            raise ValueError(f"bitrate must be at least 16000 bit/s, not {self.bitrate}")
        for name in ("random_gap_s", "random_burst_s"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                raise ValueError(f"{name} must be (low, high) with 0 < low <= high")
        for name in ("motion", "tones"):
            windows = tuple((float(start), float(length)) for start, length in getattr(self, name))
            if any(start < 0 or length <= 0 for start, length in windows):
                raise ValueError(f"{name} windows need start_s >= 0 and duration_s > 0")
            object.__setattr__(self, name, windows)

    @property
    def gop_frames(self) -> int:
        """Frames from one key frame to the next."""
        return max(1, round(self.fps * self.keyframe_interval_s))


def _inside(windows: Iterable[Window], offset_s: float) -> Window | None:
    """The latest-starting window that holds `offset_s`."""
    found: Window | None = None
    for start, length in windows:
        if start <= offset_s < start + length and (found is None or start >= found[0]):
            found = (start, length)
    return found


class Schedule:
    """The ground truth of a scene: when motion and tone are on, where the object is.

    Deterministic: two schedules of equal scenes answer alike. Random motion
    windows are drawn lazily, as far as the latest offset asked about; any
    thread may ask.
    """

    def __init__(self, scene: SyntheticScene) -> None:
        self.scene = scene
        self._lock = threading.Lock()
        self._rng = random.Random(scene.seed)
        self._random: list[Window] = []  # sorted, never overlapping
        self._random_starts: list[float] = []
        self._drawn_until = 0.0  # end of the last random window drawn

    def _draw_until(self, offset_s: float) -> None:
        if not self.scene.random_motion or self._drawn_until > offset_s:
            return
        with self._lock:
            while self._drawn_until <= offset_s:
                start = self._drawn_until + self._rng.uniform(*self.scene.random_gap_s)
                length = self._rng.uniform(*self.scene.random_burst_s)
                self._random.append((start, length))
                self._random_starts.append(start)
                self._drawn_until = start + length

    def motion_windows(self, until_s: float) -> list[Window]:
        """Every motion window that starts before `until_s`, by start."""
        self._draw_until(until_s)
        windows = [w for w in (*self.scene.motion, *self._random) if w[0] < until_s]
        return sorted(windows)

    def motion_window(self, offset_s: float) -> Window | None:
        """The motion window that holds `offset_s`, if any."""
        found = _inside(self.scene.motion, offset_s)
        if self.scene.random_motion:
            self._draw_until(offset_s)
            i = bisect.bisect_right(self._random_starts, offset_s) - 1
            if i >= 0:
                drawn = _inside([self._random[i]], offset_s)
                if drawn is not None and (found is None or drawn[0] >= found[0]):
                    found = drawn
        return found

    def motion_at(self, offset_s: float) -> bool:
        """Whether the object is in the picture at `offset_s`."""
        return self.motion_window(offset_s) is not None

    def tone_at(self, offset_s: float) -> bool:
        """Whether the audio carries the tone at `offset_s`."""
        return _inside(self.scene.tones, offset_s) is not None

    def tone_mask(self, offsets_s: npt.NDArray[np.float64]) -> npt.NDArray[np.bool_]:
        """`tone_at` for many offsets at once (one per audio sample)."""
        mask = np.zeros(offsets_s.shape, dtype=np.bool_)
        for start, length in self.scene.tones:
            mask |= (offsets_s >= start) & (offsets_s < start + length)
        return mask

    def object_box(self, offset_s: float) -> Box | None:
        """Where the disc is at `offset_s`: it crosses left to right once per window."""
        window = self.motion_window(offset_s)
        if window is None:
            return None
        start, length = window
        progress = (offset_s - start) / length
        width, height = self.scene.width, self.scene.height
        size = height // 4
        margin = width // 40
        left = margin + round(progress * (width - size - 2 * margin))
        middle = height * 0.55 + height * 0.15 * math.sin(2 * math.pi * progress)
        top = round(middle - size / 2)
        return (left, top, left + size, top + size)


def _inclusive(box: Box) -> Box:
    """Pillow's rectangles include their right and bottom edges."""
    return (box[0], box[1], box[2] - 1, box[3] - 1)


def motion_active(scene: SyntheticScene, offset_s: float) -> bool:
    """Whether `scene` shows motion at `offset_s` seconds after the camera's start."""
    return Schedule(scene).motion_at(offset_s)


def tone_active(scene: SyntheticScene, offset_s: float) -> bool:
    """Whether `scene` sounds its tone at `offset_s` seconds after the camera's start."""
    return Schedule(scene).tone_at(offset_s)


def clock_text(capture_time: float) -> str:
    """The burnt-in clock for a wall-clock time (seconds since the epoch), e.g.
    "2026-11-25 13:40:05.123 UTC"."""
    seconds, millis = divmod(round(capture_time * 1000), 1000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(seconds)) + f".{millis:03d} UTC"


def read_clock(picture: npt.NDArray[Any]) -> float:
    """The time (seconds since the epoch) the burnt-in clock of a synthetic camera's
    picture shows, to the ms: the inverse of `clock_text` for a decoded frame.

    `picture` is an RGB array of shape (height, width, 3), or the luma plane alone
    (height, width), as decoded from the camera's stream (H.264 artefacts are fine).
    Each character of the clock is matched against its glyphs drawn with the camera's
    font at the same place: the default font's digits share one advance width, so every
    digit of the clock has a fixed cell. Raises ValueError when no clock is there.
    """
    gray = picture.astype(np.float32)
    if gray.ndim == 3:
        gray = gray.mean(axis=2)
    height, width = gray.shape
    glyphs = _clock_glyphs(width, height)
    if glyphs is None:
        raise ValueError(f"a {width}x{height} picture is too small for the whole clock")
    digits: list[str] = []
    worst = 0.0
    for left, right, references in glyphs.cells:
        cell = gray[glyphs.top : glyphs.bottom, left:right]
        errors = [float(np.abs(cell - reference).mean()) for reference in references]
        best = min(range(10), key=errors.__getitem__)
        # How unlike its glyph the cell is where either has ink: near 0 for a clock,
        # large for a picture with no clock there (a plain mean would pass a black one).
        reference = references[best]
        ink = (cell > 64) | (reference > 64)
        worst = max(worst, float(np.abs(cell - reference)[ink].mean()) if ink.any() else 255.0)
        digits.append(str(best))
    if worst > _CLOCK_MAX_ERROR:
        raise ValueError(f"no synthetic clock in this {width}x{height} picture")
    text = "".join(digits)
    try:
        whole = calendar.timegm(time.strptime(text[:14], "%Y%m%d%H%M%S"))
    except ValueError as err:
        raise ValueError(f"the clock reads {text!r}, not a time") from err
    return whole + int(text[14:]) / 1000


_CLOCK_MAX_ERROR = 60.0  # of 255: the worst digit's mean difference from its glyph where inked


@dataclass(frozen=True, slots=True)
class _ClockGlyphs:
    top: int
    bottom: int
    cells: list[tuple[int, int, list[npt.NDArray[np.float32]]]]  # left, right, digits 0-9


@functools.lru_cache(maxsize=8)
def _clock_glyphs(width: int, height: int) -> _ClockGlyphs | None:
    """Each digit of the clock of a `width` x `height` camera: where, and how 0-9 look
    there; None when the clock does not fit in such a picture."""
    camera = SyntheticCamera("clock", SyntheticScene(width=width, height=height, audio=False))
    box = camera.clock_box
    if box[2] > width or box[3] > height:
        return None
    pictures = []
    for digit in "0123456789":
        image = Image.new("L", (width, height))
        draw = ImageDraw.Draw(image)
        draw.text(camera._clock_origin, _CLOCK_TEMPLATE.replace("8", digit), font=camera._font,
                  fill=255)  # fmt: skip
        pictures.append(np.asarray(image, dtype=np.float32))
    cells = []
    for index, char in enumerate(_CLOCK_TEMPLATE):
        if char != "8":
            continue
        start = camera._clock_origin[0] + camera._font.getlength(_CLOCK_TEMPLATE[:index])
        end = start + camera._font.getlength(char)
        left, right = math.floor(start), math.ceil(end)
        cells.append((left, right, [p[box[1] : box[3], left:right] for p in pictures]))
    return _ClockGlyphs(box[1], box[3], cells)


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What one encoded video frame shows; `run` reports it after encoding the frame."""

    index: int  # frames since the start; also the frame's pts in 1/fps units
    offset_s: float  # index / fps
    capture_time: float  # wall clock, seconds since the epoch; what the burnt-in clock shows
    motion: bool
    tone: bool


class Sink(Protocol):
    """Where `SyntheticCamera.run` writes MPEG-TS: any binary file opened for writing."""

    def write(self, data: bytes, /) -> object: ...


class _ReaderStalled(BrokenPipeError):
    """The pipe stayed full after stop: its reader is not reading any more."""


class _PipeWriter:
    """The write end of a pipe, as the file object PyAV writes to.

    Waits for room in short slices so that a stop is heard; once stopped, a
    reader that takes nothing for `stall_s` counts as gone. After the reader
    has gone, writes are discarded so the muxer can still be closed.
    """

    def __init__(self, fd: int, stop: threading.Event, stall_s: float = 1.0) -> None:
        os.set_blocking(fd, False)
        self._fd = fd
        self._room = select.poll()
        self._room.register(fd, select.POLLOUT)
        self._stop = stop
        self._stall_s = stall_s
        self._gone = False

    def write(self, data: bytes, /) -> int:
        if self._gone:
            return len(data)
        view = memoryview(data)
        stalled_since: float | None = None
        while view:
            try:
                written = os.write(self._fd, view)
            except BlockingIOError:
                written = 0
            except BrokenPipeError:
                self._gone = True
                raise
            if written:
                view = view[written:]
                stalled_since = None
                continue
            if self._stop.is_set():
                now = time.monotonic()
                stalled_since = stalled_since if stalled_since is not None else now
                if now - stalled_since > self._stall_s:
                    self._gone = True
                    raise _ReaderStalled("the pipe's reader took nothing after stop")
            self._room.poll(100)  # ms
        return len(data)

    def close(self) -> None:
        os.close(self._fd)


class SceneView:
    """Where a synthetic camera looks: a virtual pan-tilt-zoom head, steered from any thread.

    The camera films a world around its scene: the scene and half its size again on
    each side, in scene pixels from (-width/2, -height/2) to (3/2 width, 3/2 height).
    The view is a window of the picture's shape over that world, centred on the scene
    at zoom 1 (home: the picture the camera shows without a view) and `zoom` times
    smaller when zoomed in. It never leaves the world: zoom goes from 1/2 (the whole
    world) to 4, and a move that reaches an edge stops there.

    `move(pan, tilt, zoom)` sets velocities from -1 to 1 (positive: right, up, in), as
    a PTZ camera's continuous move does: at 1, the picture pans or tilts by half its
    width per second and zooms 2x per second. Positions follow `clock` (monotonic
    seconds), so a move takes the same time whether frames are made in real time or not.
    """

    MARGIN = 0.5  # of the scene's width and height, on each side
    MIN_ZOOM = 0.5
    MAX_ZOOM = 4.0

    def __init__(
        self, width: int, height: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.size = (width, height)
        margin_x, margin_y = round(width * self.MARGIN), round(height * self.MARGIN)
        self.world: Box = (-margin_x, -margin_y, width + margin_x, height + margin_y)
        """The world in scene pixels, as (left, top, right, bottom)."""
        self.max_pan_px_s = width / 2  # on the picture, at velocity 1
        self.max_zoom_octaves_s = 1.0  # doublings of the zoom per second, at velocity 1
        self._clock = clock
        self._lock = threading.Lock()
        self._since = clock()
        self._x, self._y, self._zoom = width / 2, height / 2, 1.0  # centre and zoom at `_since`
        self._vx = self._vy = 0.0  # scene pixels per second
        self._vzoom = 0.0  # octaves per second

    def move(self, pan: float, tilt: float, zoom: float) -> None:
        """Move from where the view is now at these velocities (each -1..1) until told otherwise."""
        if not all(-1.0 <= value <= 1.0 for value in (pan, tilt, zoom)):
            raise ValueError(f"velocities must be -1..1, not {(pan, tilt, zoom)}")
        with self._lock:
            now = self._clock()
            self._x, self._y, self._zoom = self._at(now)
            self._since = now
            # A pan sweeps the picture at the same speed at any zoom, as on a real camera.
            self._vx = pan * self.max_pan_px_s / self._zoom
            self._vy = -tilt * self.max_pan_px_s / self._zoom
            self._vzoom = zoom * self.max_zoom_octaves_s

    def stop(self) -> None:
        self.move(0.0, 0.0, 0.0)

    @property
    def moving(self) -> bool:
        with self._lock:
            return bool(self._vx or self._vy or self._vzoom)

    def rect(self) -> tuple[float, float, float, float]:
        """What the view shows now: (left, top, right, bottom) in scene pixels."""
        with self._lock:
            x, y, zoom = self._at(self._clock())
        half_w, half_h = self.size[0] / zoom / 2, self.size[1] / zoom / 2
        return (x - half_w, y - half_h, x + half_w, y + half_h)

    def _at(self, now: float) -> tuple[float, float, float]:
        """Centre and zoom at `now`, kept inside the world."""
        elapsed = now - self._since
        zoom = self._zoom * 2 ** (self._vzoom * elapsed)
        zoom = min(self.MAX_ZOOM, max(self.MIN_ZOOM, zoom))
        half_w, half_h = self.size[0] / zoom / 2, self.size[1] / zoom / 2
        left, top, right, bottom = self.world
        x = min(right - half_w, max(left + half_w, self._x + self._vx * elapsed))
        y = min(bottom - half_h, max(top + half_h, self._y + self._vy * elapsed))
        return x, y, zoom


class SyntheticCamera:
    """A camera that films its `SyntheticScene` and encodes it to MPEG-TS.

    One `run` at a time per camera. `started_at` is the wall-clock capture
    time of frame 0 of the current (or last) run. With a `SceneView`, the
    picture is what the view shows at the moment each frame is made; the
    labels and the clock stay where they are.
    """

    def __init__(
        self,
        name: str = "synthetic",
        scene: SyntheticScene | None = None,
        view: SceneView | None = None,
    ) -> None:
        self.name = name
        self.scene = scene if scene is not None else SyntheticScene()
        if view is not None and view.size != (self.scene.width, self.scene.height):
            raise ValueError(f"a view of {view.size} does not fit a {self.scene.width}x"
                             f"{self.scene.height} scene")  # fmt: skip
        self.view = view
        """Where the camera looks, steered while it runs; None: always the scene itself."""
        self._world: Image.Image | None = None  # the landscape around the scene, painted once
        self.schedule = Schedule(self.scene)
        self.started_at: float | None = None
        height = self.scene.height
        self._font = ImageFont.load_default(size=max(10, height // 18))
        self._pad = max(2, height // 90)
        margin = max(4, height // 45)
        self.clock_box: Box = self._label_box((margin, margin), _CLOCK_TEMPLATE)
        """Where the clock is drawn: the only place that changes while nothing moves."""
        self._clock_origin = self._text_origin(self.clock_box, _CLOCK_TEMPLATE)
        self._background = self._paint_background()

    def _label_box(self, corner: tuple[int, int], text: str) -> Box:
        """The box of a label whose top left corner is `corner`: text plus padding."""
        left, top, right, bottom = self._font.getbbox(text)
        width = math.ceil(right - left) + 2 * self._pad
        height = math.ceil(bottom - top) + 2 * self._pad
        return (corner[0], corner[1], corner[0] + width, corner[1] + height)

    def _text_origin(self, box: Box, text: str) -> tuple[int, int]:
        left, top, _, _ = self._font.getbbox(text)
        return (box[0] + self._pad - math.floor(left), box[1] + self._pad - math.floor(top))

    def _paint_background(self) -> Image.Image:
        image = self._paint_landscape((0, 0, self.scene.width, self.scene.height))
        self._draw_labels(ImageDraw.Draw(image))
        return image

    def _paint_landscape(self, area: Box) -> Image.Image:
        """The landscape over `area`, in scene pixels: the scene itself, or (for a
        `SceneView`) a larger world around it, with more to see past the scene's edges."""
        width, height = self.scene.width, self.scene.height
        left, top, right, bottom = area
        horizon = round(height * 0.62)
        # Past the scene's edges the sky, the ground and the shading keep their edge colours.
        ys = np.arange(top, bottom)
        xs = np.arange(left, right)
        sky_t = np.linspace(0.0, 1.0, horizon, dtype=np.float32)
        sky_t = sky_t[np.clip(ys, 0, horizon - 1)][:, None]
        sky = np.array([30, 45, 90], np.float32) * (1 - sky_t) + np.array([120, 130, 150]) * sky_t
        ground_t = np.linspace(0.0, 1.0, height - horizon, dtype=np.float32)
        ground_t = ground_t[np.clip(ys - horizon, 0, height - horizon - 1)][:, None]
        ground = (
            np.array([70, 80, 55], np.float32) * (1 - ground_t)
            + np.array([40, 45, 35], np.float32) * ground_t
        )
        rows = np.where((ys < horizon)[:, None], sky, ground)
        columns = np.linspace(-1.0, 1.0, width, dtype=np.float32)
        columns = columns[np.clip(xs, 0, width - 1)][None, :, None]
        picture = rows[:, None, :] * (1 - 0.15 * columns**2)
        image = Image.fromarray(np.clip(picture, 0, 255).astype(np.uint8), "RGB")
        draw = ImageDraw.Draw(image)

        def at(*xy: float) -> list[int]:
            """Scene coordinates (x, y, x, y, ...) as pixels of this image."""
            return [round(c) - (left if i % 2 == 0 else top) for i, c in enumerate(xy)]

        # A house with windows and a brick grid, a tree, a fence: edges and texture
        # that stay put, so a static scene costs few bits and differences nothing.
        u = width / 640
        v = height / 360
        house = (round(380 * u), round(120 * v), round(560 * u), horizon + round(20 * v))
        draw.rectangle(at(*house), fill=(120, 85, 70), outline=(60, 40, 35), width=2)
        for y in range(house[1] + 8, house[3], max(4, round(10 * v))):
            draw.line(at(house[0], y, house[2], y), fill=(100, 70, 58))
        draw.polygon(
            at(house[0] - round(12 * u), house[1], house[2] + round(12 * u), house[1],
               (house[0] + house[2]) // 2, house[1] - round(60 * v)),
            fill=(90, 40, 40),
        )  # fmt: skip
        for i in range(3):
            wx = house[0] + round((20 + 55 * i) * u)
            draw.rectangle(
                at(wx, house[1] + round(30 * v), wx + round(35 * u), house[1] + round(70 * v)),
                fill=(60, 70, 90),
                outline=(200, 200, 190),
                width=2,
            )
        for trunk_x in (round(120 * u), round(-200 * u), round(760 * u), round(900 * u)):
            # The first tree is in the scene; the others only in a view's wider world.
            draw.rectangle(
                at(trunk_x, horizon - round(70 * v), trunk_x + round(16 * u),
                   horizon + round(10 * v)),
                fill=(70, 50, 30),
            )  # fmt: skip
            draw.ellipse(
                at(trunk_x - round(45 * u), horizon - round(160 * v), trunk_x + round(60 * u),
                   horizon - round(50 * v)),
                fill=(40, 90, 45), outline=(25, 60, 30), width=2,
            )  # fmt: skip
        # Outside the scene only: a sun above it, a shed left of it, stones below it.
        draw.ellipse(at(250 * u, -150 * v, 330 * u, -70 * v), fill=(250, 220, 120))
        shed = (round(-290 * u), horizon - round(60 * v), round(-90 * u), horizon + round(15 * v))
        draw.rectangle(at(*shed), fill=(90, 100, 120), outline=(40, 45, 60), width=2)
        draw.rectangle(
            at(shed[0] + 30 * u, shed[1] + 20 * v, shed[0] + 70 * u, shed[3]), fill=(50, 40, 30)
        )
        for i in range(12):
            sx, sy = (-250 + 85 * i) * u, (380 + 45 * (i % 3)) * v
            draw.ellipse(at(sx, sy, sx + 40 * u, sy + 22 * v), fill=(120, 120, 110))
        step = max(6, round(24 * u))
        rail = horizon + round(36 * v)
        for x in range(left - left % step, right, step):
            draw.line(at(x, horizon + round(30 * v), x, horizon + round(60 * v)), (150, 140, 120))
        draw.line(at(left, rail, right, rail), (150, 140, 120))
        return image

    def _draw_labels(self, draw: ImageDraw.ImageDraw) -> None:
        """The clock's black box, and the camera's name bottom left, fixed like any label."""
        height = self.scene.height
        draw.rectangle(_inclusive(self.clock_box), fill=(0, 0, 0))
        name_height = self.clock_box[3] - self.clock_box[1]
        name_box = self._label_box((self.clock_box[0], height - self.clock_box[1] - name_height),
                                   self.name)  # fmt: skip
        draw.rectangle(_inclusive(name_box), fill=(0, 0, 0))
        draw.text(self._text_origin(name_box, self.name), self.name, font=self._font, fill="white")

    def render(self, offset_s: float, capture_time: float) -> npt.NDArray[np.uint8]:
        """The picture at `offset_s` after the start, its clock showing `capture_time`,
        as an RGB array of shape (height, width, 3). With a view, what the view shows now."""
        if self.view is not None:
            return self._render_view(self.view, offset_s, capture_time)
        image = self._background.copy()
        draw = ImageDraw.Draw(image)
        box = self.schedule.object_box(offset_s)
        if box is not None:
            draw.ellipse(_inclusive(box), fill=_OBJECT_FILL, outline=_OBJECT_OUTLINE, width=3)
        draw.text(self._clock_origin, clock_text(capture_time), font=self._font, fill="white")
        return np.asarray(image, dtype=np.uint8)

    def _render_view(
        self, view: SceneView, offset_s: float, capture_time: float
    ) -> npt.NDArray[np.uint8]:
        """The world cropped to the view and scaled to the picture; labels and clock on top."""
        width, height = self.scene.width, self.scene.height
        left, top, right, bottom = view.rect()
        world_left, world_top = view.world[0], view.world[1]
        if self._world is None:
            self._world = self._paint_landscape(view.world)
        image = self._world.resize(
            (width, height),
            Image.Resampling.BILINEAR,
            box=(left - world_left, top - world_top, right - world_left, bottom - world_top),
        )
        draw = ImageDraw.Draw(image)
        box = self.schedule.object_box(offset_s)
        if box is not None:
            scale_x, scale_y = width / (right - left), height / (bottom - top)
            draw.ellipse(
                ((box[0] - left) * scale_x, (box[1] - top) * scale_y,
                 (box[2] - left) * scale_x - 1, (box[3] - top) * scale_y - 1),
                fill=_OBJECT_FILL, outline=_OBJECT_OUTLINE, width=max(1, round(3 * scale_x)),
            )  # fmt: skip
        self._draw_labels(draw)
        draw.text(self._clock_origin, clock_text(capture_time), font=self._font, fill="white")
        return np.asarray(image, dtype=np.uint8)

    def sound(self, first_sample: int, count: int) -> npt.NDArray[np.float32]:
        """`count` mono samples at 48 kHz from sample `first_sample` after the start:
        low noise, or the tone where the scene says so. The same call gives the same samples."""
        offsets = (first_sample + np.arange(count, dtype=np.float64)) / SAMPLE_RATE
        rng = np.random.default_rng((self.scene.seed, first_sample))
        samples = rng.normal(0.0, NOISE_AMPLITUDE, count)
        tone = self.schedule.tone_mask(offsets)
        if tone.any():
            samples[tone] += TONE_AMPLITUDE * np.sin(2 * np.pi * TONE_HZ * offsets[tone])
        return samples.astype(np.float32)

    def run(
        self,
        sink: Sink,
        stop: threading.Event,
        *,
        realtime: bool = True,
        duration_s: float | None = None,
        start_time: float | None = None,
        on_frame: Callable[[FrameInfo], None] | None = None,
    ) -> None:
        """Film and encode until `stop` is set or `duration_s` of media is written.

        `sink` is any object with `write(bytes)`. With `realtime`, each frame is
        made at its capture time (the clock starts now; frames that could not be
        made in time are skipped, as a camera would); otherwise frames are made
        as fast as possible, their capture times 1/fps apart from `start_time`
        (default: now). Errors of the sink propagate; the stream is closed first.
        """
        scene = self.scene
        # A PES length on video packets lets a reader's demuxer hand a frame on as soon as
        # it is complete instead of when the next one starts; in real time, every packet
        # goes to the sink as soon as it is muxed.
        options = {"omit_video_pes_length": "0"}
        if realtime:
            options["flush_packets"] = "1"
        container = av.open(sink, "w", format="mpegts", container_options=options)
        try:
            self._encode(container, stop, realtime, duration_s, start_time, on_frame)
        except BaseException:
            # The sink or the encoder failed already: close what can be closed.
            with contextlib.suppress(av.FFmpegError, OSError):
                container.close()
            raise
        container.close()
        log.debug("synthetic camera %s (%dx%d) stopped", self.name, scene.width, scene.height)

    def _encode(
        self,
        container: OutputContainer,
        stop: threading.Event,
        realtime: bool,
        duration_s: float | None,
        start_time: float | None,
        on_frame: Callable[[FrameInfo], None] | None,
    ) -> None:
        scene = self.scene
        fps = scene.fps
        gop = scene.gop_frames
        video = container.add_stream(
            "libx264",
            rate=fps,
            options={
                "preset": "ultrafast",
                "tune": "zerolatency",
                "threads": "1",
                "x264-params": f"keyint={gop}:min-keyint={gop}:scenecut=0:bframes=0",
            },
        )
        video.width = scene.width
        video.height = scene.height
        video.pix_fmt = "yuv420p"
        video.bit_rate = scene.bitrate
        video.gop_size = gop
        video.codec_context.max_b_frames = 0
        audio: AudioStream | None = None
        if scene.audio:
            audio = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono")
            audio.bit_rate = AUDIO_BITRATE
        frame_rate = Fraction(1, fps)

        total = None if duration_s is None else max(0, round(duration_s * fps))
        started_at = time.time() if realtime or start_time is None else start_time
        clock_zero = time.monotonic()
        self.started_at = started_at
        index = 0
        next_sample = 0
        last_gop = -1
        while not stop.is_set() and (total is None or index < total):
            if realtime:
                delay = clock_zero + index / fps - time.monotonic()
                if delay > 0:
                    if stop.wait(delay):
                        break
                elif delay < -1 / fps:
                    # Late by more than a frame: those frames were never captured.
                    index = math.floor((time.monotonic() - clock_zero) * fps)
                    if total is not None and index >= total:
                        break
            offset = index / fps
            capture_time = started_at + offset
            if audio is not None:
                # Sound past this frame by the AAC encoder's delay, so the muxer, which
                # interleaves by time, never holds a video frame back waiting for sound.
                until = (index + 1) * SAMPLE_RATE // fps + _AAC_DELAY_SAMPLES
                if total is not None:
                    until = min(until, total * SAMPLE_RATE // fps)
                while next_sample + AUDIO_FRAME_SAMPLES <= until:
                    next_sample = self._encode_sound(container, audio, next_sample)
            frame = av.VideoFrame.from_ndarray(self.render(offset, capture_time), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts = index
            frame.time_base = frame_rate
            if index // gop != last_gop:
                frame.pict_type = PictureType.I
                last_gop = index // gop
            container.mux(video.encode(frame))
            if on_frame is not None:
                on_frame(
                    FrameInfo(
                        index=index,
                        offset_s=offset,
                        capture_time=capture_time,
                        motion=self.schedule.motion_at(offset),
                        tone=self.schedule.tone_at(offset),
                    )
                )
            index += 1
        if audio is not None:
            until = index * SAMPLE_RATE // fps
            while next_sample + AUDIO_FRAME_SAMPLES <= until:
                next_sample = self._encode_sound(container, audio, next_sample)
            container.mux(audio.encode(None))
        container.mux(video.encode(None))

    def _encode_sound(self, container: OutputContainer, audio: AudioStream, first: int) -> int:
        samples = self.sound(first, AUDIO_FRAME_SAMPLES)
        frame = av.AudioFrame.from_ndarray(samples[None, :], format="fltp", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = first
        frame.time_base = Fraction(1, SAMPLE_RATE)
        container.mux(audio.encode(frame))
        return first + AUDIO_FRAME_SAMPLES

    def open_pipe(
        self,
        stop: threading.Event,
        *,
        realtime: bool = True,
        duration_s: float | None = None,
    ) -> tuple[threading.Thread, BinaryIO]:
        """Run the camera in a daemon thread named "synthetic-<name>", into a pipe.

        Returns the thread and the pipe's read end, which `av.open(read_end,
        format="mpegts")` reads like a camera (add `options={"fpsprobesize": "0"}`
        to skip FFmpeg's 20-frame rate probe, 1.3 s at 15 fps). Setting `stop` ends
        the stream (the reader sees the end of the file; a reader that takes nothing
        for a second after the stop is given up on); closing the read end ends the
        thread quietly. The caller closes the read end.
        """
        read_fd, write_fd = os.pipe()
        writer = _PipeWriter(write_fd, stop)
        thread = threading.Thread(
            target=self._run_into_pipe,
            args=(writer, stop, realtime, duration_s),
            name=f"synthetic-{self.name}",
            daemon=True,
        )
        # Unbuffered: a read returns what the pipe holds now instead of waiting to fill.
        reader = open(read_fd, "rb", buffering=0)  # noqa: SIM115 - the caller closes it
        try:
            thread.start()
        except BaseException:
            reader.close()
            writer.close()
            raise
        return thread, reader

    def _run_into_pipe(
        self,
        writer: _PipeWriter,
        stop: threading.Event,
        realtime: bool,
        duration_s: float | None,
    ) -> None:
        try:
            self.run(writer, stop, realtime=realtime, duration_s=duration_s)
        except BrokenPipeError as err:
            log.info("synthetic camera %s: the reader went away (%s)", self.name, err)
        finally:
            writer.close()
