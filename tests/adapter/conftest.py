"""A real RTSP camera for adapter tests: GStreamer's RTSP server in a subprocess.

`tests/rtsp_server.py` runs under the system's /usr/bin/python3, where the
GStreamer bindings live (`make system-deps` installs them), on a free port of
127.0.0.1. It serves H.264 + AAC from test sources on one shared media, as a
camera does.
"""

from __future__ import annotations

import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import free_port

SYSTEM_PYTHON = "/usr/bin/python3"
SERVER_SCRIPT = Path(__file__).resolve().parents[1] / "rtsp_server.py"
READY_SECONDS = 15.0
STOP_SECONDS = 5.0


class RtspCamera:
    """A synthetic RTSP camera on 127.0.0.1 that can drop off the network and come back."""

    def __init__(
        self, port: int, log_path: Path, path: str = "/cam", *, fps: int = 15, keyint: int = 15
    ) -> None:
        self.port = port
        self.log_path = log_path  # the servers' stderr: a pipe nobody reads could fill up
        self.path = path
        self.fps = fps
        self.keyint = keyint
        self._process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return f"rtsp://127.0.0.1:{self.port}{self.path}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start serving (again, on the same port); returns once the server listens."""
        if self.running:
            return
        with self.log_path.open("a") as log:
            process = subprocess.Popen(
                [SYSTEM_PYTHON, str(SERVER_SCRIPT), "--port", str(self.port), "--path", self.path,
                 "--fps", str(self.fps), "--keyint", str(self.keyint)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, text=True,
            )
        self._process = process
        line = _read_line(process, READY_SECONDS)
        if not line.startswith("READY "):
            self.stop()
            raise RuntimeError(
                f"the RTSP server did not start on port {self.port} (exit {process.returncode}):"
                f" {line!r}\n{self.stderr()}"
            )

    def freeze(self) -> None:
        """Go silent with every connection left open, as a hung camera or a cut cable."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def stop(self) -> None:
        """Stop serving, as a camera that reboots: its clients see the stream end."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()

    def stderr(self) -> str:
        """What this camera's server processes printed to stderr so far."""
        return self.log_path.read_text() if self.log_path.exists() else ""


def _read_line(process: subprocess.Popen[str], timeout_s: float) -> str:
    """The first line the process prints, or "" if it exits or stays silent for `timeout_s`."""
    assert process.stdout is not None
    deadline = time.monotonic() + timeout_s
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        while (left := deadline - time.monotonic()) > 0:
            if selector.select(left):
                return process.stdout.readline()
    return ""


@pytest.fixture
def rtsp_camera(tmp_path: Path) -> Iterator[RtspCamera]:
    """A fresh camera per test at `.url`; `.stop()` and `.start()` drop and restore it."""
    if not Path(SYSTEM_PYTHON).exists():
        pytest.fail(f"{SYSTEM_PYTHON} is missing: run `make system-deps`")
    camera = RtspCamera(free_port(), tmp_path / "rtsp-server.log")
    camera.start()
    try:
        yield camera
    finally:
        camera.stop()
