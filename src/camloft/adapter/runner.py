"""The adapter as a whole: every configured camera, started and stopped together."""

from __future__ import annotations

import logging
import threading

from camloft.adapter.camera import Camera
from camloft.adapter.config import AdapterSettings

log = logging.getLogger("camloft.adapter")


class Adapter:
    def __init__(self, settings: AdapterSettings) -> None:
        self.settings = settings
        self.cameras = [
            Camera(camera, settings.logger_url, settings.spool_dir) for camera in settings.cameras
        ]
        self._stop = threading.Event()

    def start(self) -> None:
        for camera in self.cameras:
            camera.start(self._stop)
        log.info("adapter started %d cameras for %s", len(self.cameras), self.settings.logger_url)

    def stop(self) -> None:
        """Finish and spool the open segments, then stop uploading (the spool keeps the rest)."""
        for camera in self.cameras:
            camera.stop()
        # Give the uploaders a moment to send the last segments; what is left waits on disk.
        for camera in self.cameras:
            camera.uploader.drain(timeout=5)
        self._stop.set()
        for camera in self.cameras:
            camera.uploader.join(5)
            camera.link.join(5)

    def wait(self) -> None:
        self._stop.wait()
