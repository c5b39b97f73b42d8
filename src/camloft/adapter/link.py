"""The adapter's side of the link: one outbound websocket per camera to its logger.

The adapter only dials out. Tasks arrive as `{"type": "task", "action": ...}`
(with more fields for some: `livecommand` names the live `origin`) and go to
`on_task`; the camera's status goes up when it changes and every
`STATUS_EVERY_SECONDS`. A dropped link is dialled again with backoff.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from camloft.ids import DeviceRef

log = logging.getLogger("camloft.adapter.link")
STATUS_EVERY_SECONDS = 5.0
# How often an idle link wakes to see whether the status changed: a trade of
# CPU per camera (measured by bench/adapter/camera.py) against status latency.
POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0


class LinkClient:
    def __init__(
        self,
        device: DeviceRef,
        key: str,
        logger_url: str,
        *,
        on_task: Callable[[str, dict[str, Any]], None],
        status: Callable[[], dict[str, Any]],
    ) -> None:
        self.device = device
        self._key = key
        self._url = (
            logger_url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
            + f"/adapter/v1/link/{device}"
        )
        self._on_task = on_task
        self._status = status
        self._status_changed = threading.Event()
        self.connected = threading.Event()
        self._thread: threading.Thread | None = None

    def status_changed(self) -> None:
        """Send the status now rather than at the next tick."""
        self._status_changed.set()

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(stop,), name=f"link-{self.device}", daemon=True
        )
        self._thread.start()

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            try:
                with connect(
                    self._url,
                    additional_headers={"Authorization": f"CamloftDevice {self._key}"},
                    open_timeout=10,
                ) as connection:
                    backoff = 0.5
                    self.connected.set()
                    self._serve(connection, stop)
            except InvalidStatus as err:
                log.error("logger refused the link of %s: %s", self.device, err)
            except (OSError, WebSocketException, TimeoutError) as err:
                log.warning("link of %s dropped: %s", self.device, err)
            finally:
                self.connected.clear()
            stop.wait(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)

    def _serve(self, connection: ClientConnection, stop: threading.Event) -> None:
        self._send_status(connection)
        waited = 0.0
        while not stop.is_set():
            try:
                raw = connection.recv(timeout=POLL_SECONDS)
            except TimeoutError:
                waited += POLL_SECONDS
                if self._status_changed.is_set() or waited >= STATUS_EVERY_SECONDS:
                    self._send_status(connection)
                    waited = 0.0
                continue
            self._handle(raw)

    def _send_status(self, connection: ClientConnection) -> None:
        self._status_changed.clear()
        connection.send(json.dumps({"type": "status"} | self._status()))

    def _handle(self, raw: str | bytes) -> None:
        try:
            message = json.loads(raw)
        except ValueError:
            log.warning("link of %s: unreadable message ignored", self.device)
            return
        if isinstance(message, dict) and message.get("type") == "task":
            action = message.get("action")
            if isinstance(action, str):
                self._on_task(action, message)
