"""`camloft admin`: users, devices and grants without touching SQL, then seen by the server."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx

from tests.support import Server, auth_header, camloft_env, login, new_secret, run_cli


def test_admin_commands_then_serve(database_url: str, tmp_path: Path) -> None:
    env = camloft_env(new_secret(), database_url)

    def admin(*args: str) -> str:
        done = run_cli(["admin", "--data-dir", str(tmp_path), *args], env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    admin("user", "add", "owner@example.com", "--password", "o-pw", "--alias", "Owner Co",
          "--max-devices", "5", "--max-age-days", "30")
    admin("user", "add", "viewer@example.com", "--password", "v-pw")
    added = admin("device", "add", "owner@example.com", "Shop Floor")
    uidd = re.search(r"uidd: (\d+\.\d+)", added)
    key = re.search(r"device key: (\S+)", added)
    assert uidd and key and len(key.group(1)) >= 32
    admin("device", "add", "owner@example.com", "Back Office")
    owner_uid = uidd.group(1).split(".")[0]
    assert "granted r" in admin("grant", "viewer@example.com", owner_uid, "r")
    assert "granted a" in admin("grant", "viewer@example.com", uidd.group(1), "a")
    admin("device", "move", uidd.group(1), "--logger", "https://logger-9.example.com:8443")
    listing = {d["uidd"]: d for d in json.loads(admin("device", "list", "--json"))}
    assert listing[uidd.group(1)]["phonename"] == "Shop Floor"
    assert listing[uidd.group(1)]["loggerUrl"] == "https://logger-9.example.com:8443"
    assert "owner@example.com" in {u["email"] for u in json.loads(admin("user", "list", "--json"))}
    admin("revoke", "viewer@example.com", owner_uid)

    server = Server(tmp_path, env).start()
    try:
        token = login(server.url, "viewer@example.com", "v-pw")
        body = httpx.get(f"{server.url}/devices/viewerInfo", headers=auth_header(token)).json()
        devices = body["result"][owner_uid]["devices"]
        assert list(devices) == [uidd.group(1).split(".")[1]]  # owner-wide grant revoked
        device = next(iter(devices.values()))
        assert device["permissions"] == ["a"]
        assert device["logger"] == "logger-9.example.com:8443"
        assert body["result"][owner_uid]["alias"] == "Owner Co"
        owner = httpx.get(f"{server.url}/login",
                          params={"email": "owner@example.com", "password": "o-pw"}).json()
        assert owner["result"]["accountInfo"]["maxAge"] == 30
        assert owner["result"]["accountInfo"]["maxDevices"] == 5
    finally:
        server.stop()

    admin("device", "remove", uidd.group(1))
    admin("user", "remove", "viewer@example.com")
    users = json.loads(admin("user", "list", "--json"))
    assert [u["email"] for u in users] == ["owner@example.com"]


def test_admin_errors_are_one_line_not_tracebacks(tmp_path: Path) -> None:
    env = camloft_env(new_secret(), None)
    cases = [
        ["device", "add", "nobody@example.com", "Cam"],
        ["grant", "nobody@example.com", "1.x", "r"],
        ["grant", "nobody@example.com", "1", "w"],
        ["device", "remove", "12."],
        ["device", "move", "1.1", "--logger", "not a url"],
        ["user", "add", "not-an-email", "--password", "x"],
    ]
    for args in cases:
        done = run_cli(["admin", "--data-dir", str(tmp_path), *args], env)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert "error:" in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_serve_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = camloft_env("", None)
    del env["CAMLOFT_SECRET"]
    done = run_cli(["serve", "--data-dir", str(tmp_path), "--port", "1"], env)
    assert done.returncode != 0
    assert "secret" in (done.stdout + done.stderr).lower()
    assert "Traceback" not in done.stderr


def test_admin_fleet_lists_the_servers_that_beat(tmp_path: Path) -> None:
    """A logger of a fleet (a bus, here Redis) beats into the database; the admin sees it."""
    env = camloft_env(new_secret(), None, bus_url="redis://127.0.0.1:6379/0",
                      bus_prefix="camloft-test-cli:", heartbeat_seconds="0.5",
                      heartbeat_timeout_seconds="2")
    listed = run_cli(["admin", "--data-dir", str(tmp_path), "fleet", "--json"], env)
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    server = Server(tmp_path, env, ["--role", "logger"]).start()
    try:
        listed = run_cli(["admin", "--data-dir", str(tmp_path), "fleet", "--json"], env)
        (logger,) = json.loads(listed.stdout)
        assert (logger["url"], logger["role"], logger["alive"]) == (server.url, "logger", True)
        table = run_cli(["admin", "--data-dir", str(tmp_path), "fleet"], env).stdout
        assert "logger" in table and "True" in table
    finally:
        server.stop()  # a clean stop leaves the fleet at once
    listed = run_cli(["admin", "--data-dir", str(tmp_path), "fleet", "--json"], env)
    assert [s["alive"] for s in json.loads(listed.stdout)] == [False]
