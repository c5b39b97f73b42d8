"""The origin's streams in memory: the sliding window, sessions, waiting, and freeing."""

from __future__ import annotations

import asyncio

import pytest

from camloft.ids import DeviceRef
from camloft.live.streams import SPARE, WINDOW, LiveStream, LiveStreams, PushedSegment

pytestmark = pytest.mark.anyio

DEVICE = DeviceRef(1, 1)
T0 = 1_800_000_000_000
TS = b"\x47" + bytes(187)


def push(stream: LiveStream | LiveStreams, session: int, sequence: int, start_ms: int) -> bool:
    pushed = PushedSegment(session, sequence, start_ms, 1000, TS, independent=True)
    if isinstance(stream, LiveStreams):
        return stream.add(DEVICE, pushed)
    return stream.add(pushed)


def uri(segment: object) -> str:
    return f"media_{segment.media_sequence}.ts"  # type: ignore[attr-defined]


async def test_the_playlist_slides_and_memory_stays_bounded() -> None:
    stream = LiveStream(DEVICE)
    for n in range(100):
        push(stream, T0, n, T0 + n * 1000)
    assert len(stream.segments) == WINDOW + SPARE
    assert stream.bytes_held == (WINDOW + SPARE) * len(TS)
    text = stream.playlist(uri)
    assert f"#EXT-X-MEDIA-SEQUENCE:{100 - WINDOW}" in text
    assert text.count("#EXTINF:1.000,") == WINDOW
    assert text.rstrip().endswith("media_99.ts")
    assert "#EXT-X-ENDLIST" not in text
    assert "#EXT-X-TARGETDURATION:1" in text
    assert "#EXT-X-INDEPENDENT-SEGMENTS" not in text  # a session's second segment is not


async def test_a_retried_push_is_taken_once() -> None:
    stream = LiveStream(DEVICE)
    assert push(stream, T0, 0, T0)
    assert not push(stream, T0, 0, T0)
    assert push(stream, T0, 1, T0 + 1000)
    assert not push(stream, T0, 0, T0)
    assert [s.media_sequence for s in stream.segments] == [0, 1]


async def test_new_sessions_and_gaps_are_discontinuities() -> None:
    stream = LiveStream(DEVICE)
    push(stream, T0, 0, T0)
    push(stream, T0, 1, T0 + 1000)
    push(stream, T0, 3, T0 + 3000)  # 2 was dropped on the way
    push(stream, T0 + 9000, 0, T0 + 9000)  # a new session
    text = stream.playlist(uri)
    assert text.count("#EXT-X-DISCONTINUITY\n") == 2
    assert [s.media_sequence for s in stream.segments] == [0, 1, 2, 3]
    for n in range(4, 4 + WINDOW + SPARE):
        push(stream, T0 + 9000, n - 3, T0 + 9000 + (n - 3) * 1000)
    # Both slid out of the window: the count moves to the playlist's header.
    assert "#EXT-X-DISCONTINUITY-SEQUENCE:2" in stream.playlist(uri)


async def test_an_ended_stream_says_so_and_is_freed_later() -> None:
    now = [0.0]
    streams = LiveStreams(idle_seconds=15, ended_keep_seconds=30, clock=lambda: now[0])
    push(streams, T0, 0, T0)
    streams.end(DEVICE, T0 + 1)  # another session's end: not this one's
    stream = streams.get(DEVICE)
    assert stream is not None and not stream.ended
    streams.end(DEVICE, T0)
    assert stream.ended and stream.playlist(uri).rstrip().endswith("#EXT-X-ENDLIST")
    now[0] = 29
    assert streams.sweep() == 0
    now[0] = 31
    assert streams.sweep() == 1
    assert streams.get(DEVICE) is None


async def test_a_stream_that_goes_quiet_ends_then_frees() -> None:
    now = [0.0]
    streams = LiveStreams(idle_seconds=15, ended_keep_seconds=30, clock=lambda: now[0])
    push(streams, T0, 0, T0)
    now[0] = 16
    streams.sweep()
    stream = streams.get(DEVICE)
    assert stream is not None and stream.ended
    now[0] = 47
    streams.sweep()
    assert streams.all() == []


async def test_a_reader_waits_for_the_first_segment_and_for_the_next() -> None:
    streams = LiveStreams()

    async def later() -> None:
        await asyncio.sleep(0.2)
        push(streams, T0, 0, T0)
        await asyncio.sleep(0.2)
        push(streams, T0, 1, T0 + 1000)

    task = asyncio.create_task(later())
    assert await streams.wait_for_stream(DEVICE, 0.05) is None
    stream = await streams.wait_for_stream(DEVICE, 2)
    assert stream is not None and stream.newest_sequence == 0
    assert await stream.wait_for(lambda: stream.newest_sequence == 1, 2)
    assert not await stream.wait_for(lambda: stream.newest_sequence == 2, 0.1)
    await task


async def test_a_new_session_after_the_end_starts_with_an_empty_window() -> None:
    stream = LiveStream(DEVICE)
    for n in range(5):
        push(stream, T0, n, T0 + n * 1000)
    stream.end(T0)
    push(stream, T0 + 20_000, 0, T0 + 20_000)
    text = stream.playlist(uri)
    assert uris_of(text) == ["media_5.ts"] and "#EXT-X-ENDLIST" not in text
    assert "#EXT-X-MEDIA-SEQUENCE:5" in text and "#EXT-X-DISCONTINUITY-SEQUENCE:1" in text


def uris_of(text: str) -> list[str]:
    return [line for line in text.splitlines() if line and not line.startswith("#")]
