"""The segmenter: stream-copied MPEG-TS segments cut at key frames, with their wall-clock times.

Media is made inside the tests (`conftest.encode_camera`), segmented in memory,
and checked the way a user would: each segment plays on its own in PyAV and in
ffprobe, starts with a key frame, lasts about the target, and together they
hold exactly the input's packets, unchanged.
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterator
from fractions import Fraction

import av
import pytest

from camloft.media.segment import Segment
from camloft.media.segmenter import Segmenter
from tests.media.conftest import FPS, HEIGHT, WIDTH, Packet, demux_packets, encode_camera

FRAME_MS = 1000 / FPS
GOP_MS = 1000  # a key frame every 15 frames at 15 fps
EPOCH_S = 1_700_000_000.0
MUX_SHIFT = 126_000  # 1.4 s at 90 kHz: the MPEG-TS muxer's offset for its 0.7 s max_delay


def fixed_clock(*readings: float) -> Callable[[], float]:
    """A clock that answers `readings` in turn, and fails the test if read more often."""
    answers: Iterator[float] = iter(readings)

    def clock() -> float:
        answer = next(answers, None)
        assert answer is not None, f"the clock was read more than {len(readings)} times"
        return answer

    return clock


def segment(
    data: bytes, *, target_seconds: float = 2.0, clock: Callable[[], float] | None = None
) -> tuple[Segmenter, list[Segment]]:
    segments: list[Segment] = []
    with av.open(io.BytesIO(data), "r") as container:
        segmenter = Segmenter(
            container,
            segments.append,
            target_seconds=target_seconds,
            clock=clock or fixed_clock(EPOCH_S),
        )
        segmenter.run()
    return segmenter, segments


def kept_input_packets(data: bytes) -> list[Packet]:
    """The input's packets the segmenter must keep: all from the first video key frame on."""
    packets = demux_packets(data)
    first = next(i for i, p in enumerate(packets) if p.kind == "video" and p.keyframe)
    return packets[first:]


def video_span_ms(packets: list[Packet]) -> float:
    video = [p for p in packets if p.kind == "video"]
    start = min(p.pts for p in video)
    end = max(p.pts + p.duration for p in video)
    return float((end - start) * video[0].time_base * 1000)


def ffprobe(data: bytes) -> dict[str, object]:
    """ffprobe's view of a segment, decoding every frame; fails on any error it prints."""
    binary = shutil.which("ffprobe")
    if binary is None:
        pytest.fail(
            "ffprobe is not installed: install Debian's `ffmpeg` package "
            "(apt-get install -y ffmpeg); the segment tests check segments with it"
        )
    result = subprocess.run(
        [binary, "-v", "error", "-count_frames", "-show_entries",
         "stream=codec_type,codec_name,nb_read_frames,width,height", "-of", "json", "-i", "-"],
        input=data, capture_output=True, check=False, timeout=30,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr.decode()
    assert result.stderr == b"", result.stderr.decode()
    probed: dict[str, object] = json.loads(result.stdout)
    return probed


def test_every_segment_plays_alone_in_pyav_and_ffprobe(camera_ts: bytes) -> None:
    _, segments = segment(camera_ts)
    assert len(segments) == 5
    for seg in segments:
        packets = demux_packets(seg.data)
        video_packets = [p for p in packets if p.kind == "video"]
        with av.open(io.BytesIO(seg.data), "r") as container:
            assert [s.codec_context.name for s in container.streams] == ["h264", "aac"]
            frames = list(container.decode(video=0))
        assert len(frames) == len(video_packets)
        assert frames[0].key_frame
        assert (frames[0].width, frames[0].height) == (WIDTH, HEIGHT)

        streams = ffprobe(seg.data)["streams"]
        assert isinstance(streams, list)
        by_type = {s["codec_type"]: s for s in streams}
        assert by_type["video"]["codec_name"] == "h264"
        assert int(by_type["video"]["nb_read_frames"]) == len(video_packets)
        assert by_type["audio"]["codec_name"] == "aac"
        assert int(by_type["audio"]["nb_read_frames"]) > 0


def test_every_segment_starts_with_a_key_frame(camera_ts: bytes) -> None:
    _, segments = segment(camera_ts)
    for seg in segments:
        first_video = next(p for p in demux_packets(seg.data) if p.kind == "video")
        assert first_video.keyframe


@pytest.mark.parametrize(("target_seconds", "expected_ms"), [(2.0, 2000), (2.5, 3000), (0.5, 1000)])
def test_cut_at_the_first_key_frame_at_or_after_the_target(
    camera_ts: bytes, target_seconds: float, expected_ms: int
) -> None:
    _, segments = segment(camera_ts, target_seconds=target_seconds)
    for seg in segments[:-1]:
        assert seg.duration_ms == expected_ms
        assert target_seconds * 1000 <= seg.duration_ms <= target_seconds * 1000 + GOP_MS
    assert 0 < segments[-1].duration_ms <= target_seconds * 1000 + GOP_MS


@pytest.mark.parametrize("media", ["camera_ts", "camera_ts_bframes"])
def test_durations_add_up_to_the_input_and_start_times_are_contiguous(
    media: str, request: pytest.FixtureRequest
) -> None:
    data: bytes = request.getfixturevalue(media)
    _, segments = segment(data, clock=fixed_clock(EPOCH_S))

    assert segments[0].start_ms == EPOCH_S * 1000
    for previous, following in itertools.pairwise(segments):
        assert abs(following.start_ms - previous.end_ms) <= 1
    total = sum(seg.duration_ms for seg in segments)
    assert abs(total - video_span_ms(kept_input_packets(data))) <= FRAME_MS
    assert [seg.sequence for seg in segments] == list(range(len(segments)))


@pytest.mark.parametrize("media", ["camera_ts", "camera_ts_bframes"])
def test_no_packet_is_lost_duplicated_or_changed(
    media: str, request: pytest.FixtureRequest
) -> None:
    """Rule: segments are stream copies. No decoder or encoder ever touches the packets, so
    the segments hold exactly the input's packets, byte for byte, their timestamps all moved
    by one constant."""
    data: bytes = request.getfixturevalue(media)
    _, segments = segment(data)
    expected = kept_input_packets(data)
    produced = [p for seg in segments for p in demux_packets(seg.data)]

    for kind in ("video", "audio"):
        wanted = [p for p in expected if p.kind == kind]
        got = [p for p in produced if p.kind == kind]
        assert len(got) == len(wanted), kind
        assert [p.data for p in got] == [p.data for p in wanted]
        # The MPEG-TS muxer moves every timestamp by the same offset (ffmpeg does too).
        shifts = {(g.pts - w.pts, g.dts - w.dts) for g, w in zip(got, wanted, strict=True)}
        assert len(shifts) == 1
        assert shifts == {(MUX_SHIFT, MUX_SHIFT)}


def test_video_packets_are_byte_identical_so_nothing_is_transcoded(camera_ts: bytes) -> None:
    """Rule: the segmenter never decodes nor re-encodes video (cost and quality): no decoder
    is opened on the input, and every video packet of every segment is the input's packet,
    unchanged."""
    segments: list[Segment] = []
    with av.open(io.BytesIO(camera_ts), "r") as container:
        Segmenter(container, segments.append).run()
        assert not any(stream.codec_context.is_open for stream in container.streams)
    wanted = [p.data for p in kept_input_packets(camera_ts) if p.kind == "video"]
    got = [p.data for seg in segments for p in demux_packets(seg.data) if p.kind == "video"]
    assert got == wanted


def test_audio_is_kept_when_the_input_has_it(camera_ts: bytes) -> None:
    segmenter, segments = segment(camera_ts)
    assert segmenter.has_audio
    for seg in segments:
        assert seg.has_audio
        assert any(p.kind == "audio" for p in demux_packets(seg.data))


def test_video_only_input_gives_video_only_segments(camera_ts_video_only: bytes) -> None:
    segmenter, segments = segment(camera_ts_video_only)
    assert not segmenter.has_audio
    assert len(segments) == 3
    for seg in segments:
        assert not seg.has_audio
        with av.open(io.BytesIO(seg.data), "r") as container:
            assert len(container.streams.audio) == 0
        ffprobe(seg.data)


def test_stream_facts_for_the_adapter(camera_ts: bytes) -> None:
    with av.open(io.BytesIO(camera_ts), "r") as container:
        segmenter = Segmenter(container, lambda seg: None)
        assert (segmenter.width, segmenter.height, segmenter.has_audio) == (WIDTH, HEIGHT, True)


def test_segments_of_mp4_input_play_alone(camera_mp4: bytes) -> None:
    """Rule: each segment plays on its own even when SPS/PPS travel only out of band (MP4
    extradata, RTSP's sprop-parameter-sets): the MPEG-TS muxer puts them before key frames."""
    _, segments = segment(camera_mp4)
    assert len(segments) == 3
    for seg in segments:
        with av.open(io.BytesIO(seg.data), "r") as container:
            frames = list(container.decode(video=0))
        assert len(frames) == sum(1 for p in demux_packets(seg.data) if p.kind == "video")
        assert frames[0].key_frame
        ffprobe(seg.data)
    video = [p for p in demux_packets(camera_mp4) if p.kind == "video"]
    assert sum(seg.duration_ms for seg in segments) == pytest.approx(
        float(len(video) * FRAME_MS), abs=FRAME_MS
    )


def remux_from(data: bytes, first_video_packet: int) -> bytes:
    """A copy of `data` (stream copy) whose video begins at its `first_video_packet`th packet."""
    output_buffer = io.BytesIO()
    with av.open(io.BytesIO(data), "r") as source, av.open(output_buffer, "w", "mpegts") as output:
        video_in = source.streams.video[0]
        video_out = output.add_stream_from_template(video_in)
        seen = 0
        for packet in source.demux(video_in):
            if packet.dts is None:
                continue
            seen += 1
            if seen > first_video_packet:
                packet.stream = video_out
                output.mux(packet)
    return output_buffer.getvalue()


def test_packets_before_the_first_key_frame_are_dropped(camera_ts_video_only: bytes) -> None:
    """Rule: a segment starts with a key frame, also when the camera's stream starts mid-GOP."""
    data = remux_from(camera_ts_video_only, first_video_packet=5)
    packets = demux_packets(data)
    assert not packets[0].keyframe
    first_key = next(p for p in packets if p.keyframe)

    _, segments = segment(data, clock=fixed_clock(EPOCH_S))
    first = demux_packets(segments[0].data)[0]
    assert first.keyframe
    assert first.pts == first_key.pts + MUX_SHIFT
    assert sum(len(demux_packets(s.data)) for s in segments) == len(kept_input_packets(data))
    assert segments[0].start_ms == EPOCH_S * 1000  # the clock is read at the first key frame


def test_a_backwards_jump_starts_a_new_timeline_anchored_at_the_clock() -> None:
    """Rule: when the camera's clock restarts, segments keep playable, exact times: the
    timeline before the jump ends at its last frame, the one after is anchored at clock()."""
    first_run = encode_camera(5.0, audio=False, start_seconds=100.0)
    second_run = encode_camera(3.0, audio=False)
    _, segments = segment(first_run + second_run, clock=fixed_clock(EPOCH_S, EPOCH_S + 60))

    assert [s.duration_ms for s in segments] == [2000, 2000, 1000, 2000, 1000]
    assert segments[0].start_ms == EPOCH_S * 1000
    assert segments[2].end_ms == EPOCH_S * 1000 + 5000
    assert segments[3].start_ms == (EPOCH_S + 60) * 1000
    assert segments[4].start_ms == segments[3].end_ms
    video_in = [p for p in demux_packets(first_run + second_run) if p.kind == "video"]
    assert sum(len(demux_packets(s.data)) for s in segments) == len(video_in)
    for seg in segments:
        ffprobe(seg.data)


def test_a_long_forward_jump_starts_a_new_timeline() -> None:
    """Rule: a gap in the camera's stream does not make one segment span the gap."""
    before = encode_camera(3.0, audio=False)
    after = encode_camera(3.0, audio=False, start_seconds=600.0)
    _, segments = segment(before + after, clock=fixed_clock(EPOCH_S, EPOCH_S + 30))

    assert [s.duration_ms for s in segments] == [2000, 1000, 2000, 1000]
    assert segments[2].start_ms == (EPOCH_S + 30) * 1000


def test_stop_ends_the_run_and_hands_over_the_partial_segment(camera_ts: bytes) -> None:
    stop = threading.Event()
    segments: list[Segment] = []

    def on_segment(seg: Segment) -> None:
        segments.append(seg)
        stop.set()

    with av.open(io.BytesIO(camera_ts), "r") as container:
        worker = threading.Thread(
            target=Segmenter(container, on_segment, clock=fixed_clock(EPOCH_S)).run,
            args=(stop,),
            name="segmenter-test",
        )
        worker.start()
        worker.join(timeout=30)
    assert not worker.is_alive()
    assert len(segments) == 2
    partial = segments[1]
    assert partial.start_ms == segments[0].end_ms
    assert 0 < partial.duration_ms < 2000
    first = next(p for p in demux_packets(partial.data) if p.kind == "video")
    assert first.keyframe


def test_input_without_video_is_refused() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", "mpegts") as output:
        sound = output.add_stream("aac", rate=48_000, layout="mono")
        frame = av.AudioFrame(format="fltp", layout="mono", samples=1024)
        frame.sample_rate = 48_000
        for plane in frame.planes:
            plane.update(bytes(plane.buffer_size))
        frame.pts = 0
        output.mux(sound.encode(frame))
        output.mux(sound.encode())
    with av.open(io.BytesIO(buffer.getvalue()), "r") as container, pytest.raises(ValueError):
        Segmenter(container, lambda seg: None)


def test_segment_times_follow_pts_not_the_clock(camera_ts: bytes) -> None:
    """Rule: the clock is read once per timeline; later start times come from pts, so a slow
    consumer or a jittery clock cannot bend them."""
    readings: list[float] = []

    def clock() -> float:
        readings.append(EPOCH_S + len(readings) * 123.0)
        return readings[-1]

    _, segments = segment(camera_ts, clock=clock)
    assert len(readings) == 1
    assert [s.start_ms - segments[0].start_ms for s in segments] == [0, 2000, 4000, 6000, 8000]


def test_time_base_is_read_from_the_stream(camera_mp4: bytes) -> None:
    with av.open(io.BytesIO(camera_mp4), "r") as container:
        assert container.streams.video[0].time_base != Fraction(1, 90_000)
    _, segments = segment(camera_mp4)
    assert [s.duration_ms for s in segments[:-1]] == [2000, 2000]


class FailingInput(io.RawIOBase):
    """A camera connection that breaks after `limit` bytes."""

    def __init__(self, data: bytes, limit: int) -> None:
        self._data = io.BytesIO(data)
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        if self._data.tell() >= self._limit:
            raise ConnectionResetError("the camera went away")
        return self._data.readinto(buffer)


def test_a_failing_input_hands_over_what_it_received_then_raises(camera_ts: bytes) -> None:
    """Rule: nothing recorded is lost: when reading the camera fails, the partial segment is
    handed over before the error surfaces."""
    segments: list[Segment] = []
    with av.open(FailingInput(camera_ts, len(camera_ts) // 2), "r") as container:
        segmenter = Segmenter(container, segments.append, clock=fixed_clock(EPOCH_S))
        with pytest.raises(ConnectionResetError):
            segmenter.run()
    assert len(segments) == 3
    assert segments[2].start_ms == segments[1].end_ms
    assert 0 < segments[2].duration_ms < 2000
    for seg in segments:
        ffprobe(seg.data)


def test_on_packet_sees_every_muxed_packet_once_with_its_wall_clock(camera_ts: bytes) -> None:
    """Rule: analysis sees what is recorded: each packet once, before muxing, timed on the
    segments' own clock, so a trigger's time and the video's time agree."""
    seen: list[tuple[str, int]] = []
    segments: list[Segment] = []
    with av.open(io.BytesIO(camera_ts), "r") as container:
        Segmenter(container, segments.append, clock=fixed_clock(EPOCH_S),
                  on_packet=lambda packet, ms: seen.append((packet.stream.type, ms))).run()
    video_ms = [ms for kind, ms in seen if kind == "video"]
    muxed_video = sum(
        1 for s in segments for p in av.open(io.BytesIO(s.data)).demux(video=0) if p.size)
    assert len(video_ms) == muxed_video
    assert video_ms[0] == segments[0].start_ms == EPOCH_S * 1000
    assert video_ms[-1] < segments[-1].end_ms
    assert any(kind == "audio" for kind, _ in seen)
    audio_ms = [ms for kind, ms in seen if kind == "audio"]
    assert segments[0].start_ms - 200 <= audio_ms[0] and audio_ms[-1] <= segments[-1].end_ms + 200
