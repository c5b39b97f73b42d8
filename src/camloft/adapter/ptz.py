"""Pan, tilt and zoom: the reference's PTZ tasks turned into moves of a camera's head.

The reference (1.5.1) has three kinds of action: `ptz_<dir>` moves for one
second and stops by itself, `ptzstart_<dir>` moves until `ptzstop`, with the
directions up, down, left, right, in and out. `PtzController` keeps that timing
for every camera; a `PtzDriver` only starts a move in one direction and stops:

- `VirtualPtz` steers the `SceneView` of a synthetic camera, so a command
  visibly moves the picture (demos and tests).
- `IsapiPtz` speaks Hikvision's ISAPI over HTTP with digest auth: continuous
  moves, `PUT /ISAPI/PTZCtrl/channels/<ch>/continuous`.
- `OnvifPtz` speaks ONVIF (onvif-zeep-async): `ContinuousMove` and `Stop` on a
  media profile.

Threads: the link thread hands an action to `PtzController.send`, which only
queues it; the worker thread `ptz-<camera>` calls the driver and ends each move
on time, so a slow or absent camera never holds up the link. A move that is not
stopped stops by itself after `max_move_s` (60 s by default).

Errors: a driver turns what its library raises into `PtzError` (a
`CamloftError`); the worker logs it with the camera's name and goes on with the
next command. `PtzSettings` are a camera's `[cameras.ptz]` table (see
`camloft.adapter.config`, which also gives synthetic cameras the virtual driver).
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from camloft.errors import BadRequest, CamloftError, ConfigError
from camloft.media.synthetic import SceneView

log = logging.getLogger("camloft.adapter.ptz")

STEP_SECONDS = 1.0  # how long a `ptz_<dir>` moves
MAX_MOVE_SECONDS = 60.0  # a `ptzstart_<dir>` never told to stop stops after this

DIRECTIONS: dict[str, tuple[int, int, int]] = {
    # (pan, tilt, zoom): positive pans right, tilts up and zooms in, as in ISAPI and ONVIF
    "up": (0, 1, 0),
    "down": (0, -1, 0),
    "left": (-1, 0, 0),
    "right": (1, 0, 0),
    "in": (0, 0, 1),
    "out": (0, 0, -1),
}

_T = TypeVar("_T")


class PtzError(CamloftError):
    """A camera's head could not be moved or stopped (unreachable, refused, timed out)."""

    code = "ptz_error"


class PtzSettings(BaseModel):
    """How a camera's head is driven: `[cameras.ptz]` in the adapter's config.

    `speed` is a percentage of the head's top speed. `channel` is the ISAPI
    video channel, or for ONVIF the media profile, counted from 1 in the order
    the camera lists them. `timeout_s` bounds each request to the camera.
    """

    model_config = ConfigDict(extra="forbid")

    driver: Literal["none", "virtual", "isapi", "onvif"] = "none"
    host: str | None = Field(
        default=None, min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:-]+$"
    )  # a name, an IPv4 or an IPv6 address (no brackets)
    port: int = Field(default=80, ge=1, le=65535)
    user: str = Field(default="", max_length=200)
    password: SecretStr = Field(default=SecretStr(""), max_length=200)
    channel: int = Field(default=1, ge=1, le=512)
    speed: int = Field(default=50, ge=1, le=100)
    timeout_s: float = Field(default=5.0, gt=0.0, le=60.0)
    max_move_s: float = Field(default=MAX_MOVE_SECONDS, ge=1.0, le=600.0)

    @model_validator(mode="after")
    def _host_when_networked(self) -> PtzSettings:
        if self.driver in ("isapi", "onvif") and self.host is None:
            raise ValueError(f"the {self.driver} PTZ driver needs the camera's host")
        if self.driver in ("none", "virtual") and self.host is not None:
            raise ValueError("host is only for the isapi and onvif PTZ drivers")
        return self


class PtzDriver(Protocol):
    """Moves one camera's head.

    Called from one thread at a time (a controller's worker), never from an
    event loop; each call may block for as long as the camera takes. Raise
    `PtzError` for what the camera or the network does wrong.
    """

    def start(self, direction: str) -> None:
        """Start moving in `direction` (one of `DIRECTIONS`) until `stop`."""

    def stop(self) -> None:
        """Stop any move."""

    def close(self) -> None:
        """Let go of connections; no call follows."""


def is_ptz_action(action: str) -> bool:
    """Whether `action` is one of the reference's PTZ tasks."""
    return action == "ptzstop" or any(
        action.startswith(prefix) and action.removeprefix(prefix) in DIRECTIONS
        for prefix in ("ptz_", "ptzstart_")
    )


@dataclass(frozen=True, slots=True)
class _Command:
    kind: Literal["move", "stop", "close"]
    direction: str = ""
    seconds: float = 0.0


_CLOSE = _Command("close")


class PtzController:
    """Runs one camera's PTZ tasks on a worker thread, `ptz-<camera>`, started at the first task.

    `ptz_<dir>` starts a move and stops it `step_s` later; `ptzstart_<dir>` starts
    one that runs until `ptzstop` or for `max_move_s` at most. Every command
    replaces the one before it (a new move cancels a pending stop), and commands
    that queue up behind a slow camera collapse into the latest.
    """

    def __init__(
        self,
        camera: str,
        driver: PtzDriver,
        *,
        step_s: float = STEP_SECONDS,
        max_move_s: float = MAX_MOVE_SECONDS,
    ) -> None:
        if not 0 < step_s <= max_move_s:
            raise ValueError("need 0 < step_s <= max_move_s")
        self.camera = camera
        self.driver = driver
        self.step_s = step_s
        self.max_move_s = max_move_s
        self._queue: queue.SimpleQueue[_Command] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def send(self, action: str) -> None:
        """Queue a PTZ task; returns at once. A non-PTZ action is a `BadRequest`."""
        command = self._parse(action)
        with self._lock:
            if self._closed:
                log.info("camera %s: PTZ is shut, %s ignored", self.camera, action)
                return
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name=f"ptz-{self.camera}", daemon=True
                )
                self._thread.start()
            self._queue.put(command)

    def close(self, timeout_s: float = 15.0) -> None:
        """Stop a move under way, then the worker, which closes the driver."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            thread = self._thread
            if thread is not None:
                self._queue.put(_CLOSE)
        if thread is None:
            self._call("close", self.driver.close)  # never used: nothing can be moving
            return
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("camera %s: PTZ busy for %.0f s, left behind", self.camera, timeout_s)

    def _parse(self, action: str) -> _Command:
        if action == "ptzstop":
            return _Command("stop")
        for prefix, seconds in (("ptz_", self.step_s), ("ptzstart_", self.max_move_s)):
            direction = action.removeprefix(prefix)
            if action.startswith(prefix) and direction in DIRECTIONS:
                return _Command("move", direction, seconds)
        raise BadRequest(f"{action!r} is not a PTZ action", code="invalid_action")

    def _run(self) -> None:
        stop_at: float | None = None  # monotonic time when the move under way ends
        try:
            while True:
                try:
                    wait = None if stop_at is None else max(0.0, stop_at - time.monotonic())
                    command = self._queue.get(timeout=wait)
                except queue.Empty:  # the move's time is up
                    stop_at = None
                    self._call("stop", self.driver.stop)
                    continue
                command = self._latest(command)
                if command.kind == "close":
                    if stop_at is not None:
                        self._call("stop", self.driver.stop)
                    return
                if command.kind == "stop":
                    stop_at = None
                    self._call("stop", self.driver.stop)
                    continue
                self._call(f"move {command.direction}", self.driver.start, command.direction)
                # Even after a failed start: the camera may have moved before it failed to answer.
                stop_at = time.monotonic() + command.seconds
        finally:
            self._call("close", self.driver.close)

    def _latest(self, command: _Command) -> _Command:
        """The last of `command` and those queued behind it (a close is never skipped)."""
        while command.kind != "close":
            try:
                command = self._queue.get_nowait()
            except queue.Empty:
                break
        return command

    def _call(self, what: str, call: Callable[..., None], *args: str) -> None:
        try:
            call(*args)
        except PtzError as err:
            log.warning("camera %s: PTZ %s failed: %s", self.camera, what, err.message)


class VirtualPtz:
    """Drives the `SceneView` of a synthetic camera: the picture pans, tilts and zooms."""

    def __init__(self, view: SceneView, *, speed: int = 50) -> None:
        self.view = view
        self.velocity = speed / 100  # of the view's top speed

    def start(self, direction: str) -> None:
        pan, tilt, zoom = DIRECTIONS[direction]
        self.view.move(pan * self.velocity, tilt * self.velocity, zoom * self.velocity)

    def stop(self) -> None:
        self.view.stop()

    def close(self) -> None:
        pass


def isapi_continuous_body(pan: int, tilt: int, zoom: int) -> bytes:
    """An ISAPI continuous move: speeds -100..100 (positive: right, up, in); all 0 stops."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<PTZData><pan>{pan}</pan><tilt>{tilt}</tilt><zoom>{zoom}</zoom></PTZData>"
    ).encode()


class IsapiPtz:
    """A Hikvision camera (or NVR channel) driven by ISAPI continuous moves.

    Each start and stop is one `PUT /ISAPI/PTZCtrl/channels/<channel>/continuous`
    with a `PTZData` body (`isapi_continuous_body`), the request Hikvision's own
    web client sends; digest auth, as Hikvision cameras require by default.
    """

    def __init__(
        self,
        camera: str,
        host: str,
        *,
        port: int = 80,
        user: str = "",
        password: str = "",
        channel: int = 1,
        speed: int = 50,
        timeout_s: float = 5.0,
    ) -> None:
        self.camera = camera
        self.speed = speed
        self.path = f"/ISAPI/PTZCtrl/channels/{channel}/continuous"
        self._client = httpx.Client(
            base_url=httpx.URL(scheme="http", host=host, port=port),
            auth=httpx.DigestAuth(user, password),
            timeout=timeout_s,
        )

    def start(self, direction: str) -> None:
        pan, tilt, zoom = (axis * self.speed for axis in DIRECTIONS[direction])
        self._put(pan, tilt, zoom)

    def stop(self) -> None:
        self._put(0, 0, 0)

    def close(self) -> None:
        self._client.close()

    def _put(self, pan: int, tilt: int, zoom: int) -> None:
        try:
            response = self._client.put(
                self.path,
                content=isapi_continuous_body(pan, tilt, zoom),
                headers={"Content-Type": "application/xml"},
            )
            response.raise_for_status()
        except httpx.HTTPError as err:
            raise PtzError(f"ISAPI {self.path} on camera {self.camera}: {err}") from err


def onvif_velocity(direction: str, speed: int) -> dict[str, dict[str, float]]:
    """The `Velocity` of an ONVIF ContinuousMove: generic spaces, each axis -1..1."""
    pan, tilt, zoom = (axis * speed / 100 for axis in DIRECTIONS[direction])
    return {"PanTilt": {"x": pan, "y": tilt}, "Zoom": {"x": zoom}}


@dataclass
class _OnvifSession:
    camera: Any  # onvif.ONVIFCamera
    ptz: Any  # its PTZ service
    profile: str  # the media profile's token


class OnvifPtz:
    """An ONVIF camera driven by `ContinuousMove` and `Stop` on one media profile.

    onvif-zeep-async is asyncio: its calls run on an event loop of this driver's
    own, in whichever thread calls the driver (the controller's worker, one at a
    time). The camera is reached at the first command, not before (the adapter
    starts even while a camera is away), and again after any failure.
    """

    CONNECT_TIMEOUT_S = 30.0  # the first command reads the WSDLs and asks the camera around

    def __init__(
        self,
        camera: str,
        host: str,
        *,
        port: int = 80,
        user: str = "",
        password: str = "",
        profile: int = 1,
        speed: int = 50,
        timeout_s: float = 5.0,
    ) -> None:
        self.camera = camera
        self.host = host
        self.port = port
        self.profile_index = profile
        self.speed = speed
        self.timeout_s = timeout_s
        self._user = user
        self._password = password
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: _OnvifSession | None = None

    def start(self, direction: str) -> None:
        velocity = onvif_velocity(direction, self.speed)
        self._call("ContinuousMove", lambda s: s.ptz.ContinuousMove(
            {"ProfileToken": s.profile, "Velocity": velocity}))  # fmt: skip

    def stop(self) -> None:
        self._call("Stop", lambda s: s.ptz.Stop(
            {"ProfileToken": s.profile, "PanTilt": True, "Zoom": True}))  # fmt: skip

    def close(self) -> None:
        if self._loop is None:
            return
        self._disconnect()
        self._loop.run_until_complete(self._loop.shutdown_default_executor())
        self._loop.close()
        self._loop = None

    def _call(self, what: str, request: Callable[[_OnvifSession], Awaitable[Any]]) -> None:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
        try:
            if self._session is None:
                self._session = self._run(self._connect(), self.CONNECT_TIMEOUT_S)
            self._run(request(self._session), self.timeout_s)
        except _onvif_errors() as err:
            self._disconnect()  # start afresh at the next command
            raise PtzError(f"ONVIF {what} on camera {self.camera}: {err!r}") from err

    def _run(self, coroutine: Awaitable[_T], timeout_s: float) -> _T:
        assert self._loop is not None
        return self._loop.run_until_complete(asyncio.wait_for(coroutine, timeout_s))

    async def _connect(self) -> _OnvifSession:
        # Imported here: onvif's import is heavy and configures logging; only its users pay.
        from onvif import ONVIFCamera

        camera = ONVIFCamera(self.host, self.port, self._user, self._password, no_cache=True)
        try:
            await camera.update_xaddrs()
            media = await camera.create_media_service()
            ptz = await camera.create_ptz_service()
            profiles = await media.GetProfiles()
            if not 1 <= self.profile_index <= len(profiles):
                raise PtzError(
                    f"camera {self.camera} has {len(profiles)} media profiles,"
                    f" not a profile {self.profile_index}"
                )
            token = profiles[self.profile_index - 1].token
        except BaseException:
            await camera.close()
            raise
        return _OnvifSession(camera, ptz, str(token))

    def _disconnect(self) -> None:
        session, self._session = self._session, None
        if session is None or self._loop is None:
            return
        try:
            self._run(session.camera.close(), self.timeout_s)
        except _onvif_errors() as err:
            log.info("camera %s: closing the ONVIF connection: %r", self.camera, err)


def _onvif_errors() -> tuple[type[BaseException], ...]:
    """What onvif-zeep-async raises for a camera that is away, refuses or answers nonsense."""
    import aiohttp
    import zeep.exceptions
    from onvif.exceptions import ONVIFError

    return (ONVIFError, zeep.exceptions.Error, aiohttp.ClientError, TimeoutError, OSError)


def ptz_controller(
    camera: str, settings: PtzSettings, view: SceneView | None = None
) -> PtzController | None:
    """The controller of a camera's head as its settings say; None for `driver = "none"`.

    The virtual driver steers `view`, the view of the camera's synthetic source.
    """
    driver: PtzDriver
    password = settings.password.get_secret_value()
    if settings.driver == "none":
        return None
    if settings.driver == "virtual":
        if view is None:
            raise ConfigError(f"camera {camera}: the virtual PTZ needs a synthetic source")
        driver = VirtualPtz(view, speed=settings.speed)
    elif settings.host is None:
        raise ConfigError(f"camera {camera}: the {settings.driver} PTZ driver needs a host")
    elif settings.driver == "isapi":
        driver = IsapiPtz(camera, settings.host, port=settings.port, user=settings.user,
                          password=password, channel=settings.channel, speed=settings.speed,
                          timeout_s=settings.timeout_s)  # fmt: skip
    else:
        driver = OnvifPtz(camera, settings.host, port=settings.port, user=settings.user,
                          password=password, profile=settings.channel, speed=settings.speed,
                          timeout_s=settings.timeout_s)  # fmt: skip
    return PtzController(camera, driver, max_move_s=settings.max_move_s)
