"""The adapter's settings: which cameras, where their logger is, how each records.

`camloft adapter --config cameras.toml` reads a file like::

    logger_url = "https://logger-1.example.com"   # or, in a fleet, auth_url = "https://auth.example.com"
    spool_dir = "/var/lib/camloft-adapter"

    [[cameras]]
    uidd = "3.1"
    key = "…"                  # printed by `camloft admin device add`
    name = "Shop Floor"
    source = "rtsp://user:pass@192.168.1.20/Streaming/Channels/101"
    record = "motion"          # or "continuous"
    tz = 1.0
    [cameras.motion]
    sensitivity = 6
    mask = [{left = 0.0, top = 0.0, right = 1.0, bottom = 0.1}]
    [cameras.ptz]
    driver = "isapi"           # or "onvif", "virtual", "none" (the default)
    host = "192.168.1.20"
    user = "admin"
    password = "…"

`source` is any PyAV input (`rtsp://…`, a file path), or `synthetic` for a
camera made up in-process (demos and tests). Unknown keys are refused.

PTZ (`camloft.adapter.ptz.PtzSettings`): a synthetic camera whose `[cameras.ptz]`
names no driver gets the virtual one, which pans its picture over a larger
world; `driver = "none"` turns that off. That default is made here, in
`CameraSettings`, the one place that sees both the source and the PTZ table.
The virtual driver needs a synthetic source.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from camloft.adapter.motion import MotionSettings
from camloft.adapter.ptz import PtzSettings
from camloft.adapter.sound import SoundSettings
from camloft.errors import ConfigError
from camloft.ids import DeviceRef
from camloft.media.synthetic import SyntheticScene


class SyntheticSettings(BaseModel):
    """The scene of a `source = "synthetic"` camera (see camloft.media.synthetic)."""

    model_config = ConfigDict(extra="forbid")

    width: int = Field(default=640, ge=64, le=1920)
    height: int = Field(default=360, ge=64, le=1080)
    fps: int = Field(default=15, ge=1, le=30)
    motion: list[tuple[float, float]] = Field(default_factory=list, max_length=1000)
    random_motion: bool = True
    seed: int = 0
    random_gap_s: tuple[float, float] = (20.0, 60.0)
    random_burst_s: tuple[float, float] = (4.0, 10.0)
    tones: list[tuple[float, float]] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _makes_a_scene(self) -> Self:
        self.scene()  # its own checks (even sizes, sane ranges) become validation errors
        return self

    def scene(self) -> SyntheticScene:
        return SyntheticScene(
            width=self.width,
            height=self.height,
            fps=self.fps,
            motion=self.motion,
            random_motion=self.random_motion,
            seed=self.seed,
            random_gap_s=self.random_gap_s,
            random_burst_s=self.random_burst_s,
            tones=self.tones,
        )


class CameraSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uidd: str
    key: str = Field(min_length=16, max_length=200)
    name: str = Field(default="camera", min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=2000)
    loop: bool = False  # a file source starts again at its end
    # A low-resolution stream of the same camera for motion and sound analysis, so the
    # main stream is only copied (its key frames still give the thumbs).
    substream: str | None = Field(default=None, min_length=1, max_length=2000)
    record: Literal["motion", "continuous"] = "motion"
    pre_roll_seconds: float = Field(default=5.0, ge=0.0, le=30.0)
    segment_seconds: float = Field(default=2.0, ge=0.5, le=10.0)
    tz: float = Field(default=0.0, ge=-14.0, le=14.0)
    thumb_every_seconds: float = Field(default=60.0, ge=5.0, le=3600.0)
    # Live video stops this long after the last livecommand (the reference's 60 s).
    live_tail_seconds: float = Field(default=60.0, ge=1.0, le=600.0)
    # Start live video from the packets since the last key frame (at once), or wait
    # for the camera's next key frame.
    live_from_buffer: bool = True
    motion: MotionSettings = Field(default_factory=MotionSettings)
    sound: SoundSettings = Field(default_factory=SoundSettings)
    synthetic: SyntheticSettings = Field(default_factory=SyntheticSettings)
    ptz: PtzSettings = Field(default_factory=PtzSettings)

    @field_validator("uidd")
    @classmethod
    def _valid_uidd(cls, value: str) -> str:
        DeviceRef.parse(value)
        return value

    @model_validator(mode="after")
    def _ptz_for_the_source(self) -> CameraSettings:
        synthetic = self.source == "synthetic"
        if synthetic and "driver" not in self.ptz.model_fields_set:
            self.ptz = self.ptz.model_copy(update={"driver": "virtual"})
        elif self.ptz.driver == "virtual" and not synthetic:
            raise ValueError('the virtual PTZ driver needs source = "synthetic"')
        return self

    @property
    def device(self) -> DeviceRef:
        return DeviceRef.parse(self.uidd)


class AdapterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # Where the cameras' video goes: one logger, or (in a fleet) the logger an
    # authenticator names for each device (camloft.adapter.home). One of the two.
    logger_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+/?$")
    auth_url: str | None = Field(default=None, pattern=r"^https?://[^/\s]+/?$")
    spool_dir: Path = Path("adapter-spool")
    cameras: list[CameraSettings] = Field(default_factory=list, max_length=1000)

    @model_validator(mode="after")
    def _one_home(self) -> Self:
        if (self.logger_url is None) == (self.auth_url is None):
            raise ValueError("give one of logger_url (a logger) or auth_url (an authenticator)")
        return self

    @property
    def where(self) -> str:
        """Where the video goes, for people."""
        if self.logger_url is not None:
            return self.logger_url
        return f"the loggers {self.auth_url} names"


def load_adapter_settings(path: Path) -> AdapterSettings:
    try:
        return AdapterSettings(**tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, tomllib.TOMLDecodeError, ValidationError) as err:
        raise ConfigError(f"cannot use adapter config {path}: {err}") from err
