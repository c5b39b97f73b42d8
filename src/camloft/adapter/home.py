"""Where a camera's logger is: fixed in the adapter's settings, or asked of an authenticator.

With `auth_url` the adapter asks `GET <auth_url>/adapter/v1/home/<uidd>`
(with the device key) at start, and again when its logger stops answering or
closes the link saying the device moved (`lost`): in a fleet the
authenticator then names the logger the device was moved to. Asking is
limited to once every `ASK_EVERY_SECONDS` however many threads notice; until
a first answer there is no logger, and the spool holds what is recorded.
"""

from __future__ import annotations

import logging
import threading
import time

import httpx

from camloft.ids import DeviceRef

log = logging.getLogger("camloft.adapter.home")
ASK_EVERY_SECONDS = 1.0
ASK_TIMEOUT_SECONDS = 5.0


class Home:
    def __init__(
        self, device: DeviceRef, key: str, *, logger_url: str | None, auth_url: str | None
    ) -> None:
        if (logger_url is None) == (auth_url is None):
            raise ValueError("a camera's logger comes from one of logger_url or auth_url")
        self.device = device
        self._key = key
        self._auth_url = None if auth_url is None else auth_url.rstrip("/")
        self._logger_url = None if logger_url is None else logger_url.rstrip("/")
        self._stale = self._auth_url is not None
        self._asked_at = float("-inf")
        self._lock = threading.Lock()

    def logger_url(self) -> str | None:
        """The logger to use now; asks the authenticator first if the last one was lost."""
        with self._lock:
            if self._stale and time.monotonic() - self._asked_at >= ASK_EVERY_SECONDS:
                self._asked_at = time.monotonic()
                self._ask()
            return self._logger_url

    def lost(self) -> None:
        """The logger did not answer, or said the device is placed elsewhere."""
        with self._lock:
            self._stale = self._auth_url is not None

    def _ask(self) -> None:
        assert self._auth_url is not None
        try:
            response = httpx.get(
                f"{self._auth_url}/adapter/v1/home/{self.device}",
                headers={"Authorization": f"CamloftDevice {self._key}"},
                timeout=ASK_TIMEOUT_SECONDS,
            )
            response.raise_for_status()
            url = response.json()["loggerUrl"]
        except (httpx.HTTPError, ValueError, KeyError, TypeError) as err:
            log.warning(
                "cannot ask %s where the logger of %s is: %s", self._auth_url, self.device, err
            )
            return
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            log.warning("the authenticator named no usable logger for %s: %r", self.device, url)
            return
        if url.rstrip("/") != self._logger_url:
            log.info("%s logs to %s", self.device, url)
        self._logger_url = url.rstrip("/")
        self._stale = False
