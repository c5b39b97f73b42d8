"""The text of recorded-video playlists: each test's docstring names the rule it protects."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from camloft.media.playlist import program_date_time, recorded_playlist, target_duration

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20.000Z


@dataclass(frozen=True)
class Seg:
    start_ms: int
    duration_ms: int


def contiguous(*durations: int, start: int = T0) -> list[Seg]:
    segments = []
    for duration in durations:
        segments.append(Seg(start, duration))
        start += duration
    return segments


def name(segment: Seg) -> str:
    return f"seg_1.2_{segment.start_ms}.ts?token=abc"


def tags(text: str, prefix: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_finished_recording_is_a_whole_vod_playlist() -> None:
    """A finished event: the header lines in order, VOD, one EXTINF and URI per segment,
    and EXT-X-ENDLIST last."""
    text = recorded_playlist(contiguous(2000, 2000), name, finished=True)
    assert text == (
        "#EXTM3U\n"
        "#EXT-X-VERSION:3\n"
        "#EXT-X-TARGETDURATION:2\n"
        "#EXT-X-MEDIA-SEQUENCE:0\n"
        "#EXT-X-PLAYLIST-TYPE:VOD\n"
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:20.000Z\n"
        "#EXTINF:2.000,\n"
        f"seg_1.2_{T0}.ts?token=abc\n"
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:22.000Z\n"
        "#EXTINF:2.000,\n"
        f"seg_1.2_{T0 + 2000}.ts?token=abc\n"
        "#EXT-X-ENDLIST\n"
    )


def test_recording_event_has_no_endlist() -> None:
    """An event still recording is an EVENT playlist without EXT-X-ENDLIST, so players reload
    it."""
    text = recorded_playlist(contiguous(2000), name, finished=False)
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in text.splitlines()
    assert "#EXT-X-ENDLIST" not in text
    assert "VOD" not in text


def test_target_duration_is_the_longest_segment_rounded_up() -> None:
    """RFC 8216 4.3.3.1: every EXTINF rounded to the nearest integer must not exceed the target
    duration, so the longest is rounded up, never to the nearest."""
    assert target_duration(contiguous(2000, 2100, 1900)) == 3
    assert target_duration(contiguous(2000)) == 2
    assert target_duration(contiguous(300)) == 1
    text = recorded_playlist(contiguous(2000, 2001), name, finished=True)
    assert tags(text, "#EXT-X-TARGETDURATION") == ["#EXT-X-TARGETDURATION:3"]


def test_extinf_keeps_milliseconds() -> None:
    """EXTINF is a decimal with ms (version 3), so the playlist's length is the recording's."""
    text = recorded_playlist(contiguous(2067, 1933), name, finished=True)
    assert tags(text, "#EXTINF") == ["#EXTINF:2.067,", "#EXTINF:1.933,"]


def test_a_gap_gets_a_discontinuity_before_the_later_segment() -> None:
    """EXT-X-DISCONTINUITY goes right before a segment that does not start where the previous
    ended, and nowhere else."""
    segments = [*contiguous(2000, 2000), *contiguous(2000, 2000, start=T0 + 60_000)]
    lines = recorded_playlist(segments, name, finished=True).splitlines()
    assert lines.count("#EXT-X-DISCONTINUITY") == 1
    at = lines.index("#EXT-X-DISCONTINUITY")
    assert lines[at + 1 : at + 4] == [
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:14:20.000Z",
        "#EXTINF:2.000,",
        f"seg_1.2_{T0 + 60_000}.ts?token=abc",
    ]


def test_an_overlap_or_a_one_ms_gap_is_a_discontinuity_too() -> None:
    """Consecutive segments of one recording meet exactly: any other start (earlier, or later by
    one ms) is a new clock for the player."""
    overlapping = [Seg(T0, 2000), Seg(T0 + 1500, 2000)]
    one_ms_late = [Seg(T0, 2000), Seg(T0 + 2001, 2000)]
    for segments in (overlapping, one_ms_late):
        text = recorded_playlist(segments, name, finished=True)
        assert text.count("#EXT-X-DISCONTINUITY") == 1
    assert "DISCONTINUITY" not in recorded_playlist(
        contiguous(1999, 2001, 2000), name, finished=True
    )


def test_program_date_time_is_utc_iso_8601_with_ms() -> None:
    """PROGRAM-DATE-TIME is the segment's wall-clock start in UTC with ms, never local time."""
    assert program_date_time(T0 + 7) == "2023-11-14T22:13:20.007Z"
    assert program_date_time(T0 + 999) == "2023-11-14T22:13:20.999Z"
    assert program_date_time(0) == "1970-01-01T00:00:00.000Z"
    text = recorded_playlist(contiguous(2000, start=T0 + 1234), name, finished=True)
    assert tags(text, "#EXT-X-PROGRAM-DATE-TIME") == [
        "#EXT-X-PROGRAM-DATE-TIME:2023-11-14T22:13:21.234Z"
    ]


def test_uris_come_from_the_caller_one_line_each() -> None:
    """The URI is the caller's, verbatim; one that would break the line structure is refused."""
    text = recorded_playlist(contiguous(2000), lambda s: "a b?x=%2A", finished=True)
    assert "a b?x=%2A" in text.splitlines()
    with pytest.raises(ValueError, match="URI"):
        recorded_playlist(contiguous(2000), lambda s: "x.ts\n#EXT-X-ENDLIST", finished=False)
    with pytest.raises(ValueError, match="URI"):
        recorded_playlist(contiguous(2000), lambda s: "", finished=True)


def test_a_segment_without_length_is_refused() -> None:
    """A zero-length segment would give a player a division by zero: refused."""
    with pytest.raises(ValueError, match="positive"):
        recorded_playlist([Seg(T0, 0)], name, finished=True)


def test_media_sequence_is_zero_and_the_text_ends_in_a_newline() -> None:
    """The first segment of an event is number 0, and the playlist is whole lines."""
    text = recorded_playlist(contiguous(2000), name, finished=False)
    assert tags(text, "#EXT-X-MEDIA-SEQUENCE") == ["#EXT-X-MEDIA-SEQUENCE:0"]
    assert text.startswith("#EXTM3U\n#EXT-X-VERSION:3\n") and text.endswith("\n")
