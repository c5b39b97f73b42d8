"""One byte range of a `Range` header (RFC 9110 §14), for answers made from bytes.

Starlette's `FileResponse` answers Range requests for files. A blob with no
local file (the S3 store) is answered from bytes instead, and `single_range`
says which bytes: one range of `bytes=a-b`, `bytes=a-` or `bytes=-n`. A
header it does not take (several ranges, another unit, a malformed one) asks
for the whole, which a server may always answer with a 200. A range that
starts at or past the end cannot be satisfied: 416.
"""

from __future__ import annotations

import re

_ONE_RANGE = re.compile(r"bytes=(\d*)-(\d*)")


class RangeNotSatisfiable(Exception):
    """The range starts past the end: answer 416 with `Content-Range: bytes */<size>`."""


def single_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, stop) of the one range asked for, stop exclusive; None for the whole."""
    if header is None:
        return None
    found = _ONE_RANGE.fullmatch(header.strip().replace(" ", ""))
    if found is None or found.groups() == ("", ""):
        return None
    first, last = found.groups()
    if not first:  # the last n bytes
        length = int(last)
        if length == 0:
            raise RangeNotSatisfiable
        return max(0, size - length), size
    start = int(first)
    if start >= size:
        raise RangeNotSatisfiable
    stop = size if not last else min(int(last) + 1, size)
    if stop <= start:  # a-b with b < a: not a valid range, so the whole
        return None
    return start, stop
