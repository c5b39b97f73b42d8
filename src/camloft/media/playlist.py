"""HLS media playlists (RFC 8216): of recorded video, and of live streams (`live_playlist`).

The text is all this module owns; where a segment's URI points is the caller's
business (`uri`). The rules each playlist follows:

- `#EXT-X-VERSION:3`: decimal `#EXTINF` durations (ms precision).
- `#EXT-X-TARGETDURATION` is the longest segment rounded up to whole seconds
  (RFC 8216 4.3.3.1: every `EXTINF`, rounded to the nearest integer, must not
  exceed it).
- `#EXT-X-MEDIA-SEQUENCE:0`: the playlist of an event starts at its first segment
  and only grows.
- A finished recording is `#EXT-X-PLAYLIST-TYPE:VOD` and ends in
  `#EXT-X-ENDLIST`; one still recording is `EVENT` without `ENDLIST`, so a player
  reloads it and sees the segments that arrive meanwhile.
- `#EXT-X-DISCONTINUITY` goes before every segment that does not start exactly
  where the previous one ended (a gap, an overlap, a new camera clock): the
  segmenter makes consecutive segments of one recording meet to the ms.
- `#EXT-X-PROGRAM-DATE-TIME` (ISO 8601, UTC, ms) before every segment: its
  wall-clock start, so a player can show when the picture was taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Protocol, TypeVar

MIME_TYPE = "application/vnd.apple.mpegurl"


class Timed(Protocol):
    """A segment as the index knows it: its wall-clock start and its length, in ms."""

    @property
    def start_ms(self) -> int: ...

    @property
    def duration_ms(self) -> int: ...


T = TypeVar("T", bound=Timed)


def program_date_time(ms: int) -> str:
    """`2023-11-14T22:13:20.000Z`: ms since the epoch as ISO 8601 UTC with ms."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def target_duration(segments: Sequence[Timed]) -> int:
    """The longest segment in whole seconds, rounded up; at least 1."""
    longest = max((s.duration_ms for s in segments), default=1000)
    return max(1, math.ceil(longest / 1000))


def recorded_playlist(segments: Sequence[T], uri: Callable[[T], str], *, finished: bool) -> str:
    """The playlist of `segments` (oldest first), each addressed by `uri(segment)`.

    `finished` is False while the recording goes on: the playlist is then an
    `EVENT` one without `EXT-X-ENDLIST`.
    """
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target_duration(segments)}",
        "#EXT-X-MEDIA-SEQUENCE:0",
        f"#EXT-X-PLAYLIST-TYPE:{'VOD' if finished else 'EVENT'}",
    ]
    previous_end: int | None = None
    for segment in segments:
        if segment.duration_ms <= 0:
            raise ValueError(f"a segment lasts a positive time, not {segment.duration_ms} ms")
        address = uri(segment)
        if not address or any(c in address for c in "\r\n"):
            raise ValueError(f"not a playlist URI: {address!r}")
        if previous_end is not None and segment.start_ms != previous_end:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{program_date_time(segment.start_ms)}")
        lines.append(f"#EXTINF:{segment.duration_ms / 1000:.3f},")
        lines.append(address)
        previous_end = segment.start_ms + segment.duration_ms
    if finished:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


class LiveEntry(Timed, Protocol):
    """A segment of a live playlist: its media sequence number, and whether a
    discontinuity comes before it."""

    @property
    def media_sequence(self) -> int: ...

    @property
    def discontinuity(self) -> bool: ...


L = TypeVar("L", bound=LiveEntry)


def live_playlist(
    segments: Sequence[L],
    uri: Callable[[L], str],
    *,
    target_seconds: int,
    discontinuity_sequence: int,
    ended: bool,
    can_block_reload: bool = True,
) -> str:
    """The sliding-window playlist of a live stream (RFC 8216 6.2.2), oldest segment first.

    `target_seconds` must stay the same for the life of the stream (the
    caller keeps the largest seen); `discontinuity_sequence` counts the
    discontinuities that slid out of the window. With `can_block_reload` the
    server promises to hold a reload that asks for a segment not yet there
    (`_HLS_msn`, RFC 8216bis 6.2.5.2), so a player learns of a segment the
    moment it exists. An ended stream gets `#EXT-X-ENDLIST`.
    """
    first = segments[0].media_sequence if segments else 0
    lines = [
        "#EXTM3U",
        "#EXT-X-VERSION:6" if can_block_reload else "#EXT-X-VERSION:3",
        f"#EXT-X-TARGETDURATION:{target_seconds}",
    ]
    if can_block_reload:
        lines.append("#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES")
    lines += [
        f"#EXT-X-MEDIA-SEQUENCE:{first}",
        f"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuity_sequence}",
    ]
    for index, segment in enumerate(segments):
        address = uri(segment)
        if not address or any(c in address for c in "\r\n"):
            raise ValueError(f"not a playlist URI: {address!r}")
        if segment.discontinuity and index > 0:
            lines.append("#EXT-X-DISCONTINUITY")
        lines.append(f"#EXT-X-PROGRAM-DATE-TIME:{program_date_time(segment.start_ms)}")
        lines.append(f"#EXTINF:{segment.duration_ms / 1000:.3f},")
        lines.append(address)
    if ended:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"
