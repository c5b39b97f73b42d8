"""The adapter as a whole: every configured camera, started and stopped together."""

from __future__ import annotations

import logging
import threading
import time

from camloft.adapter.camera import Camera
from camloft.adapter.config import AdapterSettings

log = logging.getLogger("camloft.adapter")


class Adapter:
    def __init__(self, settings: AdapterSettings) -> None:
        self.settings = settings
        self.cameras = [
            Camera(camera, settings.logger_url, settings.spool_dir, auth_url=settings.auth_url)
            for camera in settings.cameras
        ]
        self._stop = threading.Event()

    def start(self) -> None:
        for camera in self.cameras:
            camera.start(self._stop)
        log.info("adapter started %d cameras for %s", len(self.cameras), self.settings.where)

    def stop(self, *, drain_seconds: float = 5.0) -> None:
        """Finish and spool the open segments, give the uploaders up to `drain_seconds`
        to send what is queued, then stop (the spool keeps the rest for next time)."""
        for camera in self.cameras:
            camera.reader.stop()  # every camera winds down at once ...
        for camera in self.cameras:
            camera.stop()  # ... and each is then joined
        deadline = time.monotonic() + drain_seconds
        for camera in self.cameras:
            camera.uploader.drain(timeout=max(0.0, deadline - time.monotonic()))
        self._stop.set()
        for camera in self.cameras:
            camera.uploader.join(5)
            camera.link.join(5)
            camera.live.join(5)

    def wait(self) -> None:
        self._stop.wait()
