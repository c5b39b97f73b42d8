"""The analyser end to end: a synthetic camera's H.264 + AAC, demuxed, fed packet by packet.

The camera (camloft.media.synthetic) films a disc crossing the scene only from
3.0 s to 5.0 s and sounds a -6 dBFS tone only from 7.0 s to 8.5 s of a 12 s
stream; triggers must fall inside those windows, within half a second at the
edges, and nowhere else.
"""

from __future__ import annotations

import io
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import pytest
from PIL import Image

from camloft.adapter.analysis import Analyzer
from camloft.adapter.motion import MaskZone, MotionSettings
from camloft.adapter.recorder import Recorder
from camloft.adapter.sound import SoundSettings
from camloft.events import EventRecord, EventType
from camloft.media.segment import Segment
from camloft.media.synthetic import SyntheticCamera, SyntheticScene

START_S = 1_795_614_005.0  # 2026-11-25 13:40:05 UTC
START_MS = round(START_S * 1000)
SECONDS = 12.0
MOTION = (3.0, 5.0)  # seconds after the start: from, until
TONE = (7.0, 8.5)
EDGE = 0.5  # tolerance at the edges of a window, seconds
SCENE = SyntheticScene(
    motion=[(MOTION[0], MOTION[1] - MOTION[0])], tones=[(TONE[0], TONE[1] - TONE[0])]
)


@dataclass(frozen=True)
class Trigger:
    kind: EventType
    at_ms: int
    smx: int | None
    aud: int | None

    @property
    def offset_s(self) -> float:
        return (self.at_ms - START_MS) / 1000


class Triggers(list[Trigger]):
    """An `on_trigger` that keeps what it is told."""

    def __call__(
        self, kind: EventType, at_ms: int, *, smx: int | None = None, aud: int | None = None
    ) -> None:
        self.append(Trigger(kind, at_ms, smx, aud))

    def of(self, kind: EventType) -> list[Trigger]:
        return [t for t in self if t.kind is kind]


def encode(scene: SyntheticScene, seconds: float) -> bytes:
    sink = io.BytesIO()
    camera = SyntheticCamera("porch", scene)
    camera.run(sink, threading.Event(), realtime=False, duration_s=seconds, start_time=START_S)
    return sink.getvalue()


@pytest.fixture(scope="module")
def stream() -> bytes:
    return encode(SCENE, SECONDS)


def play(
    data: bytes,
    make: Callable[[Any, Any, Triggers], Analyzer],
    *,
    change: Callable[[int, av.Packet[Any]], av.Packet[Any] | None] = lambda i, p: p,
) -> tuple[Analyzer, Triggers]:
    """Demux `data` as a camera thread does, feeding every packet with its capture time.

    `change(i, packet)` may corrupt or drop (None) the i-th packet of the stream.
    """
    triggers = Triggers()
    with av.open(io.BytesIO(data), "r") as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        analyzer = make(video, audio, triggers)
        assert video.start_time is not None and video.time_base is not None
        origin = video.start_time * video.time_base
        for i, packet in enumerate(container.demux(video, audio)):
            if packet.pts is None:
                continue  # the demuxer's end-of-stream packets
            at_ms = capture_ms(packet, origin)
            changed = change(i, packet)
            if changed is not None:
                analyzer.feed(changed, at_ms)
        analyzer.flush()
    return analyzer, triggers


def capture_ms(packet: av.Packet[Any], origin: Fraction = Fraction(0)) -> int:
    """A packet's capture time: the camera's start plus its time after `origin` (seconds)."""
    assert packet.pts is not None
    return START_MS + round((packet.pts * packet.time_base - origin) * 1000)


def analyzer(
    motion: MotionSettings | None = None, sound: SoundSettings | None = None
) -> Callable[[Any, Any, Triggers], Analyzer]:
    def make(video: Any, audio: Any, triggers: Triggers) -> Analyzer:
        return Analyzer("porch", video, triggers, audio=audio, motion=motion, sound=sound)

    return make


def assert_within(triggers: list[Trigger], window: tuple[float, float]) -> None:
    """Triggers all inside the window, the first and the last near its edges."""
    start, end = window
    offsets = [t.offset_s for t in triggers]
    assert offsets, "no triggers at all"
    assert all(start - EDGE <= o <= end + EDGE for o in offsets), offsets
    assert offsets[0] <= start + EDGE and offsets[-1] >= end - EDGE, offsets


def test_motion_triggers_only_while_something_moves(stream: bytes) -> None:
    analyzer_, triggers = play(stream, analyzer())
    motion = triggers.of(EventType.MOTION)
    assert_within(motion, MOTION)
    assert all(t.smx is not None and 1 <= t.smx <= 10 and t.aud is None for t in motion)
    # Sound is optional per camera, and off unless enabled: the tone raised nothing.
    assert triggers.of(EventType.AUDIO) == []
    assert analyzer_.stats.audio_windows == 0


def test_a_loud_tone_triggers_audio_only_in_its_window(stream: bytes) -> None:
    _, triggers = play(stream, analyzer(sound=SoundSettings(enabled=True)))
    audio = triggers.of(EventType.AUDIO)
    assert_within(audio, TONE)
    assert all(t.smx is None and t.aud is not None and t.aud >= 8 for t in audio)
    assert_within(triggers.of(EventType.MOTION), MOTION)


def test_triggers_come_at_most_every_200_ms_unless_stronger(stream: bytes) -> None:
    _, triggers = play(stream, analyzer(sound=SoundSettings(enabled=True)))
    for kind in (EventType.MOTION, EventType.AUDIO):
        series = triggers.of(kind)
        assert len(series) >= 5
        for before, after in itertools.pairwise(series):
            magnitude = (after.smx or 0) + (after.aud or 0)
            previous = (before.smx or 0) + (before.aud or 0)
            assert after.at_ms - before.at_ms >= 200 or magnitude > previous


@pytest.mark.parametrize(("fps", "analysed"), [(5, 60), (1, 12), (15, 180)])
def test_every_frame_is_decoded_and_fps_of_them_analysed(
    stream: bytes, fps: int, analysed: int
) -> None:
    """15 fps in, MotionSettings.fps analysed: P-frames need every frame decoded."""
    analyzer_, _ = play(stream, analyzer(MotionSettings(fps=fps)))
    assert analyzer_.stats.decoded_frames == 180
    assert analyzer_.stats.analysed_frames == analysed
    assert analyzer_.stats.skipped_packets == analyzer_.stats.waiting_packets == 0


def test_the_latest_picture_makes_thumbs_and_stills(stream: bytes) -> None:
    with av.open(io.BytesIO(stream), "r") as container:
        fresh = Analyzer("porch", container.streams.video[0], Triggers())
        assert fresh.latest_thumb() is None and fresh.latest_still() is None
        assert fresh.latest_at_ms is None
    analyzer_, _ = play(stream, analyzer())
    thumb, still = analyzer_.latest_thumb(), analyzer_.latest_still()
    assert thumb is not None and still is not None
    assert Image.open(io.BytesIO(thumb)).size == (256, 144)
    assert Image.open(io.BytesIO(still)).size == (640, 360)
    last_frame_ms = START_MS + round((SECONDS - 1 / SCENE.fps) * 1000)
    assert analyzer_.latest_at_ms == last_frame_ms


def test_corrupt_packets_are_logged_with_the_camera_and_skipped(
    stream: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A broken packet costs its frame, never the camera: decoding goes on after it."""
    broken: list[int] = []

    def corrupt(i: int, packet: av.Packet[Any]) -> av.Packet[Any]:
        offset = float((packet.pts or 0) * packet.time_base)
        if packet.size > 16 and len(broken) < 4 and offset > 3.5 and i % 7 == 0:
            packet.update(bytes(reversed(bytes(packet))))  # same size, garbage
            broken.append(i)
        return packet

    with caplog.at_level(logging.WARNING, logger="camloft.adapter.analysis"):
        analyzer_, triggers = play(
            stream, analyzer(sound=SoundSettings(enabled=True)), change=corrupt
        )
    assert len(broken) == 4
    assert 1 <= analyzer_.stats.skipped_packets <= 4
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # at most one line per 10 s, with a count
    assert "porch" in warnings[0].getMessage() and "undecodable" in warnings[0].getMessage()
    assert_within(triggers.of(EventType.MOTION), MOTION)
    assert_within(triggers.of(EventType.AUDIO), TONE)


def test_joining_a_stream_between_key_frames_waits_for_one(
    stream: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    """A camera joined mid-GOP: packets before the first key frame are not errors."""
    seen: list[int] = []

    def drop_first_video(i: int, packet: av.Packet[Any]) -> av.Packet[Any] | None:
        if packet.stream.type == "video":
            seen.append(i)
            if len(seen) <= 5:
                return None
        return packet

    with caplog.at_level(logging.WARNING, logger="camloft.adapter.analysis"):
        analyzer_, triggers = play(stream, analyzer(), change=drop_first_video)
    assert analyzer_.stats.waiting_packets == SCENE.gop_frames - 5
    assert analyzer_.stats.skipped_packets == 0 and caplog.records == []
    assert analyzer_.stats.decoded_frames == 180 - SCENE.gop_frames
    assert_within(triggers.of(EventType.MOTION), MOTION)


def test_with_motion_off_only_key_frames_are_decoded(stream: bytes) -> None:
    """Thumbs still come (at most a GOP old); the cost of decoding every frame is saved,
    and a key frame is decoded only when a picture is asked for, once for its pictures."""
    analyzer_, triggers = play(stream, analyzer(MotionSettings(enabled=False)))
    assert triggers == []
    assert analyzer_.stats.decoded_frames == 0
    assert analyzer_.stats.analysed_frames == 0
    assert analyzer_.latest_at_ms is not None
    thumb = analyzer_.latest_thumb()
    assert thumb is not None and thumb.startswith(b"\xff\xd8")
    assert analyzer_.latest_still() is not None
    assert analyzer_.stats.decoded_frames == 1


def test_a_mask_over_the_objects_path_silences_motion(stream: bytes) -> None:
    lower = MaskZone(left=0.0, top=0.2, right=1.0, bottom=1.0)  # the disc never leaves it
    analyzer_, triggers = play(stream, analyzer(MotionSettings(mask=[lower])))
    assert triggers == []
    assert analyzer_.stats.analysed_frames == 60


def remux_to_mp4(data: bytes) -> bytes:
    """The same packets in MP4: parameter sets and AAC config move into extradata."""
    out = io.BytesIO()
    with av.open(io.BytesIO(data), "r") as source, av.open(out, "w", format="mp4") as target:
        streams = {s.index: target.add_stream_from_template(s) for s in source.streams}
        for packet in source.demux():
            if packet.dts is None:
                continue
            packet.stream = streams[packet.stream_index]
            target.mux(packet)
    return out.getvalue()


def test_an_mp4_input_decodes_from_its_extradata(stream: bytes) -> None:
    """Decoders are made from the streams' parameters: avcC and AudioSpecificConfig work."""
    mp4 = remux_to_mp4(stream)
    with av.open(io.BytesIO(mp4), "r") as container:
        assert container.streams.video[0].codec_context.extradata  # avcC, not Annex B
        assert container.streams.audio[0].codec_context.extradata
    analyzer_, triggers = play(mp4, analyzer(sound=SoundSettings(enabled=True)))
    assert analyzer_.stats.decoded_frames == 180
    assert_within(triggers.of(EventType.MOTION), MOTION)
    assert_within(triggers.of(EventType.AUDIO), TONE)


def test_triggers_drive_the_recorder(stream: bytes) -> None:
    """`Recorder.trigger` is an on_trigger: motion opens an event with its smx."""
    events: list[EventRecord] = []
    stored: list[Segment] = []
    recorder = Recorder(record_on_motion=True, store=stored.append, on_event=events.append)

    def make(video: Any, audio: Any, triggers: Triggers) -> Analyzer:
        return Analyzer("porch", video, recorder.trigger, audio=audio)

    play(stream, make)
    assert len(events) == 1  # opened by the first trigger (no segments came to grow it)
    opened_s = (events[0].startt - START_MS) / 1000
    assert MOTION[0] <= opened_s <= MOTION[0] + EDGE
    event = recorder.event  # as the later triggers left it
    assert event is not None and event.recording
    assert event.type is EventType.MOTION and event.smx is not None and event.smx >= 1
    play_out_end_s = (event.end - START_MS) / 1000  # 5 s after the last trigger
    assert MOTION[1] - EDGE + 5 <= play_out_end_s <= MOTION[1] + EDGE + 5


def cpu_per_video_second(data: bytes, seconds: float, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        with av.open(io.BytesIO(data), "r") as container:
            video = container.streams.video[0]
            packets = [p for p in container.demux(video) if p.pts is not None]
            analyzer_ = Analyzer("porch", video, Triggers())
            started = time.process_time()
            for packet in packets:
                analyzer_.feed(packet, capture_ms(packet))
            analyzer_.flush()
            best = min(best, time.process_time() - started)
    return best / seconds


def test_the_analyser_costs_little_cpu_at_640x360(stream: bytes) -> None:
    """Decode of every frame plus 5 fps analysis of 640x360 15 fps video: far below real time.

    A loose regression bound; the measured figure is printed (see it with -s).
    """
    cost = cpu_per_video_second(stream, SECONDS)
    print(f"analyser: {cost * 1000:.1f} ms CPU per second of 640x360 15 fps video")
    assert cost < 0.1


@pytest.mark.parametrize("camera_fps", [12, 25, 30])
def test_the_analysis_rate_holds_for_any_camera_frame_rate(camera_fps: int) -> None:
    """5 pictures a second whether the camera sends 12, 25 or 30 frames a second."""
    seconds = 4.0
    data = encode(SyntheticScene(width=320, height=180, fps=camera_fps, audio=False), seconds)
    triggers = Triggers()
    with av.open(io.BytesIO(data), "r") as container:
        video = container.streams.video[0]
        analyzer_ = Analyzer("porch", video, triggers)
        for packet in container.demux(video):
            if packet.pts is not None:
                analyzer_.feed(packet, capture_ms(packet))
        analyzer_.flush()
    assert analyzer_.stats.decoded_frames == seconds * camera_fps
    assert abs(analyzer_.stats.analysed_frames - seconds * 5) <= 1
    assert triggers == []


def test_analysis_goes_on_when_the_camera_clock_jumps_back(stream: bytes) -> None:
    """A clock set back an hour must not stop analysis until it catches up."""
    with av.open(io.BytesIO(stream), "r") as container:
        video = container.streams.video[0]
        packets = [p for p in container.demux(video) if p.pts is not None]
        analyzer_ = Analyzer("porch", video, Triggers())
    half = len(packets) // 2
    for i, packet in enumerate(packets):
        analyzer_.feed(packet, capture_ms(packet) - (3_600_000 if i >= half else 0))
    assert abs(analyzer_.stats.analysed_frames - 60) <= 1
