"""Tokens that run out mid-session (5 s tokens), refresh paths and login errors."""

from __future__ import annotations

import asyncio
import time

import pytest

from camloft.client import AsyncClient, AuthenticationError, Client, NotLoggedInError
from tests.client.conftest import TOKEN_TTL_SECONDS
from tests.conftest import Deployment


def test_a_token_is_refreshed_before_it_runs_out(short_tokens: Deployment) -> None:
    """Rule: a fresh token before the lifetime runs out (75 % of it), via webLogin."""
    seen = []
    with Client(
        short_tokens.url,
        email="demo@example.com",
        password="demo",
        remember_password=False,
        on_session=seen.append,
    ) as client:
        assert client.session is not None and client.session.ttl == TOKEN_TTL_SECONDS
        first, web_login = client.token, client.session.web_login
        assert [d.uidd for d in client.devices()] == ["1.1", "1.2", "1.3"]
        time.sleep(TOKEN_TTL_SECONDS + 1)  # the first token has expired by now
        assert len(client.devices()) == 3
        assert client.events("1.1") == []  # the logger takes the new token too
        assert client.token != first
        assert client.session.web_login == web_login  # refreshed, not logged in again
        assert len(seen) == 2  # the login, then one refresh


def test_a_token_refused_as_expired_is_refreshed_and_the_call_sent_again(
    short_tokens: Deployment,
) -> None:
    with Client(short_tokens.url, email="viewer@example.com", password="viewer") as client:
        client._auth.proactive = False  # as if the clock jumped: the server says it first
        first = client.token
        time.sleep(TOKEN_TTL_SECONDS + 1)
        assert [d.uidd for d in client.viewer_info()] == ["1.1", "1.2", "1.3"]
        assert client.token != first


def test_a_refused_web_login_falls_back_to_the_password(short_tokens: Deployment) -> None:
    with Client(short_tokens.url, email="demo@example.com", password="demo") as client:
        assert client.session is not None
        client.session.web_login = "0" * 32 + ".not-a-valid-credential"
        client.session.expires_at = time.time()  # due now
        assert len(client.devices()) == 3
        assert client.session.web_login != "0" * 32 + ".not-a-valid-credential"


def test_no_way_to_refresh_is_an_authentication_error(short_tokens: Deployment) -> None:
    with Client(
        short_tokens.url, email="demo@example.com", password="demo", remember_password=False
    ) as client:
        assert client.session is not None
        client.session.web_login = None
        client._auth.proactive = False
        time.sleep(TOKEN_TTL_SECONDS + 1)
        with pytest.raises(AuthenticationError) as caught:
            client.devices()
        assert caught.value.code == "expired_token"


def test_login_errors(short_tokens: Deployment) -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(short_tokens.url, email="demo@example.com", password="wrong")
    assert (caught.value.status, caught.value.code) == (401, "login_failed")
    with Client(short_tokens.url) as client, pytest.raises(NotLoggedInError):
        client.devices()


def test_the_async_client_refreshes_mid_session(short_tokens: Deployment) -> None:
    async def run() -> None:
        async with AsyncClient(short_tokens.url) as client:
            await client.login("demo@example.com", "demo")
            first = client.token
            await asyncio.sleep(TOKEN_TTL_SECONDS + 1)
            assert [d.name for d in await client.devices()] == ["Front Door", "Garden", "Garage"]
            assert client.token != first

    asyncio.run(run())
