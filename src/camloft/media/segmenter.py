"""Cutting a camera's stream into MPEG-TS segments by stream copy.

This module owns one thing: turning the packets of an opened PyAV input
(`av.open(rtsp_url)`, a file, a file-like object) into `Segment`s, without
decoding or encoding anything. Each segment starts at a video key frame and
ends at the first key frame at or after `target_seconds` since its start; the
packets' data is muxed unchanged into a fresh in-memory MPEG-TS file (their
timestamps all move by the muxer's constant offset, as with ffmpeg), so each
segment plays on its own (the MPEG-TS muxer repeats the SPS/PPS before key
frames when the input carries them only out of band, as RTSP does). The AAC
audio of the input, if any, goes into the segment that is open when its packet
is read. Other audio codecs are left out: segments are H.264/AAC.

Time: the first video packet's pts is mapped to `clock()` at the moment it is
read, and every later segment's start follows from pts and the stream's time
base, so start times are exact relative to each other
(`next.start_ms == prev.end_ms`). A video packet whose dts goes backwards (a
camera restart, a wrap of the 33-bit MPEG-TS clock) or jumps forward by more
than `MAX_GAP_SECONDS` closes the open segment at its last packet's end and
starts a new timeline, anchored at `clock()` at its next key frame.

Dropped on purpose, never muxed: packets without pts or dts (demuxer flush
packets), packets before the first video key frame (of the run, or of a new
timeline), audio before any segment is open, and packets whose dts does not
increase within their stream (the muxer would refuse them).

What happens to a finished segment (upload, pre-roll, live playlist) is the
business of the `on_segment` callback, called on the thread that runs
`Segmenter.run`. `on_packet`, if given, sees every packet that goes into a
segment, with its wall-clock ms, before it is muxed: motion and sound
analysis decode from there, so the demux happens once.

A live input can be read in batches (`read_pause`, a
`camloft.media.batching.ReadPause`): after a read that waited for the
network, the loop rests before the next. Times are unchanged, as they follow
from pts, except that a timeline started after a jump may be anchored up to a
rest late; the first timeline is not (no rest until it is anchored).
"""

from __future__ import annotations

import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction

import av
from av.audio.stream import AudioStream
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

from camloft.media.batching import WAITED_S, ReadPause
from camloft.media.segment import Segment

log = logging.getLogger(__name__)

#: A forward jump of the video dts larger than this starts a new timeline.
MAX_GAP_SECONDS = 10.0

_AUDIO_CODECS = frozenset({"aac"})

# As ffmpeg's own segment and HLS muxers do (its `-muxdelay 0.7`): AAC frames are
# gathered into fewer PES packets (segments about 2.5% smaller than with one PES
# per frame), and the MPEG-TS muxer shifts every timestamp by the same 1.4 s so
# that its PCR stays ahead of them.
_MUX_OPTIONS = {"max_delay": "700000"}


@dataclass
class _OpenSegment:
    """The segment being muxed: its output and where it lies on the pts axis."""

    buffer: io.BytesIO
    output: OutputContainer
    video: VideoStream
    audio: AudioStream | None
    timeline: tuple[int, float]  # (pts, wall-clock ms) that anchor its timeline
    start_pts: int
    end_pts: int  # the end (pts + duration) of its latest video packet
    last_audio_dts: int | None = None
    audio_packets: int = 0


class Segmenter:
    """Cuts the video (and AAC audio) of `container` into segments, handed to `on_segment`.

    `run()` is a blocking loop meant for one thread per camera; `stop` ends it
    between two packets (a blocking read of the input is not interrupted: open
    network inputs with a `timeout`).
    """

    def __init__(
        self,
        container: InputContainer,
        on_segment: Callable[[Segment], None],
        *,
        target_seconds: float = 2.0,
        clock: Callable[[], float] = time.time,
        on_packet: Callable[[Packet[Stream], int], None] | None = None,
        read_pause: ReadPause | None = None,
    ) -> None:
        if target_seconds <= 0:
            raise ValueError(f"target_seconds must be positive, not {target_seconds}")
        if not container.streams.video:
            raise ValueError("the input has no video stream")
        self._container = container
        self._on_segment = on_segment
        self._on_packet = on_packet
        self._clock = clock
        self._read_pause = read_pause
        self._video: VideoStream = container.streams.video[0]
        self._audio: AudioStream | None = next(
            (s for s in container.streams.audio if s.codec_context.name in _AUDIO_CODECS), None
        )
        self._time_base: Fraction = self._video.time_base or Fraction(1, 90_000)
        # For `on_packet`'s times, in floats: Fraction arithmetic for every packet costs more.
        self._ms_per_tick = float(self._time_base) * 1000
        audio_base = self._audio.time_base if self._audio is not None else None
        self._audio_ms_per_tick = float(audio_base) * 1000 if audio_base else 0.0
        self._target_pts = int(target_seconds / self._time_base)
        self._max_gap_pts = int(MAX_GAP_SECONDS / self._time_base)
        rate = self._video.guessed_rate or self._video.average_rate
        # The length of a frame whose packet carries no duration (common over RTSP).
        self._frame_pts = max(1, round(1 / (rate * self._time_base))) if rate else 1

        self._timeline: tuple[int, float] | None = None  # (pts, wall-clock ms) of its anchor
        self._last_video_dts: int | None = None
        self._current: _OpenSegment | None = None
        self._sequence = 0

    @property
    def width(self) -> int:
        return self._video.width

    @property
    def height(self) -> int:
        return self._video.height

    @property
    def has_audio(self) -> bool:
        """True when the input has AAC audio, which then goes into the segments."""
        return self._audio is not None

    def run(self, stop: threading.Event | None = None) -> None:
        """Demux until the input ends or `stop` is set, then hand over the last partial segment.

        If reading the input fails, the partial segment is handed over too before
        the error propagates: what was received is kept.
        """
        streams: list[Stream] = [self._video]
        if self._audio is not None:
            streams.append(self._audio)
        packets = self._container.demux(streams)
        video_index = self._video.index
        pause = self._read_pause
        timed = pause is not None and pause.seconds > 0
        clock = time.monotonic
        waited = False
        while stop is None or not stop.is_set():
            if timed:
                started = clock()
            try:
                packet = next(packets)
            except StopIteration:
                break
            except (av.error.FFmpegError, OSError):  # the camera or the network failed
                self._finish_at_last_packet()
                raise
            if timed:
                waited = clock() - started > WAITED_S
            pts, dts = packet.pts, packet.dts
            if pts is not None and dts is not None:
                if packet.stream_index == video_index:
                    self._on_video(packet, pts, dts)
                else:
                    self._on_audio(packet, dts)
            # Not before the timeline is anchored: its anchor is the clock when read.
            if waited and pause is not None and self._timeline is not None:
                pause.rest()
        self._finish_at_last_packet()

    def _on_video(self, packet: Packet[Stream], pts: int, dts: int) -> None:
        last = self._last_video_dts
        if last is not None and dts == last:
            log.debug("dropped a video packet repeating dts %d", dts)
            return
        if last is not None and (dts < last or dts - last > self._max_gap_pts):
            log.info("video timestamps jumped from %d to %d: a new timeline starts", last, dts)
            self._finish_at_last_packet()
            self._timeline = None
        self._last_video_dts = dts

        current = self._current
        if current is None:
            if not packet.is_keyframe:
                return
            current = self._open(pts)
        elif packet.is_keyframe and pts - current.start_pts >= self._target_pts:
            self._finish(current, end_pts=pts)
            current = self._open(pts)

        end_pts = pts + (packet.duration or self._frame_pts)
        if end_pts > current.end_pts:
            current.end_pts = end_pts
        if self._on_packet is not None:
            anchor_pts, anchor_ms = current.timeline
            self._on_packet(packet, round(anchor_ms + (pts - anchor_pts) * self._ms_per_tick))
        packet.stream = current.video
        current.output.mux_one(packet)

    def _on_audio(self, packet: Packet[Stream], dts: int) -> None:
        current = self._current
        if current is None or current.audio is None:
            return
        if current.last_audio_dts is not None and dts <= current.last_audio_dts:
            log.debug("dropped an audio packet with non-increasing dts %d", dts)
            return
        current.last_audio_dts = dts
        current.audio_packets += 1
        if self._on_packet is not None and packet.pts is not None and self._audio_ms_per_tick:
            anchor_pts, anchor_ms = current.timeline
            self._on_packet(
                packet,
                round(
                    anchor_ms
                    + packet.pts * self._audio_ms_per_tick
                    - anchor_pts * self._ms_per_tick
                ),
            )
        packet.stream = current.audio
        current.output.mux_one(packet)

    def _open(self, start_pts: int) -> _OpenSegment:
        if self._timeline is None:
            self._timeline = (start_pts, self._clock() * 1000.0)
        buffer = io.BytesIO()
        output = av.open(buffer, "w", format="mpegts", options=_MUX_OPTIONS)
        video = output.add_stream_from_template(self._video)
        audio = output.add_stream_from_template(self._audio) if self._audio is not None else None
        self._current = _OpenSegment(
            buffer, output, video, audio, self._timeline, start_pts, end_pts=start_pts
        )
        return self._current

    def _finish_at_last_packet(self) -> None:
        if self._current is not None:
            self._finish(self._current, end_pts=self._current.end_pts)

    def _finish(self, current: _OpenSegment, *, end_pts: int) -> None:
        current.output.close()
        self._current = None
        start_ms = _wall_ms(current.timeline, current.start_pts, self._time_base)
        segment = Segment(
            start_ms=start_ms,
            duration_ms=_wall_ms(current.timeline, end_pts, self._time_base) - start_ms,
            data=current.buffer.getvalue(),
            sequence=self._sequence,
            has_audio=current.audio_packets > 0,
        )
        self._sequence += 1
        self._on_segment(segment)


def _wall_ms(timeline: tuple[int, float], pts: int, time_base: Fraction) -> int:
    """Wall-clock ms of `pts` on a timeline, rounded the same way for every pts."""
    anchor_pts, anchor_ms = timeline
    return round(anchor_ms + float((pts - anchor_pts) * time_base * 1000))
