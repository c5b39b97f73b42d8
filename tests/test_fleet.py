"""Many machines: a fleet of separate processes loses nothing when a logger dies.

Started as separate processes, on one PostgreSQL database, one Redis bus and
one S3 server (moto): two regional authenticators (eu, us) and the global
entry, two loggers, two live origins (`camloft serve --role ...`), and two
`camloft adapter` processes, each recording one synthetic camera and finding
its logger through its region's authenticator (`auth_url`). Heartbeats every
second; a server is dead after 4 s without one.

The test does what users and operators would check: the global entry sends
each user home; the two cameras are spread over the two loggers and the two
origins; live view plays. Then, in the middle of an event, the logger of the
eu camera is killed (SIGKILL: no goodbye). Its camera must move to the other
logger (viewerInfo says so), its adapter must follow, tasks must reach it
there, the event must end whole — every segment from its start to its end
stored in S3 and indexed, one unbroken run that ffprobe plays — and live view
must resume through the surviving logger.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlencode

import asyncpg
import httpx
import pytest

from tests.conftest import (
    ADMIN_EMAIL,
    ADMIN_PASSWORD,
    drop_database,
    fleet_env,
    make_database_url,
)
from tests.logger.test_video import ffprobe
from tests.s3 import AWS_ENV, MotoServer, moto_server
from tests.support import (
    CAMLOFT,
    Server,
    auth_header,
    free_port,
    login,
    stop_process,
)

pytestmark = pytest.mark.e2e
PASSWORD = "fleet-pw-1"
T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T | None], timeout: float, every: float = 0.3) -> T:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except httpx.HTTPError:
            found = None
        if found is not None and found is not False:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


@dataclass
class Camera:
    """One owner, one device, one adapter process."""

    region: str
    email: str
    uidd: str
    key: str
    home: str  # the owner's regional authenticator
    token: str = ""
    adapter: subprocess.Popen[bytes] | None = None
    spool: Path = Path()

    def get(self, url: str, path: str, **params: Any) -> httpx.Response:
        return httpx.get(f"{url}{path}", params=params, headers=auth_header(self.token), timeout=30)

    def placement(self) -> dict[str, Any]:
        answer = self.get(self.home, "/devices/viewerInfo", uidd=self.uidd)
        answer.raise_for_status()
        owner, device = self.uidd.split(".")
        found: dict[str, Any] = answer.json()["result"][owner]["devices"][device]
        return found

    def task(self, action: str) -> httpx.Response:
        """As a client does it: to the logger viewerInfo names now."""
        return self.get(self.placement()["loggerUrl"], "/sendcameratask", uidd=self.uidd,
                        action=action)

    def status(self) -> str | None:
        answer = self.get(self.placement()["loggerUrl"], "/cameras/status", uidd=self.uidd)
        owner, device = self.uidd.split(".")
        found = answer.json().get("result") or {}
        return found.get(owner, {}).get("devices", {}).get(device, {}).get("status")

    def events(self) -> list[dict[str, Any]]:
        answer = self.get(self.placement()["loggerUrl"], "/alert", uidd=self.uidd)
        answer.raise_for_status()
        found: list[dict[str, Any]] = answer.json()["result"]
        return found


@dataclass
class Fleet:
    root: Path
    database_url: str
    moto: MotoServer
    bucket: str
    servers: dict[str, Server] = field(default_factory=dict)
    cameras: list[Camera] = field(default_factory=list)

    def url(self, name: str) -> str:
        return self.servers[name].url

    def admin(self) -> str:
        return login(self.url("eu"), ADMIN_EMAIL, ADMIN_PASSWORD)

    def fleet(self) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.url('eu')}/admin/fleet", headers=auth_header(self.admin()))
        answer.raise_for_status()
        servers: list[dict[str, Any]] = answer.json()["result"]["servers"]
        return servers

    def segments(self, uidd: str) -> list[tuple[int, int, str, int]]:
        """The segment index of a device, read from PostgreSQL itself."""
        owner, device = map(int, uidd.split("."))

        async def read() -> list[Any]:
            dsn = self.database_url.replace("postgresql+asyncpg", "postgresql")
            connection = await asyncpg.connect(dsn)
            try:
                return list(await connection.fetch(
                    "SELECT start_ms, duration_ms, blob_key, size FROM segments "
                    "WHERE owner_uid = $1 AND device_id = $2 ORDER BY start_ms", owner, device))
            finally:
                await connection.close()

        return [(int(a), int(b), str(c), int(d)) for a, b, c, d in asyncio.run(read())]


def start_adapter(root: Path, camera: Camera) -> None:
    camera.spool = root / f"spool-{camera.region}"
    config = root / f"adapter-{camera.region}.toml"
    config.write_text(
        f'auth_url = "{camera.home}"\nspool_dir = "{camera.spool}"\n'
        f'[[cameras]]\nuidd = "{camera.uidd}"\nkey = "{camera.key}"\nname = "{camera.region}"\n'
        'source = "synthetic"\nlive_tail_seconds = 10\n'
        "[cameras.synthetic]\nrandom_motion = false\nwidth = 320\nheight = 180\n"
    )
    with (root / f"adapter-{camera.region}.log").open("ab") as log:
        camera.adapter = subprocess.Popen(
            [*CAMLOFT, "adapter", "--config", str(config)], stdout=log, stderr=subprocess.STDOUT
        )


@pytest.fixture
def fleet(tmp_path: Path) -> Iterator[Fleet]:
    database_url, db_name = make_database_url("postgres", tmp_path)
    with ExitStack() as stack:
        stack.callback(drop_database, db_name)
        moto = stack.enter_context(moto_server(tmp_path / "moto.log"))
        bucket = moto.new_bucket()
        shared = fleet_env(tmp_path / "admin", database_url, admin_region="eu",
                           blob_url=moto.blob_url(bucket)) | AWS_ENV
        ports = {"eu": free_port(), "us": free_port()}
        regional = f"eu=http://127.0.0.1:{ports['eu']},us=http://127.0.0.1:{ports['us']}"
        roles = {
            "eu": {"CAMLOFT_ROLES": "auth", "CAMLOFT_REGION": "eu"},
            "us": {"CAMLOFT_ROLES": "auth", "CAMLOFT_REGION": "us"},
            "global": {"CAMLOFT_ROLES": "auth", "CAMLOFT_REGION": "global",
                       "CAMLOFT_REGIONS": regional},
            # One database for both regions: the loggers and origins serve both.
            "logger-1": {"CAMLOFT_ROLES": "logger", "CAMLOFT_SHARED_REGIONS": "eu,us"},
            "logger-2": {"CAMLOFT_ROLES": "logger", "CAMLOFT_SHARED_REGIONS": "eu,us"},
            "live-1": {"CAMLOFT_ROLES": "live", "CAMLOFT_SHARED_REGIONS": "eu,us"},
            "live-2": {"CAMLOFT_ROLES": "live", "CAMLOFT_SHARED_REGIONS": "eu,us"},
        }
        found = Fleet(tmp_path, database_url, moto, bucket)
        for name, env in roles.items():
            server = Server(tmp_path / name, shared | env)
            if name in ports:
                server.port = ports[name]
            found.servers[name] = server
        with ThreadPoolExecutor(len(roles)) as pool:  # all at once: they migrate in turn
            list(pool.map(lambda server: server.start(), found.servers.values()))
        for server in found.servers.values():
            stack.callback(server.stop)
        yield found
        for camera in found.cameras:
            if camera.adapter is not None:
                stop_process(camera.adapter)


@pytest.mark.timeout(400)  # seven servers to start, and an event of a minute
def test_a_fleet_loses_nothing_when_a_logger_dies(fleet: Fleet) -> None:
    loggers = {fleet.url("logger-1"), fleet.url("logger-2")}
    origins = {fleet.url("live-1"), fleet.url("live-2")}

    # Each process plays only its roles.
    assert httpx.get(f"{fleet.url('logger-1')}/login").status_code == 404
    assert httpx.get(f"{fleet.url('live-1')}/alert").status_code == 404
    assert httpx.get(f"{fleet.url('eu')}/alert").status_code == 404

    # The fleet: four servers beating, seen by the authenticators.
    def all_alive() -> bool:
        alive = {(s["role"], s["url"]) for s in fleet.fleet() if s["alive"]}
        return alive == {("logger", u) for u in loggers} | {("live", u) for u in origins}

    wait_for("every logger and origin alive", all_alive, 15)

    # Two owners, one per region, one camera each (created by the server admin).
    admin = auth_header(fleet.admin())
    for region in ("eu", "us"):
        email = f"{region}-{secrets.token_hex(3)}@example.com"
        httpx.post(f"{fleet.url('eu')}/admin/users", headers=admin,
                   json={"email": email, "password": PASSWORD, "region": region}
                   ).raise_for_status()
        created = httpx.post(f"{fleet.url('eu')}/admin/devices", headers=admin,
                             json={"owner": email, "name": f"{region} door"})
        created.raise_for_status()
        device = created.json()["result"]
        fleet.cameras.append(
            Camera(region, email, device["uidd"], device["deviceKey"], fleet.url(region))
        )
    eu, us = fleet.cameras

    # The global entry sends each user home; the token works on every role.
    for camera in fleet.cameras:
        sent = httpx.post(f"{fleet.url('global')}/login",
                          json={"email": camera.email, "password": PASSWORD})
        assert sent.json() == {"location": camera.home}, sent.text
        camera.token = login(camera.home, camera.email, PASSWORD)

    # Spread by load: one camera on each logger and on each origin.
    placed = [camera.placement() for camera in fleet.cameras]
    assert {p["loggerUrl"] for p in placed} == loggers, placed
    assert {p["wowzaUrl"] for p in placed} == origins, placed

    for camera in fleet.cameras:
        start_adapter(fleet.root, camera)
    for camera in fleet.cameras:
        wait_for(f"{camera.region} camera online", lambda c=camera: c.status() == "online", 30)

    # Live view before anything goes wrong.
    live_plays(eu)

    # An event, kept going by triggerevent every 5 s, sent as a client does: to the
    # logger viewerInfo names now, asking again when that logger fails.
    answered: list[tuple[float, str, int]] = []
    stop_triggers = threading.Event()

    def trigger() -> None:
        while not stop_triggers.is_set():
            try:
                logger = eu.placement()["loggerUrl"]
                status = eu.get(logger, "/sendcameratask", uidd=eu.uidd,
                                action="triggerevent").status_code
            except httpx.HTTPError:
                logger, status = "", 0
            answered.append((time.monotonic(), logger, status))
            stop_triggers.wait(5 if status == 200 else 0.5)

    triggers = threading.Thread(target=trigger, daemon=True)
    triggers.start()
    try:
        event = wait_for("the trigger event", lambda: next(iter(eu.events()), None), 30)
        assert event["type"] == "trigger" and event["recording"], event
        time.sleep(6)

        victim_name = next(n for n in ("logger-1", "logger-2") if fleet.url(n) ==
                           eu.placement()["loggerUrl"])
        victim, survivor = fleet.url(victim_name), (loggers - {fleet.url(victim_name)}).pop()
        process = fleet.servers[victim_name].process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        killed = time.monotonic()

        # The authenticator moves the camera; viewerInfo names the survivor.
        wait_for("the eu camera moved", lambda: eu.placement()["loggerUrl"] == survivor, 30)
        moved_after = time.monotonic() - killed
        assert not next(s for s in fleet.fleet() if s["url"] == victim)["alive"]
        # The adapter follows, and tasks reach it through the survivor.
        wait_for("the eu camera online again", lambda: eu.status() == "online", 30)
        wait_for("a trigger delivered by the survivor",
                 lambda: any(t > killed and url == survivor and status == 200
                             for t, url, status in answered), 20)
        time.sleep(6)
    finally:
        stop_triggers.set()
        triggers.join(10)
    assert moved_after < 4 + 1 + 5, f"moved {moved_after:.1f} s after the kill"

    # The event ends (20 s after the last trigger) and is whole.
    finished = wait_for(
        "the event to finish",
        lambda: next((e for e in eu.events() if e["id"] == event["id"] and not e["recording"]),
                     None),
        60, every=1,
    )
    assert [e["id"] for e in eu.events()] == [event["id"]], "one event, not two halves"
    assert finished["endt"] - finished["startt"] > 30_000, finished
    segments = fleet.segments(eu.uidd)
    covering = [s for s in segments if s[0] + s[1] > finished["startt"] and s[0] < finished["endt"]]
    assert covering[0][0] <= finished["startt"] and covering[-1][0] + covering[-1][1] >= (
        finished["endt"] - 2500
    ), (covering[0], covering[-1], finished)
    holes = [(a[0] + a[1], b[0]) for a, b in itertools.pairwise(covering)
             if b[0] != a[0] + a[1]]
    assert holes == [], f"segments lost around the kill: {holes}"
    in_bucket = fleet.moto.keys(fleet.bucket)
    assert all(in_bucket.get(key) == size for _, _, key, size in covering), "every segment in S3"
    wait_for("the eu spool drained", lambda: not list(eu.spool.rglob("*.ts")), 30)

    # It plays from the survivor, across the moment its first logger died.
    query = {"uid": eu.uidd, "startt": finished["startt"] // 1000,
             "endt": finished["endt"] // 1000, "rom": 1, "id": finished["id"], "token": eu.token}
    probed = ffprobe(f"{survivor}/alerturl.m3u8?{urlencode(query)}")
    duration = float(probed["format"]["duration"])  # type: ignore[index]
    assert duration >= (finished["endt"] - finished["startt"]) / 1000 - 3, probed

    # Live view resumes through the survivor; the us camera never noticed.
    live_plays(eu)
    assert us.status() == "online"
    for name, server in fleet.servers.items():
        assert "Traceback" not in server.log(), f"{name}:\n{server.log()[-3000:]}"


def live_plays(camera: Camera) -> None:
    """livecommand through the camera's logger, then its origin's playlist has video."""
    assert camera.task("livecommand").status_code == 200
    placement = camera.placement()
    playlist = (f"{placement['wowzaUrl']}/manything/{placement['streamname']}/playlist.m3u8?"
                f"{urlencode({'userToken': camera.token})}")

    def a_segment() -> str | None:
        answer = httpx.get(playlist, timeout=15)
        if answer.status_code != 200:
            return None
        uris = [line for line in answer.text.splitlines() if line and not line.startswith("#")]
        return uris[0] if uris else None

    first = wait_for("a live segment", a_segment, 20)
    base = playlist.rsplit("/", 1)[0]
    segment = httpx.get(f"{base}/{first}", timeout=15)
    assert segment.status_code == 200 and segment.content[:1] == b"\x47", segment.status_code


@pytest.mark.timeout(300)
def test_a_device_moved_by_hand_takes_its_adapter_and_its_tasks_along(tmp_path: Path) -> None:
    """`admin device move` to the other logger: the old one closes the link (4410), the
    adapter asks its authenticator and links to the new one; a task sent through the old
    logger still reaches the camera, over the bus. On SQLite, shared by the processes."""
    env = fleet_env(tmp_path, f"sqlite+aiosqlite:///{tmp_path / 'camloft.db'}",
                    heartbeat_seconds="0.5", heartbeat_timeout_seconds="2")
    servers = {name: Server(tmp_path / name, env | {"CAMLOFT_ROLES": roles})
               for name, roles in (("auth", "auth"), ("a", "logger,live"), ("b", "logger"))}
    with ExitStack() as stack:
        for server in servers.values():
            server.start()
            stack.callback(server.stop)
        auth = servers["auth"].url
        admin = auth_header(login(auth, ADMIN_EMAIL, ADMIN_PASSWORD))
        email = f"owner-{secrets.token_hex(3)}@example.com"
        httpx.post(f"{auth}/admin/users", headers=admin,
                   json={"email": email, "password": PASSWORD}).raise_for_status()
        created = httpx.post(f"{auth}/admin/devices", headers=admin,
                             json={"owner": email, "name": "porch"})
        created.raise_for_status()
        device = created.json()["result"]
        camera = Camera("local", email, device["uidd"], device["deviceKey"], auth,
                        token=login(auth, email, PASSWORD))
        start_adapter(tmp_path, camera)
        assert camera.adapter is not None
        stack.callback(stop_process, camera.adapter)
        wait_for("the camera online", lambda: camera.status() == "online", 30)
        first = camera.placement()["loggerUrl"]
        other = next(s.url for name, s in servers.items() if name != "auth" and s.url != first)

        httpx.post(f"{auth}/admin/devices/{camera.uidd}/move", headers=admin,
                   json={"logger": other}).raise_for_status()
        assert camera.placement()["loggerUrl"] == other
        wait_for("the camera online at its new logger", lambda: camera.status() == "online", 15)
        left = camera.get(first, "/cameras/status", uidd=camera.uidd).json()["result"]
        owner, number = camera.uidd.split(".")
        assert left[owner]["devices"][number]["status"] == "offline", left
        log = (tmp_path / "adapter-local.log").read_text()
        assert f"says {camera.uidd} moved" in log, log[-2000:]

        # Through the old logger: the task crosses the bus to the link the new one holds.
        sent = camera.get(first, "/sendcameratask", uidd=camera.uidd, action="capturestill")
        assert sent.status_code == 200, sent.text
        def still_taken() -> int | None:
            found = camera.get(other, "/cameras/status", uidd=camera.uidd).json()["result"]
            return found[owner]["devices"][number]["laststill"]  # type: ignore[no-any-return]

        wait_for("the still", still_taken, 20)
