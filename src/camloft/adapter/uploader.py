"""Uploads a camera's spooled segments to its logger, in order, until confirmed.

One named thread per camera. A segment leaves the spool only after the logger
answered 2xx (201 stored, or 200 when it had it already: uploads are
idempotent, so a retry after a lost answer is harmless). While the logger is
unreachable or failing (5xx), the thread waits with backoff and tries again;
a segment the logger refuses as malformed (other 4xx) is set aside, not
deleted.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx

from camloft.adapter.home import Home
from camloft.adapter.spool import Spool, Spooled
from camloft.ids import DeviceRef

log = logging.getLogger("camloft.adapter.uploader")
MAX_BACKOFF_SECONDS = 10.0
RETRY_STATUSES = frozenset({401, 403, 404, 408, 429})
# Redirects too: a proxy sending http to https is a setting to fix, not bad video.


class Uploader:
    def __init__(
        self,
        device: DeviceRef,
        key: str,
        home: Home,
        spool: Spool,
        *,
        timeout_s: float = 30.0,
    ) -> None:
        self.device = device
        self.spool = spool
        self._home = home
        self._client = httpx.Client(
            timeout=timeout_s, headers={"Authorization": f"CamloftDevice {key}"}
        )
        self._thread: threading.Thread | None = None
        self.uploaded = 0

    def start(self, stop: threading.Event) -> None:
        self._thread = threading.Thread(
            target=self.run, args=(stop,), name=f"uploader-{self.device}", daemon=True
        )
        self._thread.start()

    def drain(self, *, timeout: float) -> bool:
        """Wait until the spool is empty or `timeout` passes; True if it emptied."""
        deadline = time.monotonic() + timeout
        while self.spool.pending():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.1)
        return True

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self, stop: threading.Event) -> None:
        backoff = 0.5
        try:
            while not stop.is_set():
                self.spool.changed.clear()
                pending = self.spool.pending()
                if not pending:
                    self.spool.changed.wait(5.0)  # set by every add: no need to poll
                    continue
                for item in pending:
                    if stop.is_set():
                        return
                    if not self._upload(item):
                        stop.wait(backoff)
                        backoff = min(backoff * 2, MAX_BACKOFF_SECONDS)
                        break
                    backoff = 0.5
        finally:
            self._client.close()

    def _upload(self, item: Spooled) -> bool:
        """True when the segment is settled (stored or set aside); False to retry later."""
        try:
            data, identity = self.spool.read(item)
        except FileNotFoundError:
            return True  # settled by an earlier pass
        logger_url = self._home.logger_url()
        if logger_url is None:
            return False  # no logger known yet: the spool keeps it
        base = f"{logger_url}/adapter/v1"
        try:
            if item.kind == "segment":
                response = self._client.put(
                    f"{base}/segments/{self.device}/{item.start_ms}",
                    params={"duration_ms": item.duration_ms},
                    content=data,
                    headers={"Content-Type": "video/mp2t"},
                )
            elif item.kind == "image":
                response = self._client.put(
                    f"{base}/images/{self.device}/{item.image}/{item.start_ms}",
                    content=data,
                    headers={"Content-Type": "image/jpeg"},
                )
            else:
                response = self._client.put(
                    f"{base}/events/{self.device}",
                    content=data,
                    headers={"Content-Type": "application/json"},
                )
        except httpx.HTTPError as err:
            log.warning("logger unreachable for %s: %s", self.device, err)
            self._home.lost()
            return False
        if response.is_success:
            self.spool.done(item, identity)
            self.uploaded += 1
            return True
        status = response.status_code
        if status >= 500 or status in RETRY_STATUSES or 300 <= status < 400:
            # A wrong key or a device moved away is fixed by configuration, not by
            # dropping video: keep the segment and keep trying.
            log.warning(
                "logger answered %d for %s: %s; retrying",
                response.status_code,
                self.device,
                response.text[:200],
            )
            return False
        log.error(
            "logger refused segment %s of %s: %d %s; set aside in the spool",
            item.start_ms,
            self.device,
            response.status_code,
            response.text[:200],
        )
        self.spool.reject(item)
        return True
