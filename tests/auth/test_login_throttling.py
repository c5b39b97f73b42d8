"""1,000 wrong passwords in a row are slowed and logged; the owner gets back in.

The server runs with a lock cap of 2 s (`CAMLOFT_LOGIN_LOCKOUT_MAX_SECONDS`)
so the documented window, "at most the cap after the last wrong password",
can be waited out inside a test.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Deployment, drop_database, start_deployment

PASSWORD = "pw-12345"
WRONG = "guess-7f3a9c"


@pytest.fixture
def strict(backend: str, tmp_path: Path) -> Iterator[Deployment]:
    deployed, db_name = start_deployment(
        backend, tmp_path, args=(), login_lockout_max_seconds="2",
        login_failures_per_account="5", login_failures_per_address="50",
    )
    yield deployed
    deployed.server.stop()
    drop_database(db_name)


def test_a_thousand_wrong_passwords(strict: Deployment) -> None:
    user = strict.new_user()
    params = {"email": str(user["email"]), "password": WRONG}
    statuses: Counter[int] = Counter()
    started = time.monotonic()
    with httpx.Client(base_url=strict.url) as client:
        for _ in range(1000):
            response = client.get("/login", params=params)
            statuses[response.status_code] += 1
            if response.status_code == 429:
                assert 1 <= int(response.headers["retry-after"]) <= 2
                assert response.json()["error"] == "too_many_requests"
        assert set(statuses) == {401, 429}
        # Only a handful of guesses were ever checked against the password.
        checked = statuses[401]
        assert checked <= 5 + (time.monotonic() - started) + 1, statuses
        # While locked, even the right password waits: the lock is per account.
        right = client.get("/login", params={**params, "password": PASSWORD})
        assert right.status_code == 429
        time.sleep(int(right.headers["retry-after"]) + 0.1)
        assert client.get("/login", params={**params, "password": PASSWORD}).status_code == 200
    log = strict.server.log()
    assert f"login throttled for account:{user['email']}" in log
    assert WRONG not in log and PASSWORD not in log


def test_unknown_email_costs_the_same_as_a_wrong_password(strict: Deployment) -> None:
    """Timing must not tell which emails have accounts."""
    users = [strict.new_user() for _ in range(8)]

    def timed(email: str) -> float:
        start = time.perf_counter()
        response = httpx.get(f"{strict.url}/login", params={"email": email, "password": "no"})
        assert response.status_code == 401
        return time.perf_counter() - start

    known = [timed(str(u["email"])) for u in users]
    unknown = [timed(f"nobody{n}@example.com") for n in range(8)]
    ratio = statistics.median(unknown) / statistics.median(known)
    assert 0.6 < ratio < 1.6, (known, unknown)


def test_own_login_does_not_reset_the_address_count(strict: Deployment) -> None:
    """Guessing at many accounts from one address stays throttled even if the guesser
    logs into an account of its own in between."""
    own = strict.new_user()
    with httpx.Client(base_url=strict.url) as client:
        for n in range(49):
            params = {"email": f"victim{n}@example.com", "password": WRONG}
            assert client.get("/login", params=params).status_code == 401
        own_login = client.get("/login", params={"email": own["email"], "password": PASSWORD})
        assert own_login.status_code == 200
        params = {"email": "victim-last@example.com", "password": WRONG}
        assert client.get("/login", params=params).status_code == 401  # the 50th failure
        assert client.get("/login", params=params).status_code == 429


def test_behind_a_trusted_proxy_the_address_is_the_proxys_client(
    backend: str, tmp_path: Path
) -> None:
    """The client cannot pick its throttle key by prepending to X-Forwarded-For."""
    deployed, db_name = start_deployment(
        backend, tmp_path, args=(), trusted_proxies="127.0.0.1",
        login_failures_per_address="3", login_lockout_max_seconds="30",
    )
    try:
        with httpx.Client(base_url=deployed.url) as client:
            for n in range(3):
                spoofed = {"X-Forwarded-For": f"10.0.0.{n}, 203.0.113.7"}
                params = {"email": f"v{n}@example.com", "password": WRONG}
                assert client.get("/login", params=params, headers=spoofed).status_code == 401
            fourth = client.get("/login", params={"email": "v9@example.com", "password": WRONG},
                                headers={"X-Forwarded-For": "10.0.0.99, 203.0.113.7"})
            assert fourth.status_code == 429
            other = client.get("/login", params={"email": "v9@example.com", "password": WRONG},
                               headers={"X-Forwarded-For": "198.51.100.1"})
            assert other.status_code == 401
    finally:
        deployed.server.stop()
        drop_database(db_name)
