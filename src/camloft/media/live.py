"""Cutting a camera's packets into short live HLS segments, only while someone watches.

What this module owns: `LiveCutter`, which the camera's thread hands every
packet the recording segmenter takes (`feed`, the segmenter's `on_packet`
hook), and `LiveSegment`, what it makes. Nothing is decoded or encoded: the
packets are muxed unchanged into fresh in-memory MPEG-TS files, as the
recording segmenter does, but cut at every video key frame (a camera's key
frame interval, typically 1-2 s), since a live viewer waits for each one.

While nobody watches, the cutter only remembers the packets since the last
video key frame (references to the demuxer's packets, no copy): its *GOP
buffer*. `start()` (any thread) asks for live segments; at the next packet
the cutter muxes the GOP buffer into a first segment and hands it over at
once, so a viewer gets a picture without waiting for the camera's next key
frame (with `from_buffer=False` it waits for that key frame instead). That
first segment starts with a key frame; the one after it continues the same
group of pictures up to the next key frame, so it is not independently
decodable (the playlist must not claim `EXT-X-INDEPENDENT-SEGMENTS`; a player
plays it after the first, as HLS players do); when less than
`MIN_CONTINUATION_MS` of that group was left, it runs on to the key frame
after, so there is no segment of a frame or two. Every later segment starts
with a key frame. A group longer than `max_segment_seconds` is cut there too.
`stop()` ends the session: the open segment is handed over, marked `last`;
`restart()` ends it and begins a new one at the same packet.

`LiveSegment.sequence` counts from 0 within a session; `session` is the
session's start in ms, so a retried upload is recognised and a new session
is told from an old one. Not thread-safe except `start`, `stop`,
`restart` and `active`: one thread feeds.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import av
from av.audio.stream import AudioStream
from av.container import OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

log = logging.getLogger(__name__)

MAX_SEGMENT_SECONDS = 4.0
# The rest of the buffered group of pictures shorter than this goes on into the next
# group rather than make a segment of a frame or two (players stall on those).
MIN_CONTINUATION_MS = 500
# A GOP buffer can never hold more than this (a camera that sends no key frame).
MAX_BUFFERED_PACKETS = 2000
_MUX_OPTIONS = {"max_delay": "700000"}  # as the recording segmenter (camloft.media.segmenter)


@dataclass(frozen=True, slots=True)
class LiveSegment:
    """One live MPEG-TS segment of a session."""

    session: int  # the session's start, ms since the epoch
    sequence: int  # 0, 1, 2 ... within the session
    start_ms: int  # wall-clock capture time of its first video packet
    duration_ms: int
    data: bytes
    independent: bool  # starts with a key frame: decodable on its own
    last: bool = False  # the session ends with it


@dataclass
class _Open:
    buffer: io.BytesIO
    output: OutputContainer
    video: VideoStream
    audio: AudioStream | None
    start_ms: int
    independent: bool
    end_ms: int
    last_audio_dts: int | None = None


@dataclass
class _Session:
    started_ms: int
    sequence: int = 0
    current: _Open | None = None


class LiveCutter:
    """Cuts the packets of one camera's video (and AAC audio) stream into `LiveSegment`s."""

    def __init__(
        self,
        video: VideoStream,
        audio: AudioStream | None,
        on_segment: Callable[[LiveSegment], None],
        *,
        from_buffer: bool = True,
        max_segment_seconds: float = MAX_SEGMENT_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._video_template = video
        self._audio_template = audio
        self._video_index = video.index
        self._audio_index = audio.index if audio is not None else None
        rate = video.guessed_rate or video.average_rate
        self._frame_ms = round(1000 / rate) if rate else 67
        self._on_segment = on_segment
        self._from_buffer = from_buffer
        self._max_segment_ms = round(max_segment_seconds * 1000)
        self._clock = clock
        # Since the last video key frame: (packet, capture ms, is video). Muxing moves a
        # packet to the output's stream, so its kind is kept beside it.
        self._gop: list[tuple[Packet[Stream], int, bool]] = []
        self._wanted = False  # set by any thread
        self._restart = False
        self._session: _Session | None = None  # the camera thread's

    # -- any thread

    def start(self) -> None:
        """Ask for live segments from the next packet on (no-op while streaming)."""
        self._wanted = True

    def stop(self) -> None:
        """End the session at the next packet (its open segment is handed over)."""
        self._wanted = False

    def restart(self) -> None:
        """End the session at the next packet and start a new one there (a new origin)."""
        self._restart = True
        self._wanted = True

    @property
    def active(self) -> bool:
        """Whether live segments are wanted."""
        return self._wanted

    # -- the camera's thread

    def feed(self, packet: Packet[Stream], at_ms: int) -> None:
        """Take one packet that went into the recording, with its capture time (ms)."""
        index = packet.stream_index
        is_video = index == self._video_index
        if not is_video and index != self._audio_index:
            return
        session = self._session
        if session is not None and self._restart:
            self._restart = False
            self._end(session)
            session = None
        if session is None and self._wanted:
            session = self._begin(is_video and packet.is_keyframe)
        elif session is not None and not self._wanted:
            self._end(session)
            session = None
        if is_video and packet.is_keyframe:
            self._gop.clear()
        started = self._gop or (is_video and packet.is_keyframe)
        if started and len(self._gop) < MAX_BUFFERED_PACKETS:
            self._gop.append((packet, at_ms, is_video))
        if session is None:
            return
        current = session.current
        if is_video:
            if current is None:
                if not packet.is_keyframe:
                    return  # waiting for the first key frame of a session not from the buffer
                current = self._open(session, at_ms, independent=True)
            elif (
                packet.is_keyframe
                and (current.independent or at_ms - current.start_ms >= MIN_CONTINUATION_MS)
            ) or at_ms - current.start_ms >= self._max_segment_ms:
                self._finish(session, current, end_ms=at_ms)
                current = self._open(session, at_ms, independent=packet.is_keyframe)
            current.end_ms = max(current.end_ms, at_ms + self._frame_ms)
        elif current is None:
            return
        self._mux(current, packet, is_video)

    def close(self) -> None:
        """The input ended: hand over the open segment (the session goes on at the next input)."""
        session = self._session
        if session is not None and session.current is not None:
            self._finish(session, session.current, end_ms=session.current.end_ms)
        self._gop.clear()

    def _begin(self, at_key_frame: bool) -> _Session:
        session = _Session(started_ms=round(self._clock() * 1000))
        self._session = session
        if self._from_buffer and self._gop and not at_key_frame:
            first_ms = self._gop[0][1]
            current = self._open(session, first_ms, independent=True)
            for packet, at_ms, is_video in self._gop:
                if is_video:
                    current.end_ms = max(current.end_ms, at_ms + self._frame_ms)
                self._mux(current, packet, is_video)
            # Handed over at once; the next packets continue this group of pictures.
            self._finish(session, current, end_ms=current.end_ms)
            self._open(session, current.end_ms, independent=False)
        return session

    def _end(self, session: _Session) -> None:
        current = session.current
        if current is not None:
            self._finish(session, current, end_ms=current.end_ms, last=True)
        else:
            self._on_segment(
                LiveSegment(session.started_ms, session.sequence, 0, 0, b"", False, last=True)
            )
        self._session = None

    def _open(self, session: _Session, start_ms: int, *, independent: bool) -> _Open:
        buffer = io.BytesIO()
        output = av.open(buffer, "w", format="mpegts", options=_MUX_OPTIONS)
        video = output.add_stream_from_template(self._video_template)
        audio = (
            output.add_stream_from_template(self._audio_template)
            if self._audio_template is not None
            else None
        )
        session.current = _Open(buffer, output, video, audio, start_ms, independent, start_ms)
        return session.current

    def _mux(self, current: _Open, packet: Packet[Stream], is_video: bool) -> None:
        if is_video:
            packet.stream = current.video
        else:
            if current.audio is None or packet.dts is None:
                return
            if current.last_audio_dts is not None and packet.dts <= current.last_audio_dts:
                return
            current.last_audio_dts = packet.dts
            packet.stream = current.audio
        current.output.mux_one(packet)

    def _finish(
        self, session: _Session, current: _Open, *, end_ms: int, last: bool = False
    ) -> None:
        current.output.close()
        session.current = None
        segment = LiveSegment(
            session=session.started_ms,
            sequence=session.sequence,
            start_ms=current.start_ms,
            duration_ms=max(1, end_ms - current.start_ms),
            data=current.buffer.getvalue(),
            independent=current.independent,
            last=last,
        )
        session.sequence += 1
        self._on_segment(segment)
