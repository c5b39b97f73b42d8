"""The adapter's side of the link: one outbound websocket per camera to its logger.

The adapter only dials out. Tasks arrive as `{"type": "task", "action": ...}`
(with more fields for some: `livecommand` names the live `origin`) and go to
`on_task`; the camera's status goes up when it changes and every
`STATUS_EVERY_SECONDS`. A dropped link is dialled again with backoff; when
the logger does not answer, or closes the link with `MOVED_CLOSE` (the device
was placed on another logger), the camera's `Home` asks where to go.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from camloft.adapter.home import Home
from camloft.ids import DeviceRef

log = logging.getLogger("camloft.adapter.link")
STATUS_EVERY_SECONDS = 5.0
# How often an idle link wakes to see whether the status changed: a trade of
# CPU per camera (measured by bench/adapter/camera.py) against status latency.
POLL_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 10.0
MOVED_CLOSE = 4410  # the logger's close code for "placed on another logger"


class LinkClient:
    def __init__(
        self,
        device: DeviceRef,
        key: str,
        home: Home,
        *,
        on_task: Callable[[str, dict[str, Any]], None],
        status: Callable[[], dict[str, Any]],
    ) -> None:
        self.device = device
        self._key = key
        self._home = home
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

    def _link_url(self) -> str | None:
        logger_url = self._home.logger_url()
        if logger_url is None:
            return None
        websocket_url = logger_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1)
        return f"{websocket_url}/adapter/v1/link/{self.device}"

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        while not stop.is_set():
            url = self._link_url()
            try:
                if url is None:
                    continue  # no logger known yet; the finally below waits
                with connect(
                    url,
                    additional_headers={"Authorization": f"CamloftDevice {self._key}"},
                    open_timeout=10,
                ) as connection:
                    backoff = 0.5
                    self.connected.set()
                    self._serve(connection, stop)
            except ConnectionClosed as err:
                if err.rcvd is not None and err.rcvd.code == MOVED_CLOSE:
                    log.info("logger says %s moved: asking where to", self.device)
                    self._home.lost()
                    backoff = 0.0  # dial the new logger at once
                else:
                    log.warning("link of %s dropped: %s", self.device, err)
                    self._home.lost()  # the logger may be gone: ask where to go
            except InvalidStatus as err:
                log.error("logger refused the link of %s: %s", self.device, err)
                self._home.lost()
            except (OSError, WebSocketException, TimeoutError) as err:
                log.warning("link of %s dropped: %s", self.device, err)
                self._home.lost()
            finally:
                self.connected.clear()
                stop.wait(backoff)
                backoff = min(max(backoff * 2, 0.5), MAX_BACKOFF_SECONDS)

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
