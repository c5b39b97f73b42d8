"""The composition: every server role in one ASGI app, and `camloft serve`.

Nothing is built at import time: `create_app(settings)` wires the roles, and
the app's lifespan opens the database, migrates it and seeds the demo.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import anyio.to_thread
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.ext.asyncio import AsyncEngine

from camloft import __version__, demo, logs, web
from camloft.adapter.runner import Adapter
from camloft.auth import admin_routes
from camloft.auth import routes as auth_routes
from camloft.auth.admin import Admin
from camloft.auth.passwords import Passwords
from camloft.auth.service import Authenticator
from camloft.auth.throttle import LoginThrottle, Throttle
from camloft.auth.throttle_redis import RedisLoginThrottle
from camloft.bus import Bus, InProcessBus
from camloft.bus_redis import RedisBus
from camloft.config import Settings, require_secret
from camloft.fleet import Allocator, Heartbeat
from camloft.live import routes as live_routes
from camloft.live.streams import LiveStreams
from camloft.logger import alerts, link, status, video
from camloft.logger import routes as logger_routes
from camloft.logger.cameras import CameraLinks
from camloft.logger.retention import Retention, free_fraction_of, no_disk_to_fill
from camloft.store.accounts import AccountStore
from camloft.store.blobs import open_blob_store
from camloft.store.db import create_engine, migrate, only_one
from camloft.store.fleet import FleetStore
from camloft.store.recordings import RecordingStore
from camloft.webapi.device_keys import DeviceKeys
from camloft.webapi.errors import install_error_handlers

log = logging.getLogger("camloft.server")


def create_app(settings: Settings, on_ready: Callable[[], None] | None = None) -> FastAPI:
    require_secret(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.db_url)
        try:
            await migrate(engine)
            async with AsyncExitStack() as stack:
                await _start_roles(app, settings, engine, stack)
                if on_ready is not None:
                    on_ready()
                yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="camloft",
        version=__version__,
        description="A self-hosted camera cloud speaking the Videoloft API v1.0.8.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    if settings.allow_origins:
        # Tokens ride in headers and queries, never in cookies here: no credentials.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.allow_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    if settings.plays("auth"):
        app.include_router(auth_routes.router)
        app.include_router(admin_routes.router)
    if settings.plays("logger"):
        app.include_router(link.router)
        app.include_router(logger_routes.router)
        app.include_router(alerts.router)
        app.include_router(status.router)
        app.include_router(video.router)
    if settings.plays("live"):
        app.include_router(live_routes.router)

    @app.get("/healthz", tags=["server"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    if settings.plays("auth"):
        web.mount(app)  # the viewer logs in here, then follows viewerInfo to the others

    @app.get(
        "/",
        tags=["server"],
        summary="What this server is (JSON), or the web viewer for a browser",
        response_model=None,
        responses={200: {"content": {"application/json": {}, "text/html": {}}}},
    )
    async def index(request: Request) -> Response:
        # Content negotiation: a browser (Accept: text/html) gets the web viewer.
        if settings.plays("auth") and web.wants_html(request):
            return web.page()
        description: dict[str, Any] = {
            "name": "camloft",
            "version": __version__,
            "region": settings.region,
            "roles": list(settings.roles),
            "api": "Videoloft 1.0.8",
            "docs": "/docs",
            "openapi": "/openapi.json",
            "web": "/" if settings.plays("auth") else None,
        }
        return JSONResponse(description, headers={"Vary": "Accept"})

    return app


def _report_death(task: asyncio.Task[None]) -> None:
    """A background job that ended by itself is a bug: say so at once, loudly."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.critical("background job %s died", task.get_coro(), exc_info=error)


async def _start_roles(
    app: FastAPI, settings: Settings, engine: AsyncEngine, stack: AsyncExitStack
) -> None:
    """Build the state of the roles `settings` names; `stack` undoes it at shutdown."""
    tasks: list[asyncio.Task[None]] = []

    def background(work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        task.add_done_callback(_report_death)
        tasks.append(task)

    async def stop_background() -> None:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    stack.push_async_callback(stop_background)  # if a later step fails: nothing runs on
    store = AccountStore(engine)
    app.state.settings = settings
    app.state.accounts = store
    app.state.device_keys = DeviceKeys(store)
    bus: Bus = (
        InProcessBus()
        if settings.bus_url is None
        else RedisBus(settings.bus_url, prefix=settings.bus_prefix)
    )
    app.state.bus = bus
    stack.push_async_callback(bus.aclose)
    fleet = FleetStore(engine) if settings.fleet else None

    if settings.plays("auth"):
        passwords = Passwords()
        admin = Admin(store, passwords, settings.region)
        app.state.admin = admin
        allocator = None if fleet is None else Allocator(fleet, settings)
        throttle: Throttle
        if settings.bus_url is None:
            throttle = LoginThrottle(max_lock_seconds=settings.login_lockout_max_seconds)
        else:  # the authenticators of a fleet count failed logins together
            redis_throttle = RedisLoginThrottle(
                settings.bus_url,
                prefix=settings.bus_prefix,
                max_lock_seconds=settings.login_lockout_max_seconds,
            )
            stack.push_async_callback(redis_throttle.aclose)
            throttle = redis_throttle
        app.state.authenticator = Authenticator(settings, store, passwords, throttle, allocator)
        if allocator is not None:
            background(allocator.run_forever())
        if settings.demo:
            await demo.seed(admin)

    loads: dict[str, Callable[[], int]] = {}
    if settings.plays("logger"):
        links = CameraLinks(bus)
        app.state.camera_links = links
        app.state.paging_snapshots = alerts.PagingSnapshots()
        blobs = await open_blob_store(settings.blob_url, settings.data_dir)
        stack.push_async_callback(blobs.aclose)
        app.state.ingest = link.Ingest(app.state.device_keys, RecordingStore(engine), blobs)
        retention = Retention(
            store,
            app.state.ingest.recordings,
            blobs,
            keep_free_percent=settings.keep_free_percent,
            owner_quota_bytes=int(settings.owner_quota_gb * 1e9),
            free_fraction=free_fraction_of(settings.data_dir)
            if settings.blob_url is None
            else no_disk_to_fill,
            exclusive=lambda: only_one(engine, "retention"),
        )
        background(retention.run_forever(settings.retention_interval_seconds))
        loads["logger"] = lambda: len(links.connected())
        if settings.fleet:
            background(link.evict_moved_forever(app))

    if settings.plays("live"):
        streams = LiveStreams()
        app.state.live_streams = streams
        app.state.live_viewers = live_routes.Viewers(store)
        background(streams.sweep_forever())
        loads["live"] = lambda: sum(not stream.ended for stream in streams.all())

    if fleet is not None and loads:
        heartbeat = Heartbeat(fleet, settings, loads)
        await heartbeat.beat()  # in the fleet before the first request
        background(heartbeat.run_forever())
        stack.push_async_callback(heartbeat.leave)  # undone after the tasks stop (LIFO)

    if settings.demo and settings.demo_cameras and settings.plays("auth", "logger"):
        adapter = Adapter(
            await demo.adapter_settings(
                app.state.admin, settings.base_url, settings.data_dir / "demo-adapter"
            )
        )
        adapter.start()
        # At shutdown the server no longer listens: nothing to drain to. The spool keeps it.
        stack.push_async_callback(anyio.to_thread.run_sync, lambda: adapter.stop(drain_seconds=0))
    # Pushed last, so undone first: no background task runs on while the rest closes.
    stack.push_async_callback(stop_background)


def serve(settings: Settings, on_ready: Callable[[], None] | None = None) -> None:
    app = create_app(settings, on_ready)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        proxy_headers=settings.trusted_proxies is not None,
        forwarded_allow_ips=settings.trusted_proxies,
        # Realtime streams run for minutes: do not let them hold a shutdown that long.
        timeout_graceful_shutdown=5,
    )
    logs.configure(settings.log_level)  # after uvicorn.Config, which set up its own loggers
    uvicorn.Server(config).run()
