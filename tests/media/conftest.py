"""Camera-like media made inside the tests, in memory: H.264 (libx264) and AAC.

`encode_camera()` stands in for a camera: a moving bar at 320x180, 15 fps, a
key frame every 15 frames, and a 440 Hz tone, interleaved in time order the
way a camera sends them. Session fixtures cache the common cases.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import pytest

WIDTH, HEIGHT, FPS, GOP = 320, 180, 15, 15
SAMPLE_RATE, AUDIO_FRAME = 48_000, 1024


def encode_camera(
    seconds: float,
    *,
    audio: bool = True,
    container: str = "mpegts",
    start_seconds: float = 0.0,
    bframes: int = 0,
) -> bytes:
    """`seconds` of H.264 (+ AAC) in an in-memory `container`; its clock starts at `start_seconds`.

    Each output packet is muxed as soon as it is encoded, video and audio in time order.
    """
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container) as output:
        video = output.add_stream(
            "libx264",
            rate=FPS,
            options={
                "g": str(GOP),
                "keyint_min": str(GOP),
                "sc_threshold": "0",
                "bf": str(bframes),
                "preset": "ultrafast" if bframes == 0 else "veryfast",
                "threads": "1",
            },
        )
        video.width, video.height, video.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        sound = output.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio else None

        frames = round(seconds * FPS)
        first_frame = round(start_seconds * FPS)
        samples = round(seconds * SAMPLE_RATE)
        first_sample = round(start_seconds * SAMPLE_RATE)
        tone = (0.2 * np.sin(2 * np.pi * 440 * np.arange(samples) / SAMPLE_RATE)).astype(np.float32)
        sent = 0
        for index in range(frames):
            image = np.full((HEIGHT, WIDTH, 3), 40, np.uint8)
            x = (index * 7) % (WIDTH - 16)
            image[:, x : x + 16] = (250, 200, 30)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = first_frame + index
            output.mux(video.encode(frame))
            # The audio up to the end of this video frame, in camera order.
            until = min(samples, round((index + 1) * SAMPLE_RATE / FPS))
            while sound is not None and sent + AUDIO_FRAME <= until:
                chunk = av.AudioFrame.from_ndarray(
                    tone[None, sent : sent + AUDIO_FRAME], format="flt", layout="mono"
                )
                chunk.sample_rate = SAMPLE_RATE
                chunk.pts = first_sample + sent
                output.mux(sound.encode(chunk))
                sent += AUDIO_FRAME
        output.mux(video.encode())
        if sound is not None:
            output.mux(sound.encode())
    return buffer.getvalue()


@dataclass(frozen=True)
class Packet:
    """What a test compares about a demuxed packet."""

    kind: str  # "video" | "audio"
    pts: int
    dts: int
    duration: int
    time_base: Fraction
    keyframe: bool
    data: bytes


def demux_packets(data: bytes) -> list[Packet]:
    """Every packet of a media file with timestamps, in demux order (no decoding)."""
    packets = []
    with av.open(io.BytesIO(data), "r") as container:
        streams = [*container.streams.video, *container.streams.audio]
        for packet in container.demux(streams):
            if packet.pts is None or packet.dts is None:
                continue
            packets.append(
                Packet(
                    packet.stream.type,
                    packet.pts,
                    packet.dts,
                    packet.duration or 0,
                    packet.time_base,
                    packet.is_keyframe,
                    bytes(packet),
                )
            )
    return packets


@pytest.fixture(scope="session")
def camera_ts() -> bytes:
    """9 s of H.264 + AAC in MPEG-TS, as a camera over RTSP would give after demuxing."""
    return encode_camera(9.0)


@pytest.fixture(scope="session")
def camera_ts_bframes() -> bytes:
    """Like `camera_ts`, with B-frames: pts and dts differ."""
    return encode_camera(9.0, bframes=2)


@pytest.fixture(scope="session")
def camera_ts_video_only() -> bytes:
    return encode_camera(5.0, audio=False)


@pytest.fixture(scope="session")
def camera_mp4() -> bytes:
    """H.264 + AAC in MP4: SPS/PPS only in the stream's extradata, as over RTSP."""
    return encode_camera(5.0, container="mp4")
