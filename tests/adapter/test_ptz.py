"""PTZ: the reference's `ptz_<dir>`, `ptzstart_<dir>` and `ptzstop` (1.5.1), end to end.

- The controller's timing, with a driver that only records when it is called.
- The virtual PTZ without stand-ins: a synthetic camera encodes real H.264 while
  commands go through the controller; the decoded pictures show the pan and the zoom.
- ISAPI and ONVIF against small devices served on 127.0.0.1 by this module: no
  Hikvision or ONVIF camera can run here, so these speak the cameras' side of the
  protocols (digest auth and the ISAPI continuous endpoint; WS-Security and the
  ONVIF device, media and PTZ services) and record what the drivers sent.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import logging
import re
import secrets
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import av
import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from camloft.access import ADMIN_TASKS, PTZ_DIRECTIONS
from camloft.adapter.camera import Camera
from camloft.adapter.config import CameraSettings, SyntheticSettings
from camloft.adapter.ptz import (
    DIRECTIONS,
    IsapiPtz,
    OnvifPtz,
    PtzController,
    PtzError,
    PtzSettings,
    VirtualPtz,
    is_ptz_action,
    isapi_continuous_body,
    onvif_velocity,
    ptz_controller,
)
from camloft.adapter.synthetic_source import OPEN_OPTIONS
from camloft.errors import BadRequest
from camloft.media.synthetic import FrameInfo, SceneView, SyntheticCamera, SyntheticScene

Gray = npt.NDArray[np.float64]
KEY = "k" * 32


def wait_until(condition: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


# the controller


class RecordingDriver:
    """A driver that moves nothing: it notes each call and when it came (after `delay_s`)."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.calls: list[tuple[float, str]] = []
        self.fail_next = False

    def _note(self, call: str) -> None:
        time.sleep(self.delay_s)
        self.calls.append((time.monotonic(), call))
        if self.fail_next:
            self.fail_next = False
            raise PtzError("the camera said no")

    def start(self, direction: str) -> None:
        self._note(f"start {direction}")

    def stop(self) -> None:
        self._note("stop")

    def close(self) -> None:
        self.calls.append((time.monotonic(), "close"))

    def names(self) -> list[str]:
        return [name for _, name in self.calls]


@pytest.fixture
def driver() -> RecordingDriver:
    return RecordingDriver()


@pytest.fixture
def controller(driver: RecordingDriver) -> Iterator[PtzController]:
    ptz = PtzController("porch", driver, max_move_s=5.0)
    yield ptz
    ptz.close()


def test_ptz_step_moves_for_one_second_then_stops(
    controller: PtzController, driver: RecordingDriver
) -> None:
    sent = time.monotonic()
    controller.send("ptz_left")
    wait_until(lambda: len(driver.calls) == 2)
    (started, start), (stopped, stop) = driver.calls
    assert (start, stop) == ("start left", "stop")
    assert started - sent < 0.1
    assert stopped - started == pytest.approx(1.0, abs=0.1)
    time.sleep(0.3)
    assert len(driver.calls) == 2


def test_a_new_command_cancels_the_pending_stop(
    controller: PtzController, driver: RecordingDriver
) -> None:
    controller.send("ptz_left")
    time.sleep(0.5)
    controller.send("ptz_up")
    wait_until(lambda: len(driver.calls) == 3)
    time.sleep(0.3)
    assert driver.names() == ["start left", "start up", "stop"]
    # The stop belongs to the second move: one second after it, not after the first.
    assert driver.calls[2][0] - driver.calls[1][0] == pytest.approx(1.0, abs=0.1)


def test_ptzstart_moves_until_ptzstop(controller: PtzController, driver: RecordingDriver) -> None:
    controller.send("ptzstart_in")
    time.sleep(1.5)  # past the one second of a ptz_ step: still moving
    assert driver.names() == ["start in"]
    controller.send("ptzstop")
    wait_until(lambda: len(driver.calls) == 2)
    assert driver.calls[1][0] - driver.calls[0][0] == pytest.approx(1.5, abs=0.15)
    time.sleep(0.3)
    assert driver.names() == ["start in", "stop"]


def test_a_move_never_stopped_stops_after_the_safety_cap(driver: RecordingDriver) -> None:
    ptz = PtzController("porch", driver, max_move_s=1.2)
    try:
        ptz.send("ptzstart_right")
        wait_until(lambda: len(driver.calls) == 2)
        assert driver.names() == ["start right", "stop"]
        assert driver.calls[1][0] - driver.calls[0][0] == pytest.approx(1.2, abs=0.1)
    finally:
        ptz.close()


def test_send_never_waits_for_a_slow_camera_and_a_backlog_collapses() -> None:
    """The link thread hands a task over and goes on; commands that piled up behind a
    slow camera are worth only their latest."""
    slow = RecordingDriver(delay_s=0.5)
    ptz = PtzController("porch", slow)
    try:
        ptz.send("ptz_left")
        time.sleep(0.1)  # the worker is in the camera's start now
        began = time.monotonic()
        for action in ("ptz_right", "ptz_up", "ptzstart_down"):
            ptz.send(action)
        assert time.monotonic() - began < 0.05
        wait_until(lambda: len(slow.calls) == 2)
        time.sleep(0.6)
        assert slow.names() == ["start left", "start down"]
    finally:
        ptz.close()
    assert slow.names() == ["start left", "start down", "stop", "close"]


def test_driver_errors_are_logged_with_the_camera_and_the_next_command_runs(
    controller: PtzController, driver: RecordingDriver, caplog: pytest.LogCaptureFixture
) -> None:
    driver.fail_next = True
    with caplog.at_level(logging.WARNING, logger="camloft.adapter.ptz"):
        controller.send("ptzstart_left")
        controller_sees = lambda: "camera porch: PTZ move left failed" in caplog.text  # noqa: E731
        wait_until(controller_sees)
    controller.send("ptzstop")
    wait_until(lambda: driver.names()[-1:] == ["stop"])
    assert "the camera said no" in caplog.text


def test_close_stops_a_move_under_way_and_closes_the_driver(driver: RecordingDriver) -> None:
    ptz = PtzController("porch", driver)
    ptz.send("ptzstart_out")
    wait_until(lambda: len(driver.calls) == 1)
    ptz.close()
    assert driver.names() == ["start out", "stop", "close"]
    ptz.send("ptz_left")  # after close: ignored, not an error
    time.sleep(0.1)
    assert driver.names() == ["start out", "stop", "close"]


def test_close_of_an_unused_controller_starts_no_thread(driver: RecordingDriver) -> None:
    before = threading.active_count()
    PtzController("porch", driver).close()
    assert driver.names() == ["close"]
    assert threading.active_count() == before


def test_ptz_actions_are_the_references_and_nothing_else(controller: PtzController) -> None:
    assert set(DIRECTIONS) == set(PTZ_DIRECTIONS)
    ptz_tasks = {a for a in ADMIN_TASKS if a.startswith("ptz")}
    assert len(ptz_tasks) == 13
    assert all(is_ptz_action(a) for a in ptz_tasks)
    for other in ("triggerevent", "ptz_", "ptz_sideways", "ptzstart", "ptzstop_up", "ptz_in "):
        assert not is_ptz_action(other)
        with pytest.raises(BadRequest):
            controller.send(other)


# the virtual PTZ


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_scene_view_pans_tilts_and_zooms_at_its_speeds_and_stays_in_the_world() -> None:
    clock = FakeClock()
    view = SceneView(640, 360, clock=clock)
    assert view.rect() == (0.0, 0.0, 640.0, 360.0)  # home: the scene itself
    assert view.world == (-320, -180, 960, 540)
    view.move(-0.5, 0.0, 0.0)
    clock.now += 1.0
    assert view.rect() == pytest.approx((-160.0, 0.0, 480.0, 360.0))  # a quarter width
    view.move(0.0, 1.0, 0.0)  # up: the view rises
    clock.now += 10.0
    assert view.rect() == pytest.approx((-160.0, -180.0, 480.0, 180.0))  # stopped at the top
    view.move(0.0, 0.0, 1.0)
    clock.now += 1.0
    left, top, right, bottom = view.rect()
    assert (right - left, bottom - top) == pytest.approx((320.0, 180.0))  # 2x
    assert ((left + right) / 2, (top + bottom) / 2) == pytest.approx((160.0, 0.0))
    view.move(0.0, 0.0, -1.0)
    clock.now += 60.0
    assert view.rect() == pytest.approx((-320.0, -180.0, 960.0, 540.0))  # the whole world
    assert view.moving
    view.stop()
    assert not view.moving
    with pytest.raises(ValueError):
        view.move(1.5, 0.0, 0.0)


W, H, FPS = 320, 180, 15
SPEED = 50  # % of the top speed: a pan of W/2 * 0.5 = 80 px/s, a zoom of 2 ** 0.5 per second
PLAN = {15: "ptz_left", 40: "ptz_in"}  # frame index -> task sent once it is encoded


@dataclass
class Film:
    camera: SyntheticCamera
    frames: dict[int, Gray] = field(default_factory=dict)  # decoded, by frame index

    def at(self, index: int) -> Gray:
        """Frame `index`, or the one before it if a busy machine dropped it (real time)."""
        found = max(i for i in self.frames if i <= index)
        assert index - found <= 2, f"frames {found + 1}..{index} are missing"
        return self.frames[found]


def gray(rgb: npt.NDArray[np.uint8]) -> Gray:
    result: Gray = np.asarray(rgb, dtype=np.float64).mean(axis=2)
    return result


@pytest.fixture(scope="module")
def film() -> Film:
    """5 s of a synthetic camera filmed in real time through a virtual PTZ: `ptz_left`
    after 1 s, `ptz_in` after 2.7 s, each through the controller and its timer."""
    view = SceneView(W, H)
    camera = SyntheticCamera("ptz", SyntheticScene(width=W, height=H, fps=FPS, audio=False), view)
    ptz = PtzController("ptz", VirtualPtz(view, speed=SPEED))
    sink = io.BytesIO()

    def on_frame(info: FrameInfo) -> None:
        if info.index in PLAN:
            ptz.send(PLAN[info.index])

    try:
        camera.run(sink, threading.Event(), realtime=True, duration_s=5.0, on_frame=on_frame)
    finally:
        ptz.close()
    result = Film(camera)
    first: int | None = None
    with av.open(io.BytesIO(sink.getvalue()), "r") as container:
        for frame in container.decode(video=0):
            assert frame.pts is not None and frame.time_base is not None
            first = frame.pts if first is None else first  # frame 0: never late, never skipped
            index = round((frame.pts - first) * frame.time_base * FPS)
            result.frames[index] = gray(np.asarray(frame.to_ndarray(format="rgb24"), np.uint8))
    return result


@functools.cache
def label_margin() -> int:
    """Rows at the top (the clock) and at the bottom (the name) that hold labels."""
    return SyntheticCamera(scene=SyntheticScene(width=W, height=H)).clock_box[3] + 2


def band(image: Gray) -> Gray:
    """The picture's rows between the clock and the name: the labels never move."""
    return image[label_margin() : H - label_margin()]


def pan_shift(before: Gray, after: Gray) -> int:
    """How far the content moved right (negative: left), by the best match of the two."""
    errors = {}
    for shift in range(-150, 151):
        if shift >= 0:
            a, b = after[:, shift:], before[:, : W - shift]
        else:
            a, b = after[:, :shift], before[:, -shift:]
        errors[shift] = float(np.abs(a - b).mean())
    return min(errors, key=errors.__getitem__)


def zoom_factor(before: Gray, after: Gray) -> float:
    """How much bigger the content of the middle grew, by the best match of the two."""
    errors = {}
    for factor in np.linspace(1.0, 2.0, 101):
        width, height = W / factor, H / factor
        box = ((W - width) / 2, (H - height) / 2, (W + width) / 2, (H + height) / 2)
        grown = Image.fromarray(before.astype(np.float32), "F").resize(
            (W, H), Image.Resampling.BILINEAR, box=box
        )
        middle = (slice(H // 4, 3 * H // 4), slice(W // 4, 3 * W // 4))
        errors[float(factor)] = float(np.abs(np.asarray(grown)[middle] - after[middle]).mean())
    return min(errors, key=errors.__getitem__)


def still(a: Gray, b: Gray) -> bool:
    difference = np.abs(band(a) - band(b))
    return bool(difference.mean() < 0.5 and (difference > 30).sum() < 20)


def test_virtual_ptz_left_pans_the_picture_for_one_second(film: Film) -> None:
    """`ptz_left` turns the view left: what the camera sees slides right by the speed
    times one second, then the picture stands still again."""
    assert still(film.at(2), film.at(14))  # nothing moves before the task
    shift = pan_shift(band(film.at(14)), band(film.at(36)))
    assert shift == pytest.approx(80, abs=12)
    assert not still(film.at(14), film.at(20))  # moving
    assert still(film.at(34), film.at(40))  # stopped by itself after a second


def test_virtual_ptz_in_zooms_the_picture_for_one_second(film: Film) -> None:
    """`ptz_in` narrows the view: features grow by the zoom speed over one second."""
    factor = zoom_factor(film.at(40), film.at(66))
    assert factor == pytest.approx(2**0.5, abs=0.08)
    assert still(film.at(60), film.at(74))


def test_the_clock_and_name_stay_put_while_the_view_moves(film: Film) -> None:
    x0, y0, x1, y1 = film.camera.clock_box
    for index in (14, 20, 36, 50, 66):
        clock = film.at(index)[y0:y1, x0:x1]
        assert (clock < 40).mean() > 0.6  # the black box is still there, white digits on it
        name = film.at(index)[H - y1 : H - y0, x0 : x0 + 10]
        assert (name < 40).mean() > 0.6


def test_a_synthetic_camera_gets_the_virtual_ptz_and_tasks_move_its_stream(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The adapter's wiring: a task from the link reaches the controller, whose virtual
    driver turns the view that the camera's stream (read over TCP, as the adapter does)
    is filmed through."""
    settings = CameraSettings(
        uidd="1.1", key=KEY, name="yard", source="synthetic",
        synthetic=SyntheticSettings(width=W, height=H, random_motion=False),
    )  # fmt: skip
    assert settings.ptz.driver == "virtual"
    camera = Camera(settings, "http://127.0.0.1:9", tmp_path)
    synthetic = camera._synthetic
    assert camera.ptz is not None and synthetic is not None
    synthetic.start()
    frames: list[Gray] = []
    try:
        with av.open(synthetic.url, "r", format="mpegts", options=OPEN_OPTIONS) as stream:
            for frame in stream.decode(video=0):
                frames.append(band(gray(np.asarray(frame.to_ndarray(format="rgb24"), np.uint8))))
                if len(frames) == 8:
                    camera.on_task("ptz_right")
                if len(frames) == 8 + 2 * FPS:
                    break
    finally:
        camera.ptz.close()
        synthetic.stop()
    assert pan_shift(frames[7], frames[-1]) == pytest.approx(-80, abs=12)

    other = CameraSettings(uidd="1.2", key=KEY, name="gate", source="rtsp://127.0.0.1:9/x")
    assert other.ptz.driver == "none"
    plain = Camera(other, "http://127.0.0.1:9", tmp_path)
    assert plain.ptz is None
    with caplog.at_level(logging.INFO, logger="camloft.adapter.camera"):
        plain.on_task("ptz_up")
    assert "camera gate: no PTZ driver for ptz_up" in caplog.text


# ISAPI


@dataclass
class Put:
    at: float
    path: str
    body: bytes

    @property
    def speeds(self) -> tuple[int, int, int]:
        root = ET.fromstring(self.body)
        assert root.tag == "PTZData"
        assert [child.tag for child in root] == ["pan", "tilt", "zoom"]
        return tuple(int(child.text or "") for child in root)  # type: ignore[return-value]


class IsapiCamera:
    """The camera's side of ISAPI continuous PTZ, on 127.0.0.1: HTTP digest auth
    (RFC 7616, MD5, qop=auth, as Hikvision cameras ask by default) in front of
    `PUT /ISAPI/PTZCtrl/channels/<n>/continuous`, answered with a `ResponseStatus`.
    Stopping is the same request with every speed 0. Records what it accepted."""

    REALM = "IP Camera(E1234)"

    def __init__(self, user: str, password: str, channels: int = 1) -> None:
        self.user, self.password, self.channels = user, password, channels
        self.puts: list[Put] = []
        self.refused = 0
        self._nonces: set[str] = set()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def authorized(self, method: str, header: str | None) -> bool:
        if not header or not header.startswith("Digest "):
            return False
        fields = {k: v1 or v2 for k, v1, v2 in re.findall(r'(\w+)=(?:"([^"]*)"|([^,\s]*))', header)}
        if fields.get("username") != self.user or fields.get("nonce") not in self._nonces:
            return False

        def md5(text: str) -> str:
            return hashlib.md5(text.encode()).hexdigest()

        ha1 = md5(f"{self.user}:{self.REALM}:{self.password}")
        ha2 = md5(f"{method}:{fields.get('uri')}")
        expected = md5(
            f"{ha1}:{fields['nonce']}:{fields.get('nc')}:{fields.get('cnonce')}:auth:{ha2}"
        )
        return fields.get("qop") == "auth" and fields.get("response") == expected

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_PUT(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if not camera.authorized("PUT", self.headers.get("Authorization")):
                    camera.refused += 1
                    nonce = secrets.token_hex(16)
                    camera._nonces.add(nonce)
                    self.send_response(401)
                    challenge = f'qop="auth", realm="{camera.REALM}", nonce="{nonce}"'
                    self.send_header("WWW-Authenticate", f'Digest {challenge}, stale="FALSE"')
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                match = re.fullmatch(r"/ISAPI/PTZCtrl/channels/(\d+)/continuous", self.path)
                if match is None or not 1 <= int(match[1]) <= camera.channels:
                    self._status(404, 4, "Invalid Operation", "notSupport")
                    return
                camera.puts.append(Put(time.monotonic(), self.path, body))
                self._status(200, 1, "OK", "ok")

            def _status(self, http: int, code: int, text: str, sub: str) -> None:
                answer = (
                    '<?xml version="1.0" encoding="UTF-8"?>'
                    '<ResponseStatus version="2.0" xmlns="http://www.isapi.org/ver20/XMLSchema">'
                    f"<requestURL>{self.path}</requestURL><statusCode>{code}</statusCode>"
                    f"<statusString>{text}</statusString><subStatusCode>{sub}</subStatusCode>"
                    "</ResponseStatus>"
                ).encode()
                self.send_response(http)
                self.send_header("Content-Type", "application/xml; charset=UTF-8")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        return Handler


@pytest.fixture
def isapi_camera() -> Iterator[IsapiCamera]:
    camera = IsapiCamera("admin", "Pa55word", channels=2)
    yield camera
    camera.close()


def test_isapi_body_is_ptzdata_with_pan_tilt_zoom() -> None:
    body = isapi_continuous_body(-50, 0, 0)
    assert body == (
        b'<?xml version="1.0" encoding="UTF-8"?>'
        b"<PTZData><pan>-50</pan><tilt>0</tilt><zoom>0</zoom></PTZData>"
    )


def test_isapi_ptz_step_and_start_stop(isapi_camera: IsapiCamera) -> None:
    settings = PtzSettings.model_validate(  # as from the adapter's TOML
        {"driver": "isapi", "host": "127.0.0.1", "port": isapi_camera.port, "user": "admin",
         "password": "Pa55word", "channel": 2, "speed": 60}
    )  # fmt: skip
    ptz = ptz_controller("shop", settings)
    assert ptz is not None and isinstance(ptz.driver, IsapiPtz)
    try:
        ptz.send("ptz_left")
        wait_until(lambda: len(isapi_camera.puts) == 2)
        left, stop = isapi_camera.puts
        assert left.path == stop.path == "/ISAPI/PTZCtrl/channels/2/continuous"
        assert left.speeds == (-60, 0, 0)
        assert stop.speeds == (0, 0, 0)
        assert stop.at - left.at == pytest.approx(1.0, abs=0.15)

        ptz.send("ptzstart_up")
        wait_until(lambda: len(isapi_camera.puts) == 3)
        time.sleep(1.5)
        assert len(isapi_camera.puts) == 3  # still moving: no stop after a second
        ptz.send("ptzstop")
        wait_until(lambda: len(isapi_camera.puts) == 4)
        assert [p.speeds for p in isapi_camera.puts[2:]] == [(0, 60, 0), (0, 0, 0)]

        ptz.send("ptz_in")
        wait_until(lambda: len(isapi_camera.puts) == 6)
        assert [p.speeds for p in isapi_camera.puts[4:]] == [(0, 0, 60), (0, 0, 0)]
    finally:
        ptz.close()
    # Digest auth: one challenge, then the client answers each request's nonce itself.
    assert isapi_camera.refused == 1


def test_isapi_refusals_become_ptz_errors(
    isapi_camera: IsapiCamera, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = IsapiPtz("shop", "127.0.0.1", port=isapi_camera.port, user="admin", password="nope")
    with pytest.raises(PtzError, match="401") as raised:
        wrong.start("left")
    assert raised.value.__cause__ is not None  # the httpx error, kept as the cause
    wrong.close()

    no_channel = IsapiPtz("shop", "127.0.0.1", port=isapi_camera.port, user="admin",
                          password="Pa55word", channel=7)  # fmt: skip
    with pytest.raises(PtzError, match="404"):
        no_channel.stop()
    no_channel.close()

    ptz = PtzController("shop", IsapiPtz("shop", "127.0.0.1", port=isapi_camera.port,
                                         user="admin", password="nope", timeout_s=2.0))  # fmt: skip
    with caplog.at_level(logging.WARNING, logger="camloft.adapter.ptz"):
        ptz.send("ptz_down")
        wait_until(lambda: "camera shop: PTZ stop failed" in caplog.text, timeout_s=5.0)
        ptz.close()
    assert "camera shop: PTZ move down failed" in caplog.text
    assert isapi_camera.puts == []


def test_isapi_camera_away_is_a_ptz_error() -> None:
    with socket_closed_port() as port:
        away = IsapiPtz("shop", "127.0.0.1", port=port, timeout_s=1.0)
        with pytest.raises(PtzError, match="ISAPI"):
            away.start("up")
        away.close()


class socket_closed_port:
    """A port on 127.0.0.1 where nothing listens (bound, never listening)."""

    def __enter__(self) -> int:
        import socket

        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        return int(self._socket.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        self._socket.close()


# ONVIF

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
TT = "http://www.onvif.org/ver10/schema"
ONVIF_SERVICES = {
    "device": "http://www.onvif.org/ver10/device/wsdl",
    "media": "http://www.onvif.org/ver10/media/wsdl",
    "ptz": "http://www.onvif.org/ver20/ptz/wsdl",
}


@dataclass
class SoapCall:
    at: float
    service: str  # device | media | ptz
    operation: str
    body: ET.Element


class OnvifCamera:
    """The camera's side of ONVIF PTZ, on 127.0.0.1: the device service answers
    GetServices (where media and PTZ live), media answers GetProfiles (two profiles),
    PTZ answers ContinuousMove and Stop. Every request must carry a WS-Security
    UsernameToken whose PasswordDigest is right (Base64(SHA-1(nonce + created +
    password))), else a SOAP fault `ter:NotAuthorized`, as the ONVIF core spec says."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user, password
        self.calls: list[SoapCall] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def moves(self) -> list[tuple[str, dict[str, str]]]:
        """The PTZ calls so far: (operation, what it asked for)."""
        result = []
        for call in self.calls:
            if call.service != "ptz":
                continue
            asked = {"profile": call.body.findtext(f"{{{ONVIF_SERVICES['ptz']}}}ProfileToken", "")}
            for axis in call.body.iter():
                name = axis.tag.rsplit("}", 1)[-1]
                for key, value in axis.attrib.items():
                    asked[f"{name}.{key}"] = value
            result.append((call.operation, asked))
        return result

    def authorized(self, envelope: ET.Element) -> bool:
        token = envelope.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}UsernameToken")
        if token is None:
            return False
        nonce = base64.b64decode(token.findtext(f"{{{WSSE}}}Nonce", ""))
        created = token.findtext(f"{{{WSU}}}Created", "")
        digest = hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()
        return (
            token.findtext(f"{{{WSSE}}}Username") == self.user
            and token.findtext(f"{{{WSSE}}}Password") == base64.b64encode(digest).decode()
        )

    def answer(self, service: str, operation: str) -> str | None:
        base = f"http://127.0.0.1:{self.port}/onvif"
        if (service, operation) == ("device", "GetServices"):
            services = "".join(
                f"<tds:Service><tds:Namespace>{ns}</tds:Namespace>"
                f"<tds:XAddr>{base}/{name}_service</tds:XAddr>"
                "<tds:Version><tt:Major>2</tt:Major><tt:Minor>60</tt:Minor></tds:Version>"
                "</tds:Service>"
                for name, ns in ONVIF_SERVICES.items()
            )
            return f"<tds:GetServicesResponse>{services}</tds:GetServicesResponse>"
        if (service, operation) == ("media", "GetProfiles"):
            profiles = "".join(
                f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>'
                "</trt:Profiles>"
                for token in ("Profile_main", "Profile_sub")
            )
            return f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>"
        if service == "ptz" and operation in ("ContinuousMove", "Stop"):
            return f"<tptz:{operation}Response/>"
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        camera = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                envelope = ET.fromstring(self.rfile.read(int(self.headers["Content-Length"])))
                body = envelope.find(f"{{{SOAP}}}Body")
                assert body is not None
                request = body[0]
                operation = request.tag.rsplit("}", 1)[-1]
                service = self.path.removeprefix("/onvif/").removesuffix("_service")
                if not camera.authorized(envelope):
                    self._reply(400, self._fault("s:Sender", "ter:NotAuthorized"))
                    return
                answer = camera.answer(service, operation)
                if answer is None:
                    self._reply(400, self._fault("s:Sender", "ter:ActionNotSupported"))
                    return
                camera.calls.append(SoapCall(time.monotonic(), service, operation, request))
                self._reply(200, answer)

            def _fault(self, code: str, subcode: str) -> str:
                return (
                    f"<s:Fault><s:Code><s:Value>{code}</s:Value><s:Subcode>"
                    f"<s:Value>{subcode}</s:Value></s:Subcode></s:Code>"
                    f'<s:Reason><s:Text xml:lang="en">{subcode}</s:Text></s:Reason></s:Fault>'
                )

            def _reply(self, status: int, body: str) -> None:
                data = (
                    f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP}"'
                    f' xmlns:tt="{TT}" xmlns:tds="{ONVIF_SERVICES["device"]}"'
                    f' xmlns:trt="{ONVIF_SERVICES["media"]}"'
                    f' xmlns:tptz="{ONVIF_SERVICES["ptz"]}"'
                    ' xmlns:ter="http://www.onvif.org/ver10/error">'
                    f"<s:Body>{body}</s:Body></s:Envelope>"
                ).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler


@pytest.fixture
def onvif_camera() -> Iterator[OnvifCamera]:
    camera = OnvifCamera("operator", "s3cret")
    yield camera
    camera.close()


def test_onvif_velocity_is_in_the_generic_spaces() -> None:
    assert onvif_velocity("left", 50) == {"PanTilt": {"x": -0.5, "y": 0.0}, "Zoom": {"x": 0.0}}
    assert onvif_velocity("up", 100) == {"PanTilt": {"x": 0.0, "y": 1.0}, "Zoom": {"x": 0.0}}
    assert onvif_velocity("out", 20) == {"PanTilt": {"x": 0.0, "y": 0.0}, "Zoom": {"x": -0.2}}


def test_onvif_ptz_step_and_start_stop(onvif_camera: OnvifCamera) -> None:
    settings = PtzSettings.model_validate(
        {"driver": "onvif", "host": "127.0.0.1", "port": onvif_camera.port, "user": "operator",
         "password": "s3cret", "channel": 2}
    )  # fmt: skip
    ptz = ptz_controller("dock", settings)
    assert ptz is not None and isinstance(ptz.driver, OnvifPtz)
    try:
        ptz.send("ptz_left")
        wait_until(lambda: len(onvif_camera.moves()) == 2, timeout_s=30.0)
        ptz.send("ptzstart_in")
        wait_until(lambda: len(onvif_camera.moves()) == 3)
        time.sleep(1.3)
        assert len(onvif_camera.moves()) == 3
        ptz.send("ptzstop")
        wait_until(lambda: len(onvif_camera.moves()) == 4)
    finally:
        ptz.close()
    setup = [(c.service, c.operation) for c in onvif_camera.calls[:2]]
    assert setup == [("device", "GetServices"), ("media", "GetProfiles")]
    moves = onvif_camera.moves()
    assert moves == [
        ("ContinuousMove", {"profile": "Profile_sub", "PanTilt.x": "-0.5", "PanTilt.y": "0.0",
                            "Zoom.x": "0.0"}),
        ("Stop", {"profile": "Profile_sub"}),
        ("ContinuousMove", {"profile": "Profile_sub", "PanTilt.x": "0.0", "PanTilt.y": "0.0",
                            "Zoom.x": "0.5"}),
        ("Stop", {"profile": "Profile_sub"}),
    ]  # fmt: skip
    ptz_calls = [c for c in onvif_camera.calls if c.service == "ptz"]
    assert ptz_calls[1].at - ptz_calls[0].at == pytest.approx(1.0, abs=0.15)
    stop = ptz_calls[1].body
    ns = ONVIF_SERVICES["ptz"]
    assert stop.findtext(f"{{{ns}}}PanTilt") == stop.findtext(f"{{{ns}}}Zoom") == "true"


def test_onvif_failures_become_ptz_errors_and_the_driver_reconnects(
    onvif_camera: OnvifCamera,
) -> None:
    wrong = OnvifPtz("dock", "127.0.0.1", port=onvif_camera.port, user="operator",
                     password="guess", timeout_s=5.0)  # fmt: skip
    with pytest.raises(PtzError, match="ONVIF ContinuousMove on camera dock"):
        wrong.start("up")
    wrong.close()
    assert onvif_camera.calls == []

    no_profile = OnvifPtz("dock", "127.0.0.1", port=onvif_camera.port, user="operator",
                          password="s3cret", profile=3)  # fmt: skip
    with pytest.raises(PtzError, match="2 media profiles"):
        no_profile.stop()
    no_profile.close()

    driver = OnvifPtz("dock", "127.0.0.1", port=onvif_camera.port, user="operator",
                      password="s3cret", timeout_s=5.0)  # fmt: skip
    try:
        driver.start("right")
        onvif_camera.password = "changed"  # the camera refuses from now on
        with pytest.raises(PtzError):
            driver.stop()
        onvif_camera.password = "s3cret"
        driver.stop()  # connects afresh
    finally:
        driver.close()
    operations = [c.operation for c in onvif_camera.calls]
    assert operations[-6:] == [
        "GetServices", "GetProfiles", "ContinuousMove", "GetServices", "GetProfiles", "Stop"
    ]  # fmt: skip
