"""The package's boundaries: no server code imported; downloads resume or restart."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from camloft.client import Client, TransportError
from camloft.client._auth import Session

SERVER_PARTS = ("auth", "logger", "live", "store", "server", "adapter", "webapi", "media", "bus")


def test_the_client_imports_no_server_code() -> None:
    code = (
        "import sys, camloft.client, camloft.client.cli; "
        "print(' '.join(m for m in sys.modules if m.startswith('camloft')))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert not [m for m in loaded if m.split(".")[1:2] and m.split(".")[1] in SERVER_PARTS]
    assert all(m == "camloft" or m.startswith("camloft.client") for m in loaded)


class Dropping(httpx.SyncByteStream):
    """A body that breaks after `cut` bytes, as a dropped connection does."""

    def __init__(self, data: bytes, cut: int) -> None:
        self.data, self.cut = data, cut

    def __iter__(self) -> Iterator[bytes]:
        yield self.data[: self.cut]
        raise httpx.RemoteProtocolError("peer closed connection")


BODY = bytes(range(256)) * 400


def session() -> Session:
    return Session(token="t", authenticator="http://logger.test", expires_at=1e12)


@pytest.mark.parametrize("ranges", [True, False])
def test_a_dropped_download_resumes_or_restarts(tmp_path: Path, ranges: bool) -> None:
    asked: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request.headers.get("Range"))
        if len(asked) == 1:
            return httpx.Response(200, stream=Dropping(BODY, 10_000))
        start = (
            int(request.headers["Range"][6:-1]) if ranges and request.headers.get("Range") else 0
        )
        if start:
            return httpx.Response(
                206,
                content=BODY[start:],
                headers={"Content-Range": f"bytes {start}-{len(BODY) - 1}/{len(BODY)}"},
            )
        return httpx.Response(200, content=BODY)

    with Client(
        "http://logger.test", session=session(), transport=httpx.MockTransport(answer)
    ) as client:
        done = client.download_file("/file.bin", tmp_path / "file.bin")
    assert (tmp_path / "file.bin").read_bytes() == BODY and done.resumed == ranges
    assert asked == [None, "bytes=10000-"]


def test_a_download_that_keeps_failing_is_a_transport_error(tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Dropping(BODY, 100))

    with (
        Client(
            "http://logger.test", session=session(), transport=httpx.MockTransport(answer)
        ) as client,
        pytest.raises(TransportError),
    ):
        client.download_file("/file.bin", tmp_path / "file.bin", attempts=2)
