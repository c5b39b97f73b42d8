"""A real S3 API server on loopback for the S3 blob store's tests: moto's server mode.

`moto_server` runs as a child process on a free port (its own process, so its
warnings and threads stay out of pytest's); it keeps its buckets in memory.
Tests reach it with botocore's plain (blocking) client and fixed fake keys.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import httpx

from tests.support import free_port, stop_process

REGION = "us-east-1"
#: The fake credentials moto takes; given to camloft as the standard AWS_* variables.
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}
STARTUP_SECONDS = 30


@dataclass
class MotoServer:
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MotoServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | AWS_ENV
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto_server exited:\n{self.log_path.read_text()}")
            try:
                httpx.get(f"{self.endpoint_url}/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto_server did not start in {STARTUP_SECONDS} s")

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)

    def client(self) -> Any:
        """A blocking botocore S3 client of this server (for the tests' own checks)."""
        session = botocore.session.get_session()
        return session.create_client(
            "s3",
            region_name=REGION,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=AWS_ENV["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=AWS_ENV["AWS_SECRET_ACCESS_KEY"],
        )

    def new_bucket(self) -> str:
        name = f"camloft-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> dict[str, int]:
        """Every object of a bucket under `prefix`: its key and size."""
        found: dict[str, int] = {}
        for page in (
            self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        ):
            found |= {item["Key"]: item["Size"] for item in page.get("Contents", [])}
        return found

    def blob_url(self, bucket: str, prefix: str = "") -> str:
        path = f"/{prefix}" if prefix else ""
        return f"s3://{bucket}{path}?endpoint_url={self.endpoint_url}&region={REGION}"


@contextmanager
def moto_server(log_path: Path) -> Iterator[MotoServer]:
    server = MotoServer(log_path).start()
    try:
        yield server
    finally:
        server.stop()
