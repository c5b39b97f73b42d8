"""Real camloft processes for tests: each on its own free port and its own data dir."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

CAMLOFT = [sys.executable, "-m", "camloft"]
STARTUP_SECONDS = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def camloft_env(secret: str, database_url: str | None, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAMLOFT_")}
    env["CAMLOFT_SECRET"] = secret
    if database_url:
        env["CAMLOFT_DATABASE_URL"] = database_url
    for name, value in settings.items():
        env[f"CAMLOFT_{name.upper()}"] = value
    return env


def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CAMLOFT, *args], env=env, capture_output=True, text=True, timeout=60, check=False
    )


@dataclass
class Server:
    """`camloft serve` running under uvicorn in a child process."""

    data_dir: Path
    env: dict[str, str]
    args: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "server.log"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> Server:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    *CAMLOFT,
                    "serve",
                    "--port",
                    str(self.port),
                    "--data-dir",
                    str(self.data_dir),
                    *self.args,
                ],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"camloft exited at start:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"camloft did not start in {STARTUP_SECONDS} s:\n{self.log()}")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


def login(url: str, email: str, password: str) -> str:
    response = httpx.get(f"{url}/login", params={"email": email, "password": password})
    response.raise_for_status()
    token: str = response.json()["result"]["authToken"]
    return token


def auth_header(token: str) -> dict[str, str]:
    return {"Authorization": f"ManythingToken {token}"}


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not gone within 10 s."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def playable_event(
    server_url: str, token: str, uidd: str, *, seconds: float, timeout: float
) -> dict[str, Any]:
    """An event of a demo camera with at least `seconds` of video, waited for: a finished one
    if the camera has one, else the one recording (the demo's random motion often keeps an
    event open for minutes: it plays as a growing playlist, which players reload)."""
    deadline = time.monotonic() + timeout
    events: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{server_url}/alert", params={"uidd": uidd}, headers=auth_header(token)
        )
        response.raise_for_status()
        events = response.json()["result"]
        done = [event for event in events if not event["recording"]]
        if done:
            return done[0]
        now_ms = time.time() * 1000
        long_enough = [e for e in events if now_ms - e["startt"] >= seconds * 1000]
        if long_enough:
            return long_enough[0]
        time.sleep(1.0)
    raise AssertionError(f"no event of {uidd} with {seconds} s of video in {timeout} s: {events}")
