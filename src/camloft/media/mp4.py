"""One MP4 from recorded MPEG-TS segments, by stream copy, streamed as it is made.

`remux_fmp4(parts, sink)` demuxes the segments in order and muxes their
packets, unchanged, into a fragmented MP4 (`frag_keyframe+empty_moov+
default_base_moof`: the header goes out first and every video key frame starts
a fragment that is written when it is complete), so nothing needs a seek and
the file never exists whole. Nothing is decoded or encoded. Two bitstream
changes are the container's, not the codecs': the MP4 muxer turns H.264 from
Annex B into length-prefixed NAL units, and AAC loses its ADTS headers
(`aac_adtstoasc`), their AudioSpecificConfig going into the header.

Timestamps. The MP4 plays straight through: each segment is placed where the
previous one ended. When a segment continues the previous one's clock (the
segmenter cut them from one input: its first video pts is within
`CONTINUITY_TOLERANCE_MS` of where the previous one ended), the same shift
carries over and the source timing is kept exactly; otherwise (a gap, a camera
restart, a clock wrap) its first video frame is placed at the previous
segment's end, as its indexed duration gives it, so gaps are closed. No dts
may go back within a stream: a segment whose video would overlap the previous
one's is pushed later, and audio packets that would overlap are dropped.

Streams. The video of the first segment, and its AAC audio if any of the first
`AUDIO_LOOKAHEAD` segments has audio packets (the header must carry the audio
config before the first packet is written). Audio of a later segment whose
export has none, other audio codecs, and packets without timestamps are left
out. A segment that cannot be read (gone from disk, not MPEG-TS) is skipped
with a warning; the export goes on.

Sources. A part is read from its file, or, when it has a `fetch` (a blob store
without local files, such as S3), from the bytes that `fetch` returns on the
remux thread when the part's turn comes. Either way a segment is demuxed whole
and let go of once muxed, so at most `AUDIO_LOOKAHEAD` + 1 segments are held.

`stream_fmp4(parts)` runs that in one named thread and hands the bytes to
asyncio through a bounded queue (`max_chunks` writes of at most
`CHUNK_BYTES`), so memory stays bounded whatever the length and a slow client
slows the remux down. Closing the iterator (the client went away) stops the
thread at its next write.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import threading
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import anyio
import anyio.to_thread
import av
from av.audio.stream import AudioStream
from av.bitstream import BitStreamFilterContext
from av.container import InputContainer, OutputContainer
from av.packet import Packet
from av.stream import Stream
from av.video.stream import VideoStream

log = logging.getLogger(__name__)

MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
#: A segment whose first frame is this close to where the previous one ended continues it.
CONTINUITY_TOLERANCE_MS = 2
#: How many segments are read ahead to learn whether the export has audio.
AUDIO_LOOKAHEAD = 3
#: The size of the muxer's write buffer: the largest chunk handed to the sink.
CHUNK_BYTES = 64 * 1024
#: How many chunks may wait for the client before the remux pauses.
MAX_CHUNKS = 16
THREAD_NAME = "camloft-mp4-export"

_TICKS = Fraction(1, 90_000)  # the clock of MPEG-TS, in which shifts are counted


@dataclass(frozen=True, slots=True)
class ExportPart:
    """One recorded segment to export: its file and its indexed duration.

    With `fetch`, the segment is the bytes it returns (None: gone), and `path`
    only names it in the log.
    """

    path: Path
    duration_ms: int
    fetch: Callable[[], bytes | None] | None = None


class Sink(Protocol):
    def write(self, data: bytes, /) -> object: ...


class ExportStopped(Exception):
    """The reader of an export went away: the remux stops here, quietly."""


@dataclass
class _Loaded:
    """One segment, demuxed: its packets in file order, and where its video starts."""

    part: ExportPart
    container: InputContainer
    video: VideoStream
    audio: AudioStream | None
    packets: list[Packet[Stream]]
    zero: int = 0  # pts of its first video packet (a key frame), in _TICKS
    # By stream index: what turns a timestamp into _TICKS (None: it is in _TICKS already).
    scales: dict[int, Fraction | None] = field(default_factory=dict)

    def ticks(self, packet: Packet[Stream], value: int | None) -> int:
        """A timestamp of `packet` in _TICKS (computed once per stream: this is per packet)."""
        assert value is not None
        scale = self.scales[packet.stream_index]
        return value if scale is None else round(value * scale)

    def close(self) -> None:
        self.container.close()


@dataclass
class _Output:
    container: OutputContainer
    video: Stream
    audio: Stream | None
    adts: BitStreamFilterContext | None
    last_dts: dict[str, int] = field(default_factory=dict)  # by kind, in _TICKS
    video_step: int = 1  # the latest dts step of the video: one frame, in _TICKS
    shift: int = 0  # added to every timestamp of the current segment, in _TICKS
    previous: _Loaded | None = None


def remux_fmp4(
    parts: Iterable[ExportPart], sink: Sink, *, stop: threading.Event | None = None
) -> int:
    """Write the segments of `parts` to `sink` as one fragmented MP4; the count of segments used.

    Blocking: meant for a worker thread. `sink.write` may raise `ExportStopped`
    to end the export early (the exception propagates). Writes nothing when no
    segment can be read.
    """
    loaded = _read_all(parts)
    ahead: list[_Loaded] = []
    for segment in loaded:
        ahead.append(segment)
        if _audio_packets(segment) or len(ahead) >= AUDIO_LOOKAHEAD:
            break
    if not ahead:
        return 0
    output = _open_output(sink, ahead)
    used = 0
    try:
        for segment in _chain(ahead, loaded):
            try:
                if stop is not None and stop.is_set():
                    raise ExportStopped
                _mux_segment(output, segment)
                used += 1
            finally:
                segment.close()
    except BaseException:
        with contextlib.suppress(ExportStopped, av.error.FFmpegError):
            output.container.close()
        raise
    output.container.close()
    return used


def _chain(ahead: list[_Loaded], rest: Iterator[_Loaded]) -> Iterator[_Loaded]:
    yield from ahead
    yield from rest


def _read_all(parts: Iterable[ExportPart]) -> Iterator[_Loaded]:
    for part in parts:
        segment = _read(part)
        if segment is not None:
            yield segment


def _read(part: ExportPart) -> _Loaded | None:
    """Demux one segment whole (a segment is a few seconds), or None if it cannot be read."""
    try:
        if part.fetch is None:
            container = av.open(str(part.path), "r", format="mpegts")
        else:
            data = part.fetch()
            if data is None:
                raise FileNotFoundError(f"{part.path} is gone")
            container = av.open(io.BytesIO(data), "r", format="mpegts")
    except (av.error.FFmpegError, OSError) as err:
        log.warning("export skips segment %s: %s", part.path, err)
        return None
    try:
        if not container.streams.video:
            raise ValueError("no video stream")
        video = container.streams.video[0]
        audio = next((s for s in container.streams.audio if s.codec_context.name == "aac"), None)
        streams: list[Stream] = [video] if audio is None else [video, audio]
        packets = [p for p in container.demux(streams) if p.pts is not None and p.dts is not None]
        loaded = _Loaded(part, container, video, audio, packets)
        for stream in streams:
            base = stream.time_base or _TICKS
            loaded.scales[stream.index] = None if base == _TICKS else base / _TICKS
        first_video = next((p for p in packets if p.stream is video), None)
        if first_video is None:
            raise ValueError("no video packets")
        loaded.zero = loaded.ticks(first_video, first_video.pts)
    except (av.error.FFmpegError, OSError, ValueError) as err:
        container.close()
        log.warning("export skips segment %s: %s", part.path, err)
        return None
    return loaded


def _audio_packets(segment: _Loaded) -> list[Packet[Stream]]:
    return [p for p in segment.packets if segment.audio is not None and p.stream is segment.audio]


def _open_output(sink: Sink, ahead: list[_Loaded]) -> _Output:
    container = av.open(
        sink,
        "w",
        format="mp4",
        options={"movflags": MOVFLAGS, "flush_packets": "1"},
        buffer_size=CHUNK_BYTES,
    )
    video = container.add_stream_from_template(ahead[0].video)
    audio: Stream | None = None
    adts: BitStreamFilterContext | None = None
    with_audio = next((s for s in ahead if _audio_packets(s)), None)
    if with_audio is not None and with_audio.audio is not None:
        config = _audio_specific_config(with_audio.audio, _audio_packets(with_audio)[0])
        if config is None:
            log.warning("export leaves the audio out: no AAC config in %s", with_audio.part.path)
        else:
            audio = container.add_stream_from_template(with_audio.audio)
            assert audio.codec_context is not None
            audio.codec_context.extradata = config
            adts = BitStreamFilterContext("aac_adtstoasc", with_audio.audio)
    # Place the first segment so that no packet, audio before the first frame
    # or B-frame dts included, gets a negative timestamp.
    first = ahead[0]
    earliest = min(first.ticks(p, p.dts) for p in first.packets)
    output = _Output(container, video, audio, adts)
    output.shift = max(0, first.zero - earliest) - first.zero
    return output


def _audio_specific_config(stream: AudioStream, packet: Packet[Stream]) -> bytes | None:
    """The AudioSpecificConfig that `aac_adtstoasc` derives from an ADTS frame (a copy)."""
    probe = BitStreamFilterContext("aac_adtstoasc", stream)
    for filtered in probe.filter(Packet(bytes(packet))):
        for side in filtered.iter_sidedata():
            if side.data_type == "new_extradata":
                return bytes(side)
    return None


def _mux_segment(output: _Output, segment: _Loaded) -> None:
    previous = output.previous
    if previous is not None:
        expected = previous.zero + round(previous.part.duration_ms * Fraction(1, 1000) / _TICKS)
        tolerance = round(CONTINUITY_TOLERANCE_MS * Fraction(1, 1000) / _TICKS)
        if abs(segment.zero - expected) > tolerance:
            # A new clock: put its first frame where the previous segment ended.
            output.shift = expected + output.shift - segment.zero
    # The video dts may not go back: a segment whose video would overlap is pushed to one
    # frame after the last. (Audio that would overlap is dropped packet by packet.)
    first_dts = min(segment.ticks(p, p.dts) for p in segment.packets if p.stream is segment.video)
    last = output.last_dts.get("video")
    if last is not None and first_dts + output.shift <= last:
        output.shift = last + output.video_step - first_dts
    for packet in segment.packets:
        _mux_packet(output, segment, packet)
    output.previous = segment


def _mux_packet(output: _Output, segment: _Loaded, packet: Packet[Stream]) -> None:
    pts = segment.ticks(packet, packet.pts) + output.shift
    dts = segment.ticks(packet, packet.dts) + output.shift
    if packet.stream is segment.video:
        kind, target = "video", output.video
    elif output.audio is not None:
        kind, target = "audio", output.audio
    else:
        return
    last = output.last_dts.get(kind)
    if last is not None and dts <= last:
        log.debug("export drops a %s packet whose dts %d does not increase", kind, dts)
        return
    if kind == "video" and last is not None:
        output.video_step = dts - last
    output.last_dts[kind] = dts
    packets = [packet] if output.adts is None or kind == "video" else output.adts.filter(packet)
    for out in packets:
        out.time_base = _TICKS
        out.pts, out.dts = pts, dts
        out.stream = target
        output.container.mux_one(out)


class _QueueSink:
    """A sink for the remux thread: each write waits for room in a bounded asyncio queue."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        queue: asyncio.Queue[bytes | BaseException | None],
        slots: threading.Semaphore,
        stop: threading.Event,
    ) -> None:
        self._loop = loop
        self._queue = queue
        self._slots = slots
        self._stop = stop

    def write(self, data: bytes) -> int:
        while not self._slots.acquire(timeout=0.1):
            if self._stop.is_set():
                raise ExportStopped
        if self._stop.is_set():
            raise ExportStopped
        self.put(bytes(data))
        return len(data)

    def put(self, item: bytes | BaseException | None) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError as err:  # the event loop is closed: nobody reads any more
            raise ExportStopped from err


async def stream_fmp4(
    parts: Iterable[ExportPart], *, max_chunks: int = MAX_CHUNKS
) -> AsyncGenerator[bytes, None]:
    """The MP4 of `parts`, chunk by chunk, remuxed in a thread as fast as it is read.

    `parts` is iterated on that thread. An error of the remux is raised here,
    after the chunks made before it. Closing the generator early stops the thread.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | BaseException | None] = asyncio.Queue()
    slots = threading.Semaphore(max_chunks)
    stop = threading.Event()
    sink = _QueueSink(loop, queue, slots, stop)

    def run() -> None:
        outcome: BaseException | None = None
        try:
            used = remux_fmp4(parts, sink, stop=stop)
        except ExportStopped:
            log.info("mp4 export stopped early: its reader went away")
            return
        except Exception as err:  # handed to the reader, which raises it
            outcome = err
        else:
            log.debug("mp4 export of %d segments done", used)
        with contextlib.suppress(ExportStopped):
            sink.put(outcome)

    thread = threading.Thread(target=run, name=THREAD_NAME, daemon=True)
    thread.start()
    try:
        while True:
            item = await queue.get()
            if item is None:
                return
            if isinstance(item, BaseException):
                raise item
            slots.release()
            yield item
    finally:
        stop.set()
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(thread.join, 5.0)
