"""Regions: a global entry authenticator sends each user to its home region's authenticator.

Two authenticator processes on two ports: `eu` is also the global entry (it
knows the `us` peer), `us` holds its own users. They share the cluster secret
(for the signed region lookup), but each numbers its own users, so a token is
good only in the region that issued it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.support import Server, auth_header, camloft_env, free_port, new_secret, run_cli


class Regions:
    def __init__(self, eu: Server, us: Server) -> None:
        self.eu, self.us = eu, us


def add_user(server: Server, email: str, password: str, *extra: str) -> None:
    done = run_cli(["admin", "--data-dir", str(server.data_dir), "user", "add", email,
                    "--password", password, *extra], server.env)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module")
def regions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Regions]:
    secret = new_secret()
    us_port = free_port()
    us_url = f"http://127.0.0.1:{us_port}"
    us = Server(tmp_path_factory.mktemp("us"), camloft_env(secret, None, region="us"),
                port=us_port)
    eu = Server(tmp_path_factory.mktemp("eu"),
                camloft_env(secret, None, region="eu", regions=f"us={us_url}"))
    add_user(us, "sam@example.com", "sam-pw")
    add_user(eu, "eva@example.com", "eva-pw")
    # A directory entry at the entry point for a user of the us region.
    add_user(eu, "dora@example.com", "unused", "--region", "us")
    add_user(us, ADMIN_EMAIL, ADMIN_PASSWORD)
    us.start()
    eu.start()
    yield Regions(eu, us)
    eu.stop()
    us.stop()


def test_home_user_logs_in_at_the_entry(regions: Regions) -> None:
    response = httpx.get(f"{regions.eu.url}/login",
                         params={"email": "eva@example.com", "password": "eva-pw"})
    assert response.status_code == 200
    assert response.json()["result"]["region"] == "eu"
    assert response.json()["result"]["authenticator"] == regions.eu.url


def test_get_login_redirects_to_the_home_region(regions: Regions) -> None:
    params = {"email": "sam@example.com", "password": "sam-pw", "caller": "website"}
    response = httpx.get(f"{regions.eu.url}/login", params=params)
    assert response.status_code == 307
    location = response.headers["location"]
    assert location.startswith(f"{regions.us.url}/login?")
    followed = httpx.get(f"{regions.eu.url}/login", params=params, follow_redirects=True)
    assert followed.status_code == 200
    result = followed.json()["result"]
    assert result["region"] == "us" and result["authenticator"] == regions.us.url


def test_json_login_answers_location(regions: Regions) -> None:
    response = httpx.post(f"{regions.eu.url}/login",
                          json={"email": "sam@example.com", "password": "sam-pw"})
    assert response.status_code == 200
    assert response.json() == {"location": regions.us.url}
    home = httpx.post(f"{response.json()['location']}/login",
                      json={"email": "sam@example.com", "password": "sam-pw"})
    assert home.json()["result"]["region"] == "us"


def test_directory_entry_redirects_without_asking_peers(regions: Regions) -> None:
    response = httpx.post(f"{regions.eu.url}/login",
                          json={"email": "dora@example.com", "password": "whatever"})
    assert response.json() == {"location": regions.us.url}


def test_unknown_everywhere_is_401(regions: Regions) -> None:
    response = httpx.get(f"{regions.eu.url}/login",
                         params={"email": "ghost@example.com", "password": "x"})
    assert response.status_code == 401


def test_a_token_works_only_in_its_own_region(regions: Regions) -> None:
    """Each region numbers its own users: us uid 1 is not eu uid 1."""
    token = httpx.post(f"{regions.us.url}/login", json={
        "email": "sam@example.com", "password": "sam-pw"}).json()["result"]["authToken"]
    assert httpx.get(f"{regions.us.url}/devices", headers=auth_header(token)).status_code == 200
    elsewhere = httpx.get(f"{regions.eu.url}/devices", headers=auth_header(token))
    assert elsewhere.status_code == 401
    assert elsewhere.json()["error"] == "wrong_region"


def test_region_lookup_needs_the_cluster_signature(regions: Regions) -> None:
    response = httpx.get(f"{regions.us.url}/internal/region",
                         params={"email": "sam@example.com"},
                         headers={"X-Camloft-Cluster": "0" * 64})
    assert response.status_code == 403
    assert httpx.get(f"{regions.us.url}/internal/region",
                     params={"email": "sam@example.com"}).status_code == 403


def test_entry_with_its_peer_down_still_serves_its_own(
    regions: Regions, tmp_path: Path
) -> None:
    lonely = Server(tmp_path, camloft_env(new_secret(), None, region="eu",
                                          regions=f"us=http://127.0.0.1:{free_port()}"))
    add_user(lonely, "eva@example.com", "eva-pw")
    lonely.start()
    try:
        ok = httpx.get(f"{lonely.url}/login",
                       params={"email": "eva@example.com", "password": "eva-pw"})
        assert ok.status_code == 200
        missing = httpx.get(f"{lonely.url}/login",
                            params={"email": "sam@example.com", "password": "sam-pw"})
        assert missing.status_code == 401
    finally:
        lonely.stop()
