"""`camloft-cli`: the client for people and scripts (typer + rich).

Commands: `login`, `logout`, `devices`, `status`, `events`, `watch`,
`download`, `live`, `record`, `snapshot`, `ptz`. Listings take `--json`
(one JSON document; `watch --json` one JSON object per line).

Exit codes, for scripts:

| code | meaning |
|---|---|
| 0 | done (also: `live`, `record`, `watch` stopped with Ctrl-C) |
| 1 | any other error (server failure, network, unexpected answer) |
| 2 | usage: a wrong option or argument, a malformed uidd |
| 3 | authentication: not logged in, wrong password, login expired |
| 4 | not found or no right: unknown or invisible device, event, picture; read-only user |
| 5 | the camera is offline (its adapter is not connected) |

The login is kept in a user-only file (`camloft.client.credentials`); every
command refreshes the token when due and stores the new one.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn
from rich.table import Table

from camloft.client import credentials
from camloft.client._auth import Session
from camloft.client._base import LIVE_INTERVAL, PTZ_DIRECTIONS, REALTIME_RECONNECT, RECORD_INTERVAL
from camloft.client._client import AsyncClient, Client
from camloft.client.errors import (
    AuthenticationError,
    BadRequestError,
    CameraOfflineError,
    CamloftClientError,
    ForbiddenError,
    NotFoundError,
    NotLoggedInError,
)
from camloft.client.models import CameraStatus, Device, Event, RealtimeMessage

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_NOT_FOUND, EXIT_OFFLINE = 0, 1, 2, 3, 4, 5
DEFAULT_URL = "http://127.0.0.1:8080"
ENV_URL = "CAMLOFT_URL"

T = TypeVar("T")

app = typer.Typer(
    name="camloft-cli",
    help="Watch and control camloft cameras (the Videoloft API) from the command line.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False)


@dataclass
class Options:
    url: str | None
    credentials: Path
    timeout: float


def exit_code(error: CamloftClientError) -> int:
    if isinstance(error, NotLoggedInError | AuthenticationError):
        return EXIT_AUTH
    if isinstance(error, NotFoundError | ForbiddenError):
        return EXIT_NOT_FOUND
    if isinstance(error, CameraOfflineError):
        return EXIT_OFFLINE
    if isinstance(error, BadRequestError) and error.code == "invalid_id":
        return EXIT_USAGE
    return EXIT_ERROR


@app.callback()
def main_options(
    context: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            envvar=ENV_URL, help="The server (authenticator) URL; default: the one logged in to."
        ),
    ] = None,
    credentials_file: Annotated[
        Path | None,
        typer.Option(
            "--credentials",
            envvar=credentials.ENV_CREDENTIALS,
            help="The login file (default ~/.config/camloft/credentials.json).",
        ),
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for an answer.")] = 30.0,
) -> None:
    context.obj = Options(url, credentials.credentials_path(credentials_file), timeout)


def _options(context: typer.Context) -> Options:
    options: Options = context.obj
    return options


@contextmanager
def _handled() -> Iterator[None]:
    """Client errors as a message on stderr and the documented exit code."""
    try:
        yield
    except CamloftClientError as error:
        err.print(f"[red]error:[/red] {error}")
        raise typer.Exit(exit_code(error)) from error


@contextmanager
def _client(context: typer.Context) -> Iterator[Client]:
    options = _options(context)
    with _handled():
        stored = credentials.load(options.credentials)
        url = options.url or stored.url

        def keep(session: Session) -> None:
            credentials.save(options.credentials, credentials.Stored(url, session))

        with Client(
            url, session=stored.session, timeout=options.timeout, on_session=keep
        ) as client:
            yield client


def _async_client(context: typer.Context) -> AsyncClient:
    options = _options(context)
    stored = credentials.load(options.credentials)
    url = options.url or stored.url

    def keep(session: Session) -> None:
        credentials.save(options.credentials, credentials.Stored(url, session))

    return AsyncClient(url, session=stored.session, timeout=options.timeout, on_session=keep)


def _line(text: str) -> None:
    """One plain line on stdout, flushed (for pipes: no wrapping, no markup)."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _json(value: Any) -> None:
    _line(json.dumps(value, indent=2))


def _time(ms: int | None) -> str:
    if not ms:
        return "-"
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# --- login ---------------------------------------------------------------------------------


@app.command()
def login(
    context: typer.Context,
    email: Annotated[str, typer.Option(prompt=True, help="The account's email.")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            envvar="CAMLOFT_PASSWORD",
            help="Prompted for when not given.",
        ),
    ],
) -> None:
    """Log in; keep the token and the refresh credential (not the password)."""
    options = _options(context)
    url = options.url or DEFAULT_URL
    with _handled(), Client(url, timeout=options.timeout) as client:
        session = client.login(email, password, remember_password=False)
        credentials.save(options.credentials, credentials.Stored(url, session))
    out.print(
        f"logged in as {session.email} (uid {session.uid}) at {session.authenticator}; "
        f"login kept in {options.credentials}"
    )


@app.command()
def logout(context: typer.Context) -> None:
    """End the stored login on the server and remove it here."""
    options = _options(context)
    try:
        with _client(context) as client:
            client.logout()
    finally:
        credentials.forget(options.credentials)
    out.print("logged out")


# --- listings ------------------------------------------------------------------------------

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def device_json(device: Device) -> dict[str, Any]:
    return {
        "uidd": device.uidd,
        "name": device.name,
        "owner": device.owner_uid,
        "alias": device.alias,
        "permissions": list(device.permissions),
    }


@app.command()
def devices(context: typer.Context, as_json: JsonFlag = False) -> None:
    """The devices you may see, by owner (/devices)."""
    with _client(context) as client:
        found = client.devices()
    if as_json:
        _json([device_json(d) for d in found])
        return
    table = Table("UIDD", "NAME", "OWNER", "RIGHT")
    for device in found:
        table.add_row(
            device.uidd,
            device.name,
            device.alias or str(device.owner_uid),
            "admin" if device.admin else "read",
        )
    out.print(table)


def status_json(status: CameraStatus) -> dict[str, Any]:
    return dict(status.raw) | {"uidd": status.uidd}


@app.command()
def status(
    context: typer.Context,
    uidds: Annotated[list[str] | None, typer.Argument(help="Devices (default: all).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Camera status from each camera's logger (/cameras/status)."""
    with _client(context) as client:
        found = client.status(uidds or None)
    if as_json:
        _json([status_json(s) for s in found])
        return
    table = Table("UIDD", "STATUS", "LIVE", "LAST EVENT", "LAST THUMB", "QUEUE")
    for item in found:
        queue = f"{item.queue_mb or 0:.1f} MB / {item.queue_sec or 0:.0f} s"
        table.add_row(
            item.uidd,
            item.status,
            "yes" if item.live else "no",
            str(item.lastalert or "-"),
            _time((item.lastthumb or 0) * 1000),
            queue,
        )
    shown = {s.uidd for s in found}
    for uidd in uidds or []:
        if uidd not in shown:
            table.add_row(uidd, "not resident", "-", "-", "-", "-")
    out.print(table)


def event_json(event: Event) -> dict[str, Any]:
    return dict(event.raw)


@app.command()
def events(
    context: typer.Context,
    uidd: Annotated[str, typer.Argument(help="The device, e.g. 1.1.")],
    limit: Annotated[int, typer.Option(min=1, help="How many (newest first).")] = 20,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many newest.")] = 0,
    as_json: JsonFlag = False,
) -> None:
    """A device's events, newest first (/alert, paged with offset)."""
    with _client(context) as client:
        found: list[Event] = []
        skipped = 0
        for event in client.iter_events(uidd, page_size=min(limit + offset, 100)):
            if skipped < offset:
                skipped += 1
                continue
            found.append(event)
            if len(found) >= limit:
                break
    if as_json:
        _json([event_json(e) for e in found])
        return
    table = Table("ID", "START (UTC)", "LENGTH", "TYPE", "MOTION", "SOUND", "STATE")
    table.columns[1].no_wrap = True
    for event in found:
        table.add_row(
            str(event.id),
            _time(event.startt),
            f"{event.duration:.0f} s",
            event.type,
            "-" if event.smx is None else str(event.smx),
            "-" if event.aud is None else str(event.aud),
            "recording" if event.recording else "done",
        )
    out.print(table)


def message_line(message: RealtimeMessage) -> str:
    """One line for one realtime message."""
    stamp = datetime.now(tz=UTC).strftime("%H:%M:%S")
    if message.event is not None:
        event = message.event
        extra = " (missed, fetched)" if message.backfilled else ""
        return (
            f"{stamp} {message.uidd} alert id={event.id} type={event.type} "
            f"start={_time(event.startt)}{extra}"
        )
    assert message.status is not None
    state = message.status
    return (
        f"{stamp} {message.uidd} liveSession status={state.status} "
        f"live={str(state.live).lower()} lastalert={state.lastalert} "
        f"lastthumb={state.lastthumb} laststill={state.laststill}"
    )


@app.command()
def watch(
    context: typer.Context,
    uidds: Annotated[list[str] | None, typer.Argument(help="Devices (default: all).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
    count: Annotated[int | None, typer.Option(min=1, help="Stop after this many.")] = None,
    seconds: Annotated[float | None, typer.Option(min=0, help="Stop after this long.")] = None,
    reconnect_after: Annotated[
        float, typer.Option(min=1, help="Reconnect the stream this often (s).")
    ] = REALTIME_RECONNECT,
) -> None:
    """Realtime status changes and new events, one line each, until Ctrl-C."""

    async def run() -> None:
        async with _async_client(context) as client:
            shown = 0
            async for message in client.realtime(uidds or None, reconnect_after=reconnect_after):
                if as_json:
                    raw = dict(message.raw)
                    _line(json.dumps(raw | {"backfilled": True} if message.backfilled else raw))
                else:
                    _line(message_line(message))
                shown += 1
                if count is not None and shown >= count:
                    return

    with _handled():
        try:
            if seconds is None:
                asyncio.run(run())
            else:
                asyncio.run(_within(run(), seconds))
        except KeyboardInterrupt:
            pass


async def _within(work: Any, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(work, seconds)


# --- video ---------------------------------------------------------------------------------


@app.command()
def download(
    context: typer.Context,
    uidd: Annotated[str, typer.Argument(help="The device.")],
    event_id: Annotated[int, typer.Argument(help="The event's id (from `events`).")],
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="A file, or a folder for the server's file name."),
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Download an event as one MP4 (resumes where the server allows)."""
    with _client(context) as client:
        if not progress:
            done = client.download_event(uidd, event_id, output)
        else:
            columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
            with Progress("{task.description}", *columns, console=err) as bar:
                task = bar.add_task(f"event {event_id}", total=None)

                def advance(have: int, total: int | None) -> None:
                    bar.update(task, completed=have, total=total)

                done = client.download_event(uidd, event_id, output, progress=advance)
    out.print(f"{done.path} ({done.size} bytes{', resumed' if done.resumed else ''})")


def _hold(seconds: float | None, until: Callable[[], bool] = lambda: False) -> None:
    """Wait for Ctrl-C, `seconds`, or `until()`."""
    deadline = None if seconds is None else time.monotonic() + seconds
    try:
        while not until() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass


@app.command()
def live(
    context: typer.Context,
    uidd: Annotated[str, typer.Argument(help="The device.")],
    player: Annotated[
        str | None,
        typer.Option(help="A player command to hand the URL to, e.g. 'ffplay -loglevel error'."),
    ] = None,
    seconds: Annotated[float | None, typer.Option(min=0, help="Stop after this long.")] = None,
    interval: Annotated[
        float, typer.Option(min=1, help="livecommand every this many s.")
    ] = LIVE_INTERVAL,
) -> None:
    """Print the live playlist URL (or play it) and keep the camera streaming until Ctrl-C."""
    with _client(context) as client, _handled(), client.keep_live(uidd, interval=interval):
        url = client.live_url(uidd)
        _line(url)
        if player is None:
            err.print(
                f"keeping the live stream going (livecommand every {interval:g} s); Ctrl-C to stop"
            )
            _hold(seconds)
            return
        process = subprocess.Popen([*shlex.split(player), url])
        try:
            _hold(seconds, lambda: process.poll() is not None)
        finally:
            if process.poll() is None:
                process.terminate()
                process.wait(10)


@app.command()
def record(
    context: typer.Context,
    uidd: Annotated[str, typer.Argument(help="The device (admin right needed).")],
    seconds: Annotated[float | None, typer.Option(min=0, help="Record this long.")] = None,
    interval: Annotated[
        float, typer.Option(min=1, help="triggerevent every this many s.")
    ] = RECORD_INTERVAL,
) -> None:
    """Record an event: triggerevent every 15 s until Ctrl-C (or --seconds)."""
    with _client(context) as client, _handled(), client.recording(uidd, interval=interval):
        err.print(f"recording on {uidd}; Ctrl-C to stop")
        _hold(seconds)
    err.print("stopped: the camera records on for about 20 s")


@app.command()
def snapshot(
    context: typer.Context,
    uidd: Annotated[str, typer.Argument(help="The device.")],
    output: Annotated[Path | None, typer.Option("--output", "-o", help="The JPEG file.")] = None,
    thumb: Annotated[bool, typer.Option(help="A small thumb instead of a still.")] = False,
    wait: Annotated[float, typer.Option(min=1, help="Seconds to wait for the camera.")] = 15.0,
) -> None:
    """Ask the camera for a still (capturestill), wait for it, save it (/getstill)."""
    kind = "thumb" if thumb else "still"
    with _client(context) as client:
        second, data = client.snapshot(uidd, kind=kind, within=wait)
    path = output or Path(f"{uidd}-{second}-{kind}.jpg")
    path.write_bytes(data)
    out.print(f"{path} ({len(data)} bytes, taken {_time(second * 1000)})")


@app.command()
def ptz(
    context: typer.Context,
    uidd: Annotated[str, typer.Argument(help="The device (admin right needed).")],
    direction: Annotated[str, typer.Argument(help=f"One of {', '.join(PTZ_DIRECTIONS)}, or stop.")],
    start: Annotated[
        bool, typer.Option(help="Move until `ptz UIDD stop` instead of for 1 s.")
    ] = False,
) -> None:
    """Move a PTZ camera: 1 s in a direction, or start/stop moving."""
    if direction != "stop" and direction not in PTZ_DIRECTIONS:
        raise typer.BadParameter(
            f"one of {', '.join(PTZ_DIRECTIONS)}, or stop", param_hint="DIRECTION"
        )
    mode = "stop" if direction == "stop" else "start" if start else "step"
    with _client(context) as client:
        client.ptz(uidd, direction, mode)
    out.print(f"{uidd}: {direction}{' (moving until stop)' if start else ''}")


def main() -> None:
    """The `camloft-cli` entry point."""
    app()


if __name__ == "__main__":
    main()
