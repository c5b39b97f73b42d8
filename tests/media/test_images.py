"""Thumbs and stills: the reference's sizes for 16:9 and 4:3 cameras, as JPEGs Pillow opens."""

from __future__ import annotations

import io

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from camloft.media.images import image_size, jpeg, still_jpeg, thumb_jpeg


def halves(width: int, height: int) -> npt.NDArray[np.uint8]:
    """Red on the left, blue on the right: a picture whose orientation and colours show."""
    picture = np.zeros((height, width, 3), np.uint8)
    picture[:, : width // 2] = (220, 30, 30)
    picture[:, width // 2 :] = (30, 30, 220)
    return picture


def opened(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(
    ("source", "thumb", "still"),
    [
        ((1920, 1080), (256, 144), (640, 360)),
        ((640, 360), (256, 144), (640, 360)),
        ((2560, 1080), (256, 144), (640, 360)),  # 21:9 is nearer 16:9
        ((640, 480), (192, 144), (480, 360)),
        ((1280, 960), (192, 144), (480, 360)),
        ((704, 576), (192, 144), (480, 360)),  # PAL D1 (5:4) is nearer 4:3
        ((1024, 1024), (192, 144), (480, 360)),
    ],
)
def test_sizes_follow_the_cameras_shape(
    source: tuple[int, int], thumb: tuple[int, int], still: tuple[int, int]
) -> None:
    assert image_size("thumb", *source) == thumb
    assert image_size("still", *source) == still


def test_sizes_need_a_real_picture() -> None:
    with pytest.raises(ValueError, match="positive size"):
        image_size("thumb", 0, 360)


@pytest.mark.parametrize(
    ("width", "height", "thumb", "still"),
    [(1280, 720, (256, 144), (640, 360)), (640, 480, (192, 144), (480, 360))],
)
def test_a_decoded_frame_becomes_jpegs_of_those_sizes(
    width: int, height: int, thumb: tuple[int, int], still: tuple[int, int]
) -> None:
    """A yuv420p frame, as decoders hand out, makes valid JPEGs that keep its content."""
    frame = av.VideoFrame.from_ndarray(halves(width, height), format="rgb24").reformat(
        format="yuv420p"
    )
    for data, size in ((thumb_jpeg(frame), thumb), (still_jpeg(frame), still)):
        assert data[:3] == b"\xff\xd8\xff"  # a JPEG's start of image
        image = opened(data)
        assert image.format == "JPEG" and image.mode == "RGB" and image.size == size
        pixels = np.asarray(image, dtype=np.int16)
        left, right = pixels[size[1] // 2, 4], pixels[size[1] // 2, -5]
        assert left[0] > 180 and left[2] < 70, left
        assert right[2] > 180 and right[0] < 70, right


def test_an_rgb_array_becomes_jpegs_too() -> None:
    picture = halves(1024, 768)
    assert opened(thumb_jpeg(picture)).size == (192, 144)
    assert opened(still_jpeg(picture)).size == (480, 360)


def test_quality_is_about_80_and_can_be_changed() -> None:
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, size=(360, 640, 3), dtype=np.uint8)
    default = jpeg(noisy, "still")
    assert (
        len(jpeg(noisy, "still", quality=30)) < len(default) < len(jpeg(noisy, "still", quality=95))
    )
    assert default == jpeg(noisy, "still", quality=80)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((360, 640), np.uint8), np.zeros((360, 640, 4), np.uint8), np.zeros((36, 64, 3))],
)
def test_other_arrays_are_refused(bad: npt.NDArray[np.generic]) -> None:
    with pytest.raises(ValueError, match="RGB picture"):
        thumb_jpeg(bad)  # type: ignore[arg-type]
