"""Camera inputs: opening them with PyAV, and one reading thread per camera.

    open_input(url)   an RTSP camera (over TCP, with a socket timeout), a file path or a
                      file:// URL, or any other URL PyAV opens -> an InputContainer
    CameraReader      a thread named `camera-<name>` that opens the input, hands it to
                      `consume(container, stop)` (the segmenter), and when the camera
                      drops reports "novideo", waits a `Backoff` and reconnects
    Backoff           1, 2, 4 ... 30 s between tries; back to 1 s after a healthy spell
    redact_url(url)   the URL with its password replaced by ***, for logs and messages

Errors: an input that cannot be opened raises `SourceError` (a `CamloftError`).
PyAV's error becomes its `__cause__`, except when the URL carries a password:
PyAV's message quotes the URL whole, so then the cause is dropped and only its
description, with the password redacted, is kept.

Timeouts (checked against the FFmpeg that PyAV 18 bundles, libavformat 62):
the RTSP demuxer's `timeout` option, in microseconds, bounds each socket
operation (`stimeout` is gone since FFmpeg 5, and the generic `rw_timeout`
is not passed to the RTSP connection, which then hangs on a silent camera).
PyAV's own `timeout=` bounds the open and each read of every kind of input.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit
from urllib.request import url2pathname

import av
from av.container import InputContainer

from camloft.errors import CamloftError

log = logging.getLogger(__name__)

Status = Literal["online", "novideo"]
ONLINE: Status = "online"
NOVIDEO: Status = "novideo"

#: Reads an opened input until it ends, fails (raises) or `stop` is set. Runs on the
#: camera's thread; the container is closed by the caller afterwards.
Consume = Callable[[InputContainer, threading.Event], None]

_RTSP_SCHEMES = frozenset({"rtsp", "rtsps"})
# A looping file is opened again at once at EOF, but not more often than this
# (a file with no packets would otherwise spin).
_MIN_LOOP_S = 0.1


class SourceError(CamloftError):
    """A camera input that cannot be opened: unreachable, refused, silent or not media."""

    code = "source_error"


def redact_url(url: str) -> str:
    """`url` with the password of its user info, if any, replaced by `***`."""
    parts = urlsplit(url)
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return parts._replace(netloc=f"{user}:***@{hostport}").geturl()


def is_file_source(url: str) -> bool:
    """True for a path or a file:// URL, which end (EOF) rather than drop."""
    return urlsplit(url).scheme in ("", "file")


def _file_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme != "file":
        return url
    if parts.netloc not in ("", "localhost"):
        raise SourceError(f"a file:// URL on another host cannot be opened: {url}")
    return url2pathname(parts.path)


def describe_error(err: BaseException, url: str) -> str:
    """The error's text with `url`'s password redacted (PyAV quotes the URL it opened)."""
    text = f"{type(err).__name__}: {err}"
    safe = redact_url(url)
    return text if safe == url else text.replace(url, safe)


def open_input(
    url: str, *, timeout_s: float = 10.0, options: Mapping[str, str] | None = None
) -> InputContainer:
    """Open a camera input for demuxing, or raise `SourceError` within about `timeout_s`.

    `rtsp://` and `rtsps://` are read over TCP (interleaved, no UDP ports to
    open or lose packets on) with a socket timeout of `timeout_s`; a path or a
    `file://` URL opens the file; any other URL goes to PyAV as it is.
    `options` are FFmpeg options added to (or overriding) these. Every read of
    the returned container also fails after `timeout_s` without data, so a
    camera that goes silent raises instead of hanging its thread.
    """
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, not {timeout_s}")
    scheme = urlsplit(url).scheme
    target = _file_path(url) if scheme in ("", "file") else url
    opts: dict[str, str] = {}
    if scheme in _RTSP_SCHEMES:
        opts = {"rtsp_transport": "tcp", "timeout": str(int(timeout_s * 1_000_000))}
    opts.update(options or {})
    try:
        return av.open(target, mode="r", options=opts, timeout=(timeout_s, timeout_s))
    except (av.error.FFmpegError, OSError) as err:
        message = f"cannot open {redact_url(url)}: {describe_error(err, target)}"
        if redact_url(url) != url:
            raise SourceError(message) from None
        raise SourceError(message) from err


@dataclass
class Backoff:
    """Delays between reconnection attempts: `first_s`, doubling, capped at `max_s`.

    A failure after the input was read for at least `healthy_s` starts the
    series again, so a camera that drops once a day reconnects after 1 s, while
    one that keeps failing is tried at most every `max_s`.
    """

    first_s: float = 1.0
    max_s: float = 30.0
    healthy_s: float = 30.0
    _failures: int = field(default=0, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0 < self.first_s <= self.max_s:
            raise ValueError(f"need 0 < first_s <= max_s, not {self.first_s}, {self.max_s}")

    def failed(self, *, up_for_s: float = 0.0) -> float:
        """The delay before the next attempt, after a failure that came `up_for_s` into reading."""
        if up_for_s >= self.healthy_s:
            self._failures = 0
        delay = min(self.max_s, self.first_s * 2.0 ** min(self._failures, 32))
        self._failures += 1
        return delay

    def reset(self) -> None:
        self._failures = 0


class CameraReader:
    """One camera's reading thread: open, `consume`, and reconnect until stopped.

    The thread, named `camera-<name>`, loops: open the input (`open_input`),
    report "online", call `consume(container, stop)`, close the container. When
    opening or reading fails (`SourceError`, PyAV's `FFmpegError`, `OSError`) or
    a network input ends, it reports "novideo", waits `backoff` (cut short by
    `stop()`) and opens again. A file source ends at EOF, reporting "novideo",
    unless `loop` is true: then it is opened again at once and stays "online".

    `on_status` is called on the camera's thread, only when the status changes.
    `consume` must return soon after `stop` is set (the segmenter checks it
    between packets); a read blocked on a silent camera ends within `timeout_s`.
    Any other exception from `consume` is a bug: it is logged with its
    traceback, kept in `failure`, reported as "novideo", and ends the thread.
    """

    def __init__(
        self,
        name: str,
        url: str,
        consume: Consume,
        *,
        on_status: Callable[[Status], None] | None = None,
        loop: bool = False,
        timeout_s: float = 10.0,
        options: Mapping[str, str] | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self.url = url
        self.loop = loop
        self.failure: Exception | None = None
        self._consume = consume
        self._on_status = on_status
        self._timeout_s = timeout_s
        self._options = dict(options or {})
        self._backoff = backoff if backoff is not None else Backoff()
        self._is_file = is_file_source(url)
        self._status: Status | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"camera-{name}", daemon=True)

    @property
    def status(self) -> Status | None:
        """The last status reported; None before the first attempt ends or succeeds."""
        return self._status

    @property
    def stop_event(self) -> threading.Event:
        return self._stop

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end; it does between two packets or during a backoff wait."""
        self._stop.set()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def _report(self, status: Status) -> None:
        if status != self._status:
            self._status = status
            log.info("camera %s: %s", self.name, status)
            if self._on_status is not None:
                self._on_status(status)

    def _run(self) -> None:
        try:
            self._read_until_stopped()
        except Exception as err:
            self.failure = err
            log.exception("camera %s: reader stopped by an unexpected error", self.name)
            self._report(NOVIDEO)

    def _read_until_stopped(self) -> None:
        safe_url = redact_url(self.url)
        while not self._stop.is_set():
            try:
                container = open_input(self.url, timeout_s=self._timeout_s, options=self._options)
            except SourceError as err:
                log.warning("camera %s: %s", self.name, err)
                self._retry(up_for_s=0.0)
                continue
            self._report(ONLINE)
            opened = time.monotonic()
            try:
                with container:
                    self._consume(container, self._stop)
            except (SourceError, av.error.FFmpegError, OSError) as err:
                log.warning(
                    "camera %s: reading %s failed: %s",
                    self.name,
                    safe_url,
                    describe_error(err, self.url),
                )
                self._retry(up_for_s=time.monotonic() - opened)
                continue
            if self._stop.is_set():
                return
            if self._is_file:
                if self.loop:
                    log.debug("camera %s: end of %s, looping", self.name, safe_url)
                    self._stop.wait(_MIN_LOOP_S - (time.monotonic() - opened))
                    continue
                log.info("camera %s: end of %s", self.name, safe_url)
                self._report(NOVIDEO)
                return
            log.warning("camera %s: %s ended the stream", self.name, safe_url)
            self._retry(up_for_s=time.monotonic() - opened)

    def _retry(self, *, up_for_s: float) -> None:
        self._report(NOVIDEO)
        delay = self._backoff.failed(up_for_s=up_for_s)
        log.info("camera %s: reconnecting in %.0f s", self.name, delay)
        self._stop.wait(delay)
