"""`camloft serve --demo`: what `make run` shows a new user, and a restart keeps it."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx

from tests.support import Server, auth_header, camloft_env, login, new_secret


def test_demo_prints_where_and_how_and_survives_a_restart(tmp_path: Path) -> None:
    env = camloft_env("", None)
    del env["CAMLOFT_SECRET"]  # demo mode makes and keeps its own
    server = Server(tmp_path, env, ["--demo"]).start()
    try:
        banner = server.log()
        assert server.url in banner
        assert "demo@example.com / demo" in banner
        assert "viewer@example.com / viewer" in banner
        token = login(server.url, "viewer@example.com", "viewer")
    finally:
        server.stop()

    again = Server(tmp_path, env, ["--demo"], port=server.port).start()
    try:
        # The same secret: a token from before the restart still works.
        devices = httpx.get(f"{again.url}/devices", headers=auth_header(token)).json()
        (group,) = devices["result"].values()
        assert sorted(d["phonename"] for d in group["devices"].values()) == [
            "Front Door", "Garage", "Garden"]  # seeded once, not twice
    finally:
        again.stop()


def test_demo_records_motion_events_within_a_minute(tmp_path: Path) -> None:
    """What `make run` promises: video and events to see at once."""
    env = camloft_env("", None)
    del env["CAMLOFT_SECRET"]
    server = Server(tmp_path, env, ["--demo"]).start()
    try:
        deadline = time.monotonic() + 60
        events: list[tuple[int, int, int]] = []
        while time.monotonic() < deadline and not events:
            time.sleep(2)
            with sqlite3.connect(tmp_path / "camloft.db") as db:
                events = db.execute("SELECT owner_uid, device_id, id FROM events").fetchall()
        assert events, "no motion event in the demo's first minute"
        assert list((tmp_path / "video").rglob("*.ts")), "no video stored"
    finally:
        server.stop()


def test_index_and_health(tmp_path: Path) -> None:
    server = Server(tmp_path, camloft_env("s" * 40, None)).start()
    try:
        assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
        index = httpx.get(f"{server.url}/").json()
        assert index["name"] == "camloft" and index["openapi"] == "/openapi.json"
        # Not a demo: no demo accounts exist.
        refused = httpx.get(f"{server.url}/login",
                            params={"email": "demo@example.com", "password": "demo"})
        assert refused.status_code == 401
    finally:
        server.stop()


def test_serve_plays_only_the_roles_it_is_given(tmp_path: Path) -> None:
    """`camloft serve --role logger --role live`: no login here, and `/` says which roles."""
    server = Server(tmp_path, camloft_env(new_secret(), None),
                    ["--role", "logger", "--role", "live"]).start()
    try:
        assert "roles: logger, live" in server.log()
        about = httpx.get(f"{server.url}/").json()
        assert about["roles"] == ["logger", "live"]
        assert httpx.get(f"{server.url}/login").status_code == 404
        assert httpx.get(f"{server.url}/alert").status_code == 401  # a logger's, wants a token
        assert httpx.get(f"{server.url}/manything/x/playlist.m3u8").status_code == 401
        page = httpx.get(f"{server.url}/", headers={"Accept": "text/html"})
        assert page.headers["content-type"].startswith("application/json")  # no viewer here
    finally:
        server.stop()
