"""The composition: every server role in one ASGI app, and `camloft serve`.

Nothing is built at import time: `create_app(settings)` wires the roles, and
the app's lifespan opens the database, migrates it and seeds the demo.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import anyio.to_thread
import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from camloft import __version__, demo, logs, web
from camloft.adapter.runner import Adapter
from camloft.auth import admin_routes
from camloft.auth import routes as auth_routes
from camloft.auth.admin import Admin
from camloft.auth.passwords import Passwords
from camloft.auth.service import Authenticator
from camloft.auth.throttle import LoginThrottle
from camloft.bus import Bus, InProcessBus
from camloft.bus_redis import RedisBus
from camloft.config import Settings, require_secret
from camloft.live import routes as live_routes
from camloft.live.streams import LiveStreams
from camloft.logger import alerts, link, status, video
from camloft.logger import routes as logger_routes
from camloft.logger.cameras import CameraLinks
from camloft.logger.retention import Retention, free_fraction_of, no_disk_to_fill
from camloft.store.accounts import AccountStore
from camloft.store.blobs import open_blob_store
from camloft.store.db import create_engine, migrate
from camloft.store.recordings import RecordingStore
from camloft.webapi.device_keys import DeviceKeys
from camloft.webapi.errors import install_error_handlers


def create_app(settings: Settings, on_ready: Callable[[], None] | None = None) -> FastAPI:
    require_secret(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        engine = create_engine(settings.db_url)
        try:
            await migrate(engine)
            store = AccountStore(engine)
            passwords = Passwords()
            admin = Admin(store, passwords, settings.region)
            app.state.settings = settings
            app.state.admin = admin
            app.state.authenticator = Authenticator(
                settings,
                store,
                passwords,
                LoginThrottle(max_lock_seconds=settings.login_lockout_max_seconds),
            )
            app.state.accounts = store
            bus: Bus = (
                InProcessBus()
                if settings.bus_url is None
                else RedisBus(settings.bus_url, prefix=settings.bus_prefix)
            )
            app.state.bus = bus
            app.state.camera_links = CameraLinks(bus)
            app.state.paging_snapshots = alerts.PagingSnapshots()
            app.state.device_keys = DeviceKeys(store)
            blobs = await open_blob_store(settings.blob_url, settings.data_dir)
            app.state.ingest = link.Ingest(app.state.device_keys, RecordingStore(engine), blobs)
            app.state.live_streams = LiveStreams()
            app.state.live_viewers = live_routes.Viewers(store)
            live_sweeper = asyncio.create_task(app.state.live_streams.sweep_forever())
            retention = Retention(
                store,
                app.state.ingest.recordings,
                app.state.ingest.blobs,
                keep_free_percent=settings.keep_free_percent,
                owner_quota_bytes=int(settings.owner_quota_gb * 1e9),
                free_fraction=free_fraction_of(settings.data_dir)
                if settings.blob_url is None
                else no_disk_to_fill,
            )
            retention_task = asyncio.create_task(
                retention.run_forever(settings.retention_interval_seconds)
            )
            adapter = None
            if settings.demo:
                await demo.seed(admin)
                if settings.demo_cameras:
                    adapter = Adapter(
                        await demo.adapter_settings(
                            admin, settings.base_url, settings.data_dir / "demo-adapter"
                        )
                    )
                    adapter.start()
            if on_ready is not None:
                on_ready()
            try:
                yield
            finally:
                retention_task.cancel()
                live_sweeper.cancel()
                await bus.aclose()
                await blobs.aclose()
                if adapter is not None:
                    # The server no longer listens: nothing to drain to. The spool keeps it.
                    await anyio.to_thread.run_sync(lambda: adapter.stop(drain_seconds=0))
        finally:
            await engine.dispose()

    app = FastAPI(
        title="camloft",
        version=__version__,
        description="A self-hosted camera cloud speaking the Videoloft API v1.0.8.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(auth_routes.router)
    app.include_router(admin_routes.router)
    app.include_router(link.router)
    app.include_router(logger_routes.router)
    app.include_router(alerts.router)
    app.include_router(status.router)
    app.include_router(video.router)
    app.include_router(live_routes.router)

    @app.get("/healthz", tags=["server"], summary="Liveness")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    web.mount(app)

    @app.get(
        "/",
        tags=["server"],
        summary="What this server is (JSON), or the web viewer for a browser",
        response_model=None,
        responses={200: {"content": {"application/json": {}, "text/html": {}}}},
    )
    async def index(request: Request) -> Response:
        # Content negotiation: a browser (Accept: text/html) gets the web viewer.
        if web.wants_html(request):
            return web.page()
        description: dict[str, Any] = {
            "name": "camloft",
            "version": __version__,
            "region": settings.region,
            "api": "Videoloft 1.0.8",
            "docs": "/docs",
            "openapi": "/openapi.json",
            "web": "/",
        }
        return JSONResponse(description, headers={"Vary": "Accept"})

    return app


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
