"""The `camloft` command: `serve` and `admin`."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from camloft.access import Right
from camloft.auth.plans import DEFAULT_MAX_AGE_DAYS, DEFAULT_MAX_DEVICES
from camloft.config import ROLES, Settings, load_settings, parse_list
from camloft.errors import CamloftError
from camloft.ids import DeviceRef, GrantTarget

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from camloft.auth.admin import Admin

# The server's pieces (the store, SQLAlchemy, the demo) are imported inside the commands
# that use them: `camloft adapter` runs on a camera site and starts without them.

app = typer.Typer(help="camloft: a self-hosted camera cloud.", no_args_is_help=True)
admin_app = typer.Typer(help="Manage users, devices and grants.", no_args_is_help=True)
user_app = typer.Typer(help="Users.", no_args_is_help=True)
device_app = typer.Typer(help="Devices (cameras).", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
admin_app.add_typer(user_app, name="user")
admin_app.add_typer(device_app, name="device")

out = Console(soft_wrap=True)
err = Console(stderr=True)
T = TypeVar("T")

DataDir = Annotated[Path | None, typer.Option(help="where the database and video live")]
ConfigFile = Annotated[Path | None, typer.Option("--config", help="a camloft.toml")]


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="address to bind")] = None,
    port: Annotated[int | None, typer.Option(help="port to bind")] = None,
    data_dir: DataDir = None,
    config: ConfigFile = None,
    demo_mode: Annotated[bool, typer.Option("--demo", help="seed demo accounts")] = False,
    role: Annotated[
        list[str] | None,
        typer.Option(help="a role to play: auth, logger or live (repeat, or auth,logger)"),
    ] = None,
) -> None:
    """Run server roles on one port: every role unless --role says which."""
    from camloft.server import serve as run_server

    roles = tuple(name for item in role or () for name in parse_list(item)) or None
    settings = _settings(
        config, host=host, port=port, data_dir=data_dir, demo=demo_mode or None, roles=roles
    )
    run_server(settings, on_ready=lambda: _banner(settings))


@app.command()
def adapter(
    config: Annotated[Path, typer.Option("--config", help="the adapter's cameras.toml")],
    log_level: Annotated[str, typer.Option(help="info, debug, warning ...")] = "info",
) -> None:
    """Record cameras and upload to their logger (runs on the cameras' site)."""
    import signal
    import threading

    from camloft import logs
    from camloft.adapter.config import load_adapter_settings
    from camloft.adapter.runner import Adapter

    try:
        settings = load_adapter_settings(config)
    except CamloftError as error:
        err.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(2) from error
    logs.configure(log_level)
    stopping = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stopping.set())
    runner = Adapter(settings)
    runner.start()
    out.print(f"adapter recording {len(runner.cameras)} cameras to {settings.where}")
    stopping.wait()
    runner.stop()


def _banner(settings: Settings) -> None:
    out.print(f"\n[bold green]camloft is running[/] at [bold]{settings.base_url}[/]")
    if settings.roles != ROLES:
        out.print(f"  roles: {', '.join(settings.roles)}")
    out.print(f"  API docs: {settings.base_url}/docs   data: {settings.data_dir.resolve()}")
    if settings.demo:
        from camloft import demo

        for login in (demo.OWNER, demo.VIEWER):
            out.print(
                f"  log in as [bold]{login.email}[/] / [bold]{login.password}[/]  ({login.role})"
            )
        out.print(
            f"  try: curl '{settings.base_url}/login?email={demo.OWNER.email}"
            f"&password={demo.OWNER.password}&caller=website'\n"
        )


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        return load_settings(config, None, **overrides)
    except CamloftError as error:
        err.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(2) from error


def _run_admin(ctx: typer.Context, action: Callable[[Admin], Awaitable[T]]) -> T:
    from camloft.auth.admin import Admin
    from camloft.auth.passwords import Passwords
    from camloft.store.accounts import AccountStore

    settings: Settings = ctx.obj
    return _run_on_database(
        ctx,
        lambda engine: action(Admin(AccountStore(engine), Passwords(), settings.region)),
    )


def _run_on_database(ctx: typer.Context, action: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run `action` on the (migrated) database of the admin options' settings."""
    from camloft.store.db import create_engine, migrate

    settings: Settings = ctx.obj

    async def run() -> T:
        engine = create_engine(settings.db_url)
        try:
            await migrate(engine)
            return await action(engine)
        finally:
            await engine.dispose()

    try:
        return asyncio.run(run())
    except CamloftError as error:
        err.print(f"[red]error:[/] {error.message}")
        raise typer.Exit(1) from error


@admin_app.callback()
def admin_options(
    ctx: typer.Context,
    data_dir: DataDir = None,
    config: ConfigFile = None,
    database_url: Annotated[
        str | None, typer.Option(help="overrides the data dir's SQLite")
    ] = None,
) -> None:
    ctx.obj = _settings(config, data_dir=data_dir, database_url=database_url)


@user_app.command("add")
def user_add(
    ctx: typer.Context,
    email: str,
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    alias: Annotated[str | None, typer.Option(help="the owner's name shown to viewers")] = None,
    region: Annotated[str | None, typer.Option(help="home region; default this one")] = None,
    max_age_days: Annotated[int, typer.Option(help="days of video the plan keeps")] = (
        DEFAULT_MAX_AGE_DAYS
    ),
    max_devices: Annotated[int, typer.Option(help="devices the plan allows")] = (
        DEFAULT_MAX_DEVICES
    ),
    server_admin: Annotated[bool, typer.Option("--admin", help="a server administrator")] = False,
) -> None:
    """Add a user."""
    user = _run_admin(
        ctx,
        lambda a: a.add_user(
            email,
            password,
            alias=alias,
            region=region,
            max_age_days=max_age_days,
            max_devices=max_devices,
            is_admin=server_admin,
        ),
    )
    out.print(f"added user {user.email} with uid {user.uid}")


AsJson = Annotated[bool, typer.Option("--json", help="one JSON list, for scripts")]


def _print_rows(rows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        out.print_json(data=rows)
        return
    if not rows:
        out.print("(none)")
        return
    table = Table(*rows[0])
    for row in rows:
        table.add_row(*("" if value is None else str(value) for value in row.values()))
    out.print(table)


@user_app.command("list")
def user_list(ctx: typer.Context, as_json: AsJson = False) -> None:
    """List users."""
    from camloft.auth.shapes import user_view

    _print_rows([user_view(u) for u in _run_admin(ctx, lambda a: a.store.users())], as_json)


@user_app.command("remove")
def user_remove(ctx: typer.Context, email: str) -> None:
    """Remove a user, its devices and every grant to or from it."""
    user = _run_admin(ctx, lambda a: a.remove_user(email))
    out.print(f"removed user {user.email} (uid {user.uid})")


@device_app.command("add")
def device_add(ctx: typer.Context, owner_email: str, name: str) -> None:
    """Add a device; prints its uidd and the key its adapter will use."""
    new = _run_admin(ctx, lambda a: a.add_device(owner_email, name))
    out.print(f"uidd: {new.device.ref}")
    out.print(f"device key: {new.key}")
    out.print("[dim]keep the key: it is shown only now[/]")


@device_app.command("list")
def device_list(ctx: typer.Context, as_json: AsJson = False) -> None:
    """List devices (a null logger or live origin URL means the deployment's default)."""
    from camloft.auth.shapes import device_view

    devices = _run_admin(ctx, lambda a: a.store.all_devices())
    _print_rows([device_view(d) for d in devices], as_json)


@admin_app.command("fleet")
def fleet(ctx: typer.Context, as_json: AsJson = False) -> None:
    """List the fleet's loggers and live origins: alive or not, load, devices placed."""
    from camloft.fleet import Allocator
    from camloft.store.fleet import FleetStore

    settings: Settings = ctx.obj
    servers = _run_on_database(ctx, lambda e: Allocator(FleetStore(e), settings).report())
    if not as_json:  # the table: what fits a terminal
        shown = ("url", "role", "region", "alive", "load", "devices")
        servers = [{name: server[name] for name in shown} for server in servers]
    _print_rows(servers, as_json)


@device_app.command("remove")
def device_remove(ctx: typer.Context, uidd: str) -> None:
    """Remove a device."""
    _run_admin(ctx, lambda a: a.remove_device(DeviceRef.parse(uidd)))
    out.print(f"removed device {uidd}")


@device_app.command("rekey")
def device_rekey(ctx: typer.Context, uidd: str) -> None:
    """Give a device a new key; running loggers refuse the old one within a minute."""
    key = _run_admin(ctx, lambda a: a.rekey_device(DeviceRef.parse(uidd)))
    out.print(f"device key: {key}")
    out.print("[dim]keep the key: it is shown only now[/]")


@device_app.command("move")
def device_move(
    ctx: typer.Context,
    uidd: str,
    logger: Annotated[str | None, typer.Option(help="logger URL; '' for the default")] = None,
    wowza: Annotated[str | None, typer.Option(help="live origin URL; '' for the default")] = None,
) -> None:
    """Assign a device to another logger and/or live origin."""
    device = _run_admin(
        ctx, lambda a: a.move_device(DeviceRef.parse(uidd), logger_url=logger, wowza_url=wowza)
    )
    out.print(
        f"{device.ref}: logger {device.logger_url or '(default)'}, "
        f"live origin {device.wowza_url or '(default)'}"
    )


@admin_app.command("grant")
def grant(ctx: typer.Context, viewer_email: str, target: str, right: str) -> None:
    """Give VIEWER_EMAIL right r (read) or a (admin) on OWNER_UID[.DEVICE_ID]."""
    result = _run_admin(
        ctx, lambda a: a.grant(viewer_email, GrantTarget.parse(target), Right.parse(right))
    )
    out.print(f"granted {result.right.value} on {target} to {viewer_email}")


@admin_app.command("revoke")
def revoke(ctx: typer.Context, viewer_email: str, target: str) -> None:
    """Take back VIEWER_EMAIL's grant on OWNER_UID[.DEVICE_ID]."""
    _run_admin(ctx, lambda a: a.revoke(viewer_email, GrantTarget.parse(target)))
    out.print(f"revoked {viewer_email}'s grant on {target}")


def main() -> None:
    try:
        app()
    except CamloftError as error:  # a bad id or right parsed before the store is reached
        err.print(f"[red]error:[/] {error.message}")
        sys.exit(1)
