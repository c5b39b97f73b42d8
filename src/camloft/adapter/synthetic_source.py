"""A synthetic camera served on a loopback TCP port, so the adapter reads it like any camera.

Each connection gets a fresh `SyntheticCamera` filming in real time as
MPEG-TS; the adapter opens `tcp://127.0.0.1:<port>` through the same reader,
segmenter and reconnect logic as an RTSP camera. All of them look through the
server's `SceneView`, if it has one: a virtual PTZ move outlives a reconnect.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading

from camloft.media.synthetic import SceneView, SyntheticCamera, SyntheticScene

log = logging.getLogger("camloft.adapter.synthetic")
# FFmpeg would watch 20 frames to guess the rate: 1.4 s at every (re)connect.
OPEN_OPTIONS = {"fpsprobesize": "0"}


class SyntheticServer:
    def __init__(self, name: str, scene: SyntheticScene, view: SceneView | None = None) -> None:
        self.name = name
        self.scene = scene
        self.view = view
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._accept, name=f"synthetic-server-{name}", daemon=True
        )

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        # Closing alone does not wake a thread blocked in accept() on Linux; shutdown does.
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._listener.accept()
            except OSError:
                return  # closed by stop()
            threading.Thread(
                target=self._film, args=(connection,), name=f"synthetic-{self.name}", daemon=True
            ).start()

    def _film(self, connection: socket.socket) -> None:
        camera = SyntheticCamera(self.name, self.scene, self.view)
        with connection:
            try:
                camera.run(_SocketSink(connection), self._stop, realtime=True)
            except (BrokenPipeError, ConnectionResetError):
                log.info("synthetic camera %s: the reader went away", self.name)


class _SocketSink:
    """Writes each muxed chunk whole and at once (no buffering: latency matters)."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection

    def write(self, data: bytes, /) -> int:
        self._connection.sendall(data)
        return len(data)
