"""Thumbs and stills: JPEG pictures of a camera's video, in the reference's sizes.

What this module owns: the sizes (`image_size`) and the encoding of a picture
to JPEG bytes (`thumb_jpeg`, `still_jpeg`, `jpeg`) from a decoded
`av.VideoFrame` or an RGB array of shape (height, width, 3).

The reference's sizes depend on the camera's shape: a thumb is 256x144 and a
still 640x360 for 16:9 cameras, 192x144 and 480x360 for 4:3 ones. A source
takes the sizes of whichever of the two ratios its own is closer to; the
picture is scaled to fill them (with a slight stretch for in-between shapes,
never letterboxed). Scaling is FFmpeg's area-averaging scaler, the JPEG is
Pillow's at quality 80.
"""

from __future__ import annotations

import io
from typing import Any, Literal

import av
import numpy as np
import numpy.typing as npt
from PIL import Image

ImageKind = Literal["thumb", "still"]
Picture = av.VideoFrame | npt.NDArray[np.uint8]

JPEG_QUALITY = 80

_SIZES: dict[tuple[ImageKind, bool], tuple[int, int]] = {
    ("thumb", True): (256, 144),
    ("still", True): (640, 360),
    ("thumb", False): (192, 144),
    ("still", False): (480, 360),
}


def is_widescreen(width: int, height: int) -> bool:
    """Whether a width x height picture is closer to 16:9 than to 4:3."""
    if width <= 0 or height <= 0:
        raise ValueError(f"a picture has a positive size, not {width}x{height}")
    ratio = width / height
    return abs(ratio - 16 / 9) < abs(ratio - 4 / 3)


def image_size(kind: ImageKind, width: int, height: int) -> tuple[int, int]:
    """The (width, height) of a thumb or still of a width x height source."""
    return _SIZES[(kind, is_widescreen(width, height))]


def _as_frame(picture: Picture) -> av.VideoFrame:
    if isinstance(picture, av.VideoFrame):
        return picture
    array: npt.NDArray[Any] = np.asarray(picture)
    if array.ndim != 3 or array.shape[2] != 3 or array.dtype != np.uint8:
        raise ValueError(
            f"an RGB picture is uint8 of shape (h, w, 3), not {array.dtype} {array.shape}"
        )
    return av.VideoFrame.from_ndarray(np.ascontiguousarray(array), format="rgb24")


def jpeg(picture: Picture, kind: ImageKind, *, quality: int = JPEG_QUALITY) -> bytes:
    """The picture as a JPEG thumb or still."""
    frame = _as_frame(picture)
    width, height = image_size(kind, frame.width, frame.height)
    small = frame.reformat(width=width, height=height, format="rgb24", interpolation="AREA")
    out = io.BytesIO()
    Image.fromarray(small.to_ndarray()).save(out, format="JPEG", quality=quality)
    return out.getvalue()


def thumb_jpeg(picture: Picture, *, quality: int = JPEG_QUALITY) -> bytes:
    """A thumb: 256x144 (16:9 sources) or 192x144 (4:3 sources)."""
    return jpeg(picture, "thumb", quality=quality)


def still_jpeg(picture: Picture, *, quality: int = JPEG_QUALITY) -> bytes:
    """A still: 640x360 (16:9 sources) or 480x360 (4:3 sources)."""
    return jpeg(picture, "still", quality=quality)
