"""The synthetic camera: real H.264 + AAC whose picture and sound follow its script.

The stream is made inside the tests, in memory, and read back with PyAV: what a
detector or the adapter would see, not what the camera meant to send.
"""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest

from camloft.media.synthetic import (
    FrameInfo,
    Schedule,
    SyntheticCamera,
    SyntheticScene,
    clock_text,
    motion_active,
    read_clock,
    tone_active,
)

START = 1795614005.0  # 2026-11-25 13:40:05 UTC
SCENE = SyntheticScene(motion=[(2.0, 1.5)], tones=[(3.0, 1.0)])
SECONDS = 6.0

Gray = npt.NDArray[np.float64]


@dataclass
class Recording:
    camera: SyntheticCamera
    data: bytes
    reported: list[FrameInfo]
    video_packets: list[av.Packet[Any]]
    frames: list[npt.NDArray[np.uint8]]  # decoded, RGB
    frame_times: list[Fraction]  # decoded frame time, relative to the first frame
    audio: npt.NDArray[np.float32]  # decoded mono samples
    audio_start: float  # time of the first decoded sample, relative to the first frame
    video_codec: str
    audio_codec: str
    size: tuple[int, int]
    average_rate: Fraction | None
    sample_rate: int


@pytest.fixture(scope="module")
def recording() -> Recording:
    camera = SyntheticCamera("porch", SCENE)
    sink = io.BytesIO()
    reported: list[FrameInfo] = []
    camera.run(
        sink,
        threading.Event(),
        realtime=False,
        duration_s=SECONDS,
        start_time=START,
        on_frame=reported.append,
    )
    data = sink.getvalue()
    with av.open(io.BytesIO(data), "r") as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        packets = [p for p in container.demux(video) if p.size]
    frames: list[npt.NDArray[np.uint8]] = []
    times: list[Fraction] = []
    chunks: list[npt.NDArray[np.float32]] = []
    audio_first: float | None = None
    with av.open(io.BytesIO(data), "r") as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.time_base is not None and audio.time_base is not None
        for frame in container.decode(video, audio):
            if isinstance(frame, av.VideoFrame):
                frames.append(np.asarray(frame.to_ndarray(format="rgb24"), dtype=np.uint8))
                assert frame.pts is not None
                times.append(Fraction(frame.pts) * video.time_base)
            else:
                assert isinstance(frame, av.AudioFrame)
                if audio_first is None:
                    assert frame.pts is not None
                    audio_first = float(frame.pts * audio.time_base)
                chunks.append(np.asarray(frame.to_ndarray()[0], dtype=np.float32))
        first = times[0]
        assert audio_first is not None
        return Recording(
            camera=camera,
            data=data,
            reported=reported,
            video_packets=packets,
            frames=frames,
            frame_times=[t - first for t in times],
            audio=np.concatenate(chunks).astype(np.float32),
            audio_start=audio_first - float(first),
            video_codec=video.codec_context.name,
            audio_codec=audio.codec_context.name,
            size=(video.codec_context.width, video.codec_context.height),
            average_rate=video.average_rate,
            sample_rate=audio.codec_context.sample_rate,
        )


def gray(rgb: npt.NDArray[np.uint8]) -> Gray:
    result: Gray = np.asarray(rgb, dtype=np.float64).mean(axis=2)
    return result


def outside_clock(recording: Recording, image: Gray) -> Gray:
    """`image` with the clock's box blanked out."""
    x0, y0, x1, y1 = recording.camera.clock_box
    masked = image.copy()
    masked[y0:y1, x0:x1] = 0
    return masked


def clock_crop(recording: Recording, image: Gray) -> Gray:
    x0, y0, x1, y1 = recording.camera.clock_box
    return image[y0:y1, x0:x1]


def test_streams_are_h264_and_aac_of_the_configured_shape(recording: Recording) -> None:
    assert recording.data[0] == 0x47  # an MPEG-TS sync byte
    assert recording.video_codec == "h264"
    assert recording.size == (SCENE.width, SCENE.height)
    assert recording.average_rate == SCENE.fps
    assert recording.audio_codec == "aac"
    assert recording.sample_rate == 48_000


def test_frames_are_counted_and_timed_by_the_frame_rate(recording: Recording) -> None:
    """duration_s is media time: 6 s at 15 fps is 90 frames, 1/15 s apart."""
    count = round(SECONDS * SCENE.fps)
    assert len(recording.frames) == count
    assert recording.frame_times == [Fraction(i, SCENE.fps) for i in range(count)]
    assert [f.index for f in recording.reported] == list(range(count))


def test_key_frames_every_interval_and_no_b_frames(recording: Recording) -> None:
    keys = [i for i, p in enumerate(recording.video_packets) if p.is_keyframe]
    gop = round(SCENE.fps * SCENE.keyframe_interval_s)
    assert keys == list(range(0, len(recording.video_packets), gop))
    # No B-frames: every packet is presented in the order it is decoded.
    assert all(p.pts == p.dts for p in recording.video_packets)


def test_capture_times_are_reported_from_the_start_time(recording: Recording) -> None:
    assert recording.camera.started_at == START
    for info in recording.reported:
        assert info.capture_time == pytest.approx(START + info.index / SCENE.fps)
        assert info.motion == motion_active(SCENE, info.offset_s)
        assert info.tone == tone_active(SCENE, info.offset_s)


def test_frames_change_outside_the_clock_only_while_the_object_moves(
    recording: Recording,
) -> None:
    """The rule a frame-differencing motion detector relies on: a still scene is still
    after compression (key frames included), a moving object changes many pixels."""
    moving = 0
    for i in range(1, len(recording.frames)):
        before = outside_clock(recording, gray(recording.frames[i - 1]))
        after = outside_clock(recording, gray(recording.frames[i]))
        difference = np.abs(after - before)
        changed = int((difference > 30).sum())
        motion = recording.reported[i].motion or recording.reported[i - 1].motion
        if motion:
            moving += 1
            assert changed > 1000, f"frame {i} differs in {changed} pixels only"
        else:
            assert difference.mean() < 0.5, f"frame {i} differs by {difference.mean():.2f}"
            assert changed < 20, f"frame {i} differs in {changed} pixels"
    # The window [2.0, 3.5) holds frames 30..52; frame 53 is the first without the object.
    assert moving == 24


def test_clock_changes_every_frame(recording: Recording) -> None:
    for i in range(1, len(recording.frames)):
        before = clock_crop(recording, gray(recording.frames[i - 1]))
        after = clock_crop(recording, gray(recording.frames[i]))
        assert int((np.abs(after - before) > 60).sum()) > 20, f"clock still at frame {i}"


def test_clock_shows_the_capture_time(recording: Recording) -> None:
    """The burnt-in clock reads as the frame's capture time, not its neighbour's: where
    the text of the right time and of a wrong one differ, the decoded clock is the right one."""
    camera = recording.camera
    for info in recording.reported[::7]:
        decoded = clock_crop(recording, gray(recording.frames[info.index]))
        right = clock_crop(recording, gray(camera.render(info.offset_s, info.capture_time)))
        assert np.abs(decoded - right).mean() < 6, f"frame {info.index}: clock unlike its time"
        for error_s in (1 / SCENE.fps, 0.5, 1.0, 3661.0):
            wrong = clock_crop(
                recording, gray(camera.render(info.offset_s, info.capture_time + error_s))
            )
            differ = np.abs(right - wrong) > 60
            assert differ.sum() > 20
            to_right = np.abs(decoded - right)[differ].mean()
            to_wrong = np.abs(decoded - wrong)[differ].mean()
            assert to_right * 3 < to_wrong, f"frame {info.index} reads like +{error_s} s"


def test_tone_is_loud_and_1khz_inside_its_window_and_quiet_outside(
    recording: Recording,
) -> None:
    samples = recording.audio
    rate = recording.sample_rate

    def window(start_s: float, end_s: float) -> npt.NDArray[np.float32]:
        first = round((start_s - recording.audio_start) * rate)
        last = round((end_s - recording.audio_start) * rate)
        return samples[max(0, first) : last]

    def rms(part: npt.NDArray[np.float32]) -> float:
        return float(np.sqrt(np.mean(part.astype(np.float64) ** 2)))

    tone = window(3.1, 3.9)
    quiet = np.concatenate([window(0.2, 2.9), window(4.1, 5.5)])
    assert rms(tone) > 0.25
    assert rms(quiet) < 0.01
    assert rms(tone) > 30 * rms(quiet)
    spectrum = np.abs(np.fft.rfft(tone))
    peak_hz = np.argmax(spectrum) * rate / len(tone)
    assert peak_hz == pytest.approx(1000, abs=5)


def test_sound_and_pictures_are_the_same_for_the_same_call() -> None:
    camera = SyntheticCamera("again", SCENE)
    assert np.array_equal(camera.sound(4800, 1024), camera.sound(4800, 1024))
    assert np.array_equal(camera.render(2.5, START), camera.render(2.5, START))


def test_clock_text_has_milliseconds_in_utc() -> None:
    assert clock_text(START + 0.123) == "2026-11-25 13:40:05.123 UTC"
    assert clock_text(0.0) == "1970-01-01 00:00:00.000 UTC"
    assert clock_text(0.9996) == "1970-01-01 00:00:01.000 UTC"


def test_read_clock_reads_the_burnt_in_clock_to_the_ms_after_h264() -> None:
    """`read_clock` is the inverse of the burnt-in clock: pictures rendered at known
    times (every digit in every place), encoded with H.264 and decoded, read back
    exactly to the ms (bench/live measures glass-to-glass latency with it)."""
    times = [START + 0.123, 0.0, 1234567890.987, 2**31 - 0.001, 4102444799.999]
    times += [START + n * 86_400 * 37.1 + n * 3_661.111 for n in range(1, 25)]
    camera = SyntheticCamera("reader", SyntheticScene(audio=False))
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mpegts") as container:
        video = container.add_stream("libx264", rate=15, options={"preset": "ultrafast"})
        video.width, video.height, video.pix_fmt = SCENE.width, SCENE.height, "yuv420p"
        video.bit_rate = 256_000
        for index, at in enumerate(times):
            frame = av.VideoFrame.from_ndarray(camera.render(1.0, at), format="rgb24")
            frame = frame.reformat(format="yuv420p")
            frame.pts, frame.time_base = index, Fraction(1, 15)
            container.mux(video.encode(frame))
        container.mux(video.encode())
    with av.open(io.BytesIO(buffer.getvalue()), "r") as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == len(times)
    for frame, at in zip(decoded, times, strict=True):
        assert clock_text(read_clock(frame.to_ndarray(format="rgb24"))) == clock_text(at)
        assert clock_text(read_clock(frame.to_ndarray(format="gray"))) == clock_text(at)


def test_read_clock_refuses_a_picture_without_a_clock() -> None:
    for blank in (np.zeros((360, 640, 3), np.uint8), np.full((360, 640), 128, np.uint8)):
        with pytest.raises(ValueError, match="no synthetic clock"):
            read_clock(blank)
    with pytest.raises(ValueError, match="too small"):
        read_clock(np.zeros((64, 64, 3), np.uint8))


def test_schedule_windows_start_inclusive_end_exclusive() -> None:
    assert not motion_active(SCENE, 1.999)
    assert motion_active(SCENE, 2.0)
    assert motion_active(SCENE, 3.499)
    assert not motion_active(SCENE, 3.5)
    assert tone_active(SCENE, 3.0)
    assert not tone_active(SCENE, 4.0)
    schedule = Schedule(SCENE)
    assert schedule.object_box(1.0) is None
    box = schedule.object_box(2.75)
    assert box is not None
    left, top, right, bottom = box
    assert 0 <= left < right <= SCENE.width and 0 <= top < bottom <= SCENE.height


def test_object_crosses_the_scene_during_its_window() -> None:
    schedule = Schedule(SCENE)
    boxes = [schedule.object_box(2.0 + 1.5 * k / 10) for k in range(10)]
    lefts = [box[0] for box in boxes if box is not None]
    assert len(lefts) == 10
    assert lefts == sorted(lefts)
    assert lefts[0] < SCENE.width // 8 and lefts[-1] > SCENE.width // 2


def test_random_motion_follows_the_seed_and_the_ranges() -> None:
    scene = SyntheticScene(random_motion=True, seed=7)
    windows = Schedule(scene).motion_windows(3600)
    assert windows == Schedule(SyntheticScene(random_motion=True, seed=7)).motion_windows(3600)
    assert windows != Schedule(SyntheticScene(random_motion=True, seed=8)).motion_windows(3600)
    assert 3600 / 105 <= len(windows) <= 3600 / 35
    end = 0.0
    for start, length in windows:
        assert 30 <= start - end <= 90
        assert 5 <= length <= 15
        end = start + length
    start, length = windows[10]
    assert motion_active(scene, start + length / 2)
    assert not motion_active(scene, start - 0.01)
    # Asking far ahead first gives the same answers as walking there.
    assert Schedule(scene).motion_at(start + 0.01) == Schedule(scene).motion_at(start + 0.01)


def test_scene_keeps_windows_as_tuples_and_refuses_bad_settings() -> None:
    scene = SyntheticScene(motion=[(1, 2)], tones=[(3, 4)])
    assert scene.motion == ((1.0, 2.0),)
    assert scene.tones == ((3.0, 4.0),)
    hash(scene)
    with pytest.raises(ValueError):
        SyntheticScene(width=641)
    with pytest.raises(ValueError):
        SyntheticScene(fps=0)
    with pytest.raises(ValueError):
        SyntheticScene(motion=[(1.0, 0.0)])
    with pytest.raises(ValueError):
        SyntheticScene(random_gap_s=(10.0, 5.0))


def test_realtime_frames_are_made_at_their_capture_time() -> None:
    """What a latency benchmark leans on: the burnt-in time is when the frame was made."""
    camera = SyntheticCamera("clock", SyntheticScene(width=320, height=180, audio=False))
    made: list[tuple[FrameInfo, float]] = []
    began = time.time()
    camera.run(
        io.BytesIO(),
        threading.Event(),
        duration_s=1.0,
        on_frame=lambda info: made.append((info, time.time())),
    )
    assert camera.started_at is not None
    assert began <= camera.started_at < began + 0.5
    assert time.time() - began >= 14 / 15
    assert len(made) >= 8  # 15, less the frames a loaded machine made too late
    for info, reported_at in made:
        assert 0 <= reported_at - info.capture_time < 0.5


@dataclass
class PipeRead:
    packets: dict[str, int]
    error: BaseException | None = None


def read_pipe(source: io.BufferedIOBase, result: PipeRead) -> None:
    try:
        with av.open(source, "r", format="mpegts") as container:
            for packet in container.demux():
                if packet.size:
                    kind = packet.stream.type
                    result.packets[kind] = result.packets.get(kind, 0) + 1
    except BaseException as err:  # reported to the test thread
        result.error = err


@pytest.fixture
def small_camera() -> SyntheticCamera:
    return SyntheticCamera("pipe", SyntheticScene(width=320, height=180, motion=[(0.5, 1.0)]))


@pytest.fixture
def stop() -> Iterator[threading.Event]:
    event = threading.Event()
    yield event
    event.set()


def test_pipe_streams_in_real_time_and_stops(
    small_camera: SyntheticCamera, stop: threading.Event
) -> None:
    thread, read_end = small_camera.open_pipe(stop)
    assert thread.name == "synthetic-pipe"
    assert thread.daemon
    result = PipeRead({})
    reader = threading.Thread(target=read_pipe, args=(read_end, result), name="pipe-reader")
    with read_end:
        reader.start()
        time.sleep(2.0)
        stop.set()
        thread.join(2.0)
        assert not thread.is_alive()
        reader.join(2.0)
        assert not reader.is_alive()
    assert result.error is None
    # About 2 s of video at 15 fps: paced by the clock, not as fast as possible.
    assert 15 <= result.packets.get("video", 0) <= 40
    assert result.packets.get("audio", 0) > 20


def test_pipe_delivers_each_frame_soon_after_its_capture(
    small_camera: SyntheticCamera, stop: threading.Event
) -> None:
    """Neither the muxer (waiting for sound to interleave) nor the reader's demuxer
    (waiting for the next PES) may hold a frame back: a latency benchmark measures us."""
    thread, read_end = small_camera.open_pipe(stop)
    delays = []
    options = {"fpsprobesize": "0"}  # take the frame rate from the stream, not 20 frames
    with read_end, av.open(read_end, "r", format="mpegts", options=options) as source:
        video = source.streams.video[0]
        assert video.time_base is not None
        first: int | None = None
        for packet in source.demux(video):
            if packet.pts is None:
                continue
            first = packet.pts if first is None else first
            assert small_camera.started_at is not None
            captured = small_camera.started_at + float((packet.pts - first) * video.time_base)
            delays.append(time.time() - captured)
            if len(delays) == 30:
                break
        stop.set()
    thread.join(2.0)
    assert not thread.is_alive()
    # One frame (67 ms) in the reader's parser is the floor; a loaded machine adds some.
    assert sorted(delays)[len(delays) // 2] < 0.3


def test_pipe_thread_ends_quietly_when_the_reader_goes_away(
    small_camera: SyntheticCamera, stop: threading.Event
) -> None:
    """A reader that closes its end is a normal end for the camera, not a traceback
    (an exception in the thread would fail this test through filterwarnings=error)."""
    thread, read_end = small_camera.open_pipe(stop)
    read_end.read(188 * 10)
    read_end.close()
    thread.join(2.0)
    assert not thread.is_alive()


def test_pipe_thread_ends_after_stop_when_nobody_reads(
    small_camera: SyntheticCamera, stop: threading.Event
) -> None:
    thread, read_end = small_camera.open_pipe(stop, realtime=False)
    with read_end:
        time.sleep(0.5)  # the pipe is full by now: the camera waits for room
        assert thread.is_alive()
        stop.set()
        thread.join(2.0)
        assert not thread.is_alive()
