"""Analysis of one camera's stream: decoding, motion, sound, and the latest picture.

What this module owns: `Analyzer`, which the camera's thread hands every
demuxed packet (`feed`). It owns its own PyAV decoders, made from the input
streams' parameters (codec, extradata, size or sample rate and layout), so
that decoding never touches the demuxer's codec contexts the segmenter copies
from. For each camera it:

- decodes every video packet from the first key frame on (a P-frame needs the
  frames before it), and keeps a reference to the latest decoded frame, from
  which `latest_thumb` and `latest_still` make JPEG bytes on request;
- analyses pictures at `MotionSettings.fps` (by capture time, so any camera
  frame rate works): scaled by FFmpeg to `MotionSettings.width` in gray, then
  given to the `MotionDetecting` detector. One scaler is kept per camera: a
  new scaling context for each picture costs eight times as much;
- with `SoundSettings.enabled` and an audio stream, decodes the audio and
  measures it in ~100 ms windows with `SoundLevel` (audio is not even decoded
  otherwise);
- calls `on_trigger(kind, at_ms, smx=, aud=)` (the `Recorder.trigger`
  shape) while there is motion or loud sound: at most once per
  `trigger_interval_ms` for each kind, sooner only for a stronger magnitude.

Decoders run single-threaded (`thread_type="NONE"`). Measured on 60 s of
640x360 15 fps H.264 on a 2-core machine, decoding alone took 2.6 (a mostly
still scene, 0.7 Mbit/s) and 17.6 (a panning one, 1.8 Mbit/s) ms of CPU per
second of video single-threaded, and 4.3 and 20.4 with frame threading
("AUTO"): threads cost CPU and buy latency this job does not need. An adapter
runs many cameras, each on its own thread, and wants the least CPU per
camera. With motion detection off, only key frames are decoded (thumbs are
then at most one GOP old), and only when a picture is asked for: the latest
key frame's data is kept, and `latest_thumb`/`latest_still` decode it (once
for all its pictures). Other packets never reach the decoder. On the 1080p
stream of bench/adapter that saved ~1.5 ms of CPU per second of video.

A packet the decoder refuses as invalid data is skipped and logged with the
camera's name (at most one line per 10 s, with a count); the decoder picks up
again at the next good packet. Other errors propagate. Not thread-safe except
`latest_*`, which any thread may call while the camera's thread feeds.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import av
import av.error
import numpy as np
from av.audio.codeccontext import AudioCodecContext
from av.audio.stream import AudioStream
from av.video.codeccontext import VideoCodecContext
from av.video.reformatter import VideoReformatter
from av.video.stream import VideoStream

from camloft.adapter.motion import (
    Gray,
    MotionDetecting,
    MotionDetector,
    MotionReading,
    MotionSettings,
)
from camloft.adapter.sound import SoundLevel, SoundReading, SoundSettings
from camloft.events import EventType
from camloft.media.images import still_jpeg, thumb_jpeg

log = logging.getLogger(__name__)

TRIGGER_INTERVAL_MS = 200
_LOG_EVERY_S = 10.0
_EARLY_MS = 20.0


class TriggerSink(Protocol):
    """Where triggers go: `Recorder.trigger` fits."""

    def __call__(
        self, kind: EventType, at_ms: int, *, smx: int | None = None, aud: int | None = None
    ) -> None: ...


@dataclass(slots=True)
class AnalyzerStats:
    """Counts since the analyser started, for status and tests."""

    video_packets: int = 0  # fed to the video decoder
    waiting_packets: int = 0  # video packets before the first key frame, not decoded
    skipped_packets: int = 0  # refused by a decoder as invalid data
    decoded_frames: int = 0
    analysed_frames: int = 0
    audio_windows: int = 0


def _ms_per_tick(time_base: Fraction | None) -> float:
    return 0.0 if time_base is None else float(time_base) * 1000


def _video_decoder(stream: VideoStream, *, key_frames_only: bool) -> VideoCodecContext:
    params = stream.codec_context
    decoder = av.CodecContext.create(params.name, "r")
    assert isinstance(decoder, VideoCodecContext)
    if params.extradata is not None:
        decoder.extradata = params.extradata  # avcC/hvcC or SPS/PPS of MP4 and RTSP inputs
    decoder.width, decoder.height = params.width, params.height
    decoder.thread_type = "NONE"
    decoder.thread_count = 1
    if key_frames_only:
        decoder.skip_frame = "NONKEY"
    return decoder


def _audio_decoder(stream: AudioStream) -> AudioCodecContext:
    params = stream.codec_context
    decoder = av.CodecContext.create(params.name, "r")
    assert isinstance(decoder, AudioCodecContext)
    if params.extradata is not None:
        decoder.extradata = params.extradata  # AudioSpecificConfig of MP4 and RTSP AAC
    if params.sample_rate:
        decoder.sample_rate = params.sample_rate  # PCM (G.711) decoders need these two
    if params.layout.nb_channels:
        decoder.layout = params.layout
    decoder.thread_type = "NONE"
    decoder.thread_count = 1
    return decoder


class Analyzer:
    """Decodes one camera's packets, detects motion and sound, keeps the latest picture."""

    def __init__(
        self,
        camera: str,
        video: VideoStream,
        on_trigger: TriggerSink,
        *,
        audio: AudioStream | None = None,
        motion: MotionSettings | None = None,
        sound: SoundSettings | None = None,
        detector: MotionDetecting | None = None,
        trigger_interval_ms: int = TRIGGER_INTERVAL_MS,
    ) -> None:
        self.camera = camera
        self.motion_settings = motion if motion is not None else MotionSettings()
        self.sound_settings = sound if sound is not None else SoundSettings()
        self.stats = AnalyzerStats()
        self.last_motion: MotionReading | None = None
        self.last_sound: SoundReading | None = None
        self._on_trigger = on_trigger
        self._trigger_interval_ms = trigger_interval_ms
        self._video_index = video.index
        self._key_frames_only = not self.motion_settings.enabled
        self._video = _video_decoder(video, key_frames_only=self._key_frames_only)
        self._detector = detector if detector is not None else MotionDetector(self.motion_settings)
        self._scaler = VideoReformatter()  # keeps its scaling context from frame to frame
        self._period_ms = 1000 / self.motion_settings.fps
        self._next_analysis_ms: float | None = None
        self._last_analysis_ms = 0
        self._started = False  # a key frame has been fed
        self._audio_index: int | None = None
        self._audio: AudioCodecContext | None = None
        self._sound: SoundLevel | None = None
        if audio is not None and self.sound_settings.enabled:
            self._audio_index = audio.index
            self._audio = _audio_decoder(audio)
            self._sound = SoundLevel(self.sound_settings)
        # Per stream: ms per pts tick, and the last packet's (pts, at_ms), from which frames'
        # times follow (in floats: Fraction arithmetic for every packet costs more).
        self._ms_per_tick = {video.index: _ms_per_tick(video.time_base)}
        if audio is not None:
            self._ms_per_tick[audio.index] = _ms_per_tick(audio.time_base)
        self._reference: dict[int, tuple[int | None, int]] = {}
        self._latest: tuple[av.VideoFrame, int] | None = None
        # With motion off: the latest key frame's data, pts and time, decoded when a
        # picture is asked for (most key frames never are).
        self._latest_key: tuple[bytes, int | None, int] | None = None
        self._decode_lock = threading.Lock()  # the on-demand decoding, from any thread
        self._last_trigger: dict[EventType, tuple[int, int]] = {}
        self._last_error_log = -_LOG_EVERY_S

    # -- input

    def feed(self, packet: av.Packet[Any], at_ms: int) -> None:
        """Take one demuxed packet of any stream; `at_ms` is its capture time (ms since epoch).

        Packets of other streams, and empty packets, are ignored; call `flush`
        at the end of the stream.
        """
        if packet.size == 0:
            return
        index = packet.stream_index
        if index == self._video_index:
            if not self._started:
                if not packet.is_keyframe:
                    self.stats.waiting_packets += 1
                    return
                self._started = True
            elif self._key_frames_only and not packet.is_keyframe:
                return  # the decoder would skip it
            if self._key_frames_only:
                self._latest_key = (bytes(packet), packet.pts, at_ms)  # one assignment
                return
            self.stats.video_packets += 1
            self._reference[index] = (packet.pts, at_ms)
            for frame in self._decode_video(packet, at_ms):
                self._on_video_frame(frame, self._frame_ms(index, frame.pts))
        elif index == self._audio_index:
            self._reference[index] = (packet.pts, at_ms)
            for audio_frame in self._decode_audio(packet, at_ms):
                self._on_audio_frame(audio_frame, self._frame_ms(index, audio_frame.pts))

    def flush(self) -> None:
        """The stream ended: analyse the frames the decoders still hold, then start afresh."""
        if self._started:
            for frame in self._video.decode(None):
                self._on_video_frame(frame, self._frame_ms(self._video_index, frame.pts))
            self._video.flush_buffers()
            self._started = False
        if self._audio is not None and self._audio_index is not None:
            for audio_frame in self._audio.decode(None):
                at_ms = self._frame_ms(self._audio_index, audio_frame.pts)
                self._on_audio_frame(audio_frame, at_ms)
            self._audio.flush_buffers()

    def _frame_ms(self, index: int, pts: int | None) -> int:
        """A frame's capture time: its packet's, moved by the pts distance (decoders reorder).

        Decoded frames carry their packets' time base, the stream's.
        """
        packet_pts, at_ms = self._reference[index]
        ms_per_tick = self._ms_per_tick[index]
        if pts is None or packet_pts is None or not ms_per_tick:
            return at_ms
        return at_ms + round((pts - packet_pts) * ms_per_tick)

    def _decode_video(self, packet: av.Packet[Any], at_ms: int) -> list[av.VideoFrame]:
        try:
            return self._video.decode(packet)
        except av.error.InvalidDataError as err:
            self._skipped("video", at_ms, err)
            return []

    def _decode_audio(self, packet: av.Packet[Any], at_ms: int) -> list[av.AudioFrame]:
        assert self._audio is not None
        try:
            return self._audio.decode(packet)
        except av.error.InvalidDataError as err:
            self._skipped("audio", at_ms, err)
            return []

    def _skipped(self, kind: str, at_ms: int, err: av.error.InvalidDataError) -> None:
        self.stats.skipped_packets += 1
        now = time.monotonic()
        if now - self._last_error_log >= _LOG_EVERY_S:
            self._last_error_log = now
            log.warning(
                "camera %s: skipped an undecodable %s packet at %d ms (%s); %d skipped so far",
                self.camera,
                kind,
                at_ms,
                err,
                self.stats.skipped_packets,
            )

    # -- analysis

    def _on_video_frame(self, frame: av.VideoFrame, at_ms: int) -> None:
        self.stats.decoded_frames += 1
        self._latest = (frame, at_ms)  # one assignment: readers in other threads see a pair
        if not self.motion_settings.enabled or not self._due(at_ms):
            return
        self.stats.analysed_frames += 1
        width = min(self.motion_settings.width, frame.width)
        height = max(1, round(width * frame.height / frame.width))
        # One thread: FFmpeg's default starts a scaling thread per core, which for so small
        # a picture only adds wake-ups (same pixels, a third of the CPU).
        small = self._scaler.reformat(
            frame, width=width, height=height, format="gray", interpolation="AREA", threads=1
        )
        gray: Gray = np.asarray(small.to_ndarray(), dtype=np.uint8)
        reading = self._detector.update(gray, at_ms)
        self.last_motion = reading
        if reading.motion:
            self._trigger(EventType.MOTION, at_ms, reading.magnitude)

    def _due(self, at_ms: int) -> bool:
        """Whether a frame captured at `at_ms` is analysed: `fps` of them a second.

        A frame a little early (20 ms, at most a quarter period) counts as on
        time, since capture times are rounded and jitter, and the cadence is
        kept; after a gap in the stream, or when the clock went back, it starts
        again from this frame.
        """
        due, last = self._next_analysis_ms, self._last_analysis_ms
        period = self._period_ms
        early = min(period / 4, _EARLY_MS)
        if due is not None and last <= at_ms < due - early:
            return False
        if due is not None and due - early <= at_ms < due + period:
            self._next_analysis_ms = due + period
        else:
            self._next_analysis_ms = at_ms + period
        self._last_analysis_ms = at_ms
        return True

    def _on_audio_frame(self, frame: av.AudioFrame, at_ms: int) -> None:
        assert self._sound is not None
        for reading in self._sound.feed(frame, at_ms):
            self.stats.audio_windows += 1
            self.last_sound = reading
            if reading.loud:
                self._trigger(EventType.AUDIO, reading.at_ms, reading.magnitude)

    def _trigger(self, kind: EventType, at_ms: int, magnitude: int) -> None:
        last = self._last_trigger.get(kind)
        if last is not None:
            last_ms, last_magnitude = last
            if 0 <= at_ms - last_ms < self._trigger_interval_ms and magnitude <= last_magnitude:
                return
        self._last_trigger[kind] = (at_ms, magnitude)
        if kind is EventType.MOTION:
            self._on_trigger(kind, at_ms, smx=magnitude, aud=None)
        else:
            self._on_trigger(kind, at_ms, smx=None, aud=magnitude)

    # -- pictures, for any thread

    @property
    def latest_at_ms(self) -> int | None:
        """The capture time of the latest decoded picture (with motion off, key frame)."""
        if self._key_frames_only:
            key = self._latest_key
            return None if key is None else key[2]
        latest = self._latest
        return None if latest is None else latest[1]

    def latest_thumb(self) -> bytes | None:
        """The latest decoded picture as a JPEG thumb, or None before the first."""
        frame = self._latest_frame()
        return None if frame is None else thumb_jpeg(frame)

    def latest_still(self) -> bytes | None:
        """The latest decoded picture as a JPEG still, or None before the first."""
        frame = self._latest_frame()
        return None if frame is None else still_jpeg(frame)

    def _latest_frame(self) -> av.VideoFrame | None:
        if not self._key_frames_only:
            latest = self._latest
            return None if latest is None else latest[0]
        key = self._latest_key
        if key is None:
            return None
        with self._decode_lock:
            latest = self._latest
            if latest is not None and latest[1] == key[2]:
                return latest[0]  # this key frame was decoded already
            data, pts, at_ms = key
            packet = av.Packet(data)
            packet.pts = packet.dts = pts
            frames = self._decode_video(packet, at_ms)
            if not frames:  # a decoder that holds frames back gives them at the end
                frames = self._video.decode(None)
            self._video.flush_buffers()
            if not frames:
                return None
            self.stats.video_packets += 1
            self.stats.decoded_frames += 1
            self._latest = (frames[-1], at_ms)
            return frames[-1]
