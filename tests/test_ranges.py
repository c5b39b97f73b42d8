"""The one byte range of a Range header, as segments from a store without files answer it."""

from __future__ import annotations

import pytest

from camloft.webapi.ranges import RangeNotSatisfiable, single_range


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("bytes=0-99", (0, 100)),
        ("bytes=188-499", (188, 500)),
        ("bytes=900-", (900, 1000)),
        ("bytes=900-5000", (900, 1000)),
        ("bytes=-10", (990, 1000)),
        ("bytes=-5000", (0, 1000)),
        ("bytes = 1-2", (1, 3)),
        ("bytes=0-1,5-6", None),  # several ranges: the whole, which a server may answer
        ("items=0-1", None),
        ("bytes=-", None),
        ("bytes=5-1", None),
        ("garbage", None),
    ],
)
def test_single_range(header: str | None, expected: tuple[int, int] | None) -> None:
    assert single_range(header, 1000) == expected


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=5000-6000", "bytes=-0"])
def test_unsatisfiable(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable):
        single_range(header, 1000)
