"""Tokens: 20 minutes, verified locally with the cluster secret, forged ones refused."""

import base64

import pytest

from camloft.errors import Unauthorized
from camloft.tokens import DEFAULT_TTL_SECONDS, issue_token, verify_token

SECRET = b"s" * 48
NOW = 1_800_000_000


def test_round_trip_gives_uid_and_lifetime() -> None:
    token = issue_token(SECRET, 42, region="eu", now=NOW)
    claims = verify_token(SECRET, token, now=NOW + 1)
    assert claims.uid == 42
    assert claims.expires == NOW + DEFAULT_TTL_SECONDS == NOW + 1200
    assert claims.roles == ("L", "W", "A")
    assert claims.region == "eu"


def test_shaped_like_the_reference_sample() -> None:
    """The sample's `0` field carries the issuing region in camloft."""
    token = issue_token(SECRET, 341025, region="uswest2", now=1540810542)
    payload, _, signature = token.partition("*")
    assert base64.urlsafe_b64decode(payload + "==") == b"341025:1540810542:1200:uswest2:L,W,A"
    assert signature


def test_expires_after_twenty_minutes() -> None:
    token = issue_token(SECRET, 1, region="eu", now=NOW)
    verify_token(SECRET, token, now=NOW + 1199)
    with pytest.raises(Unauthorized) as caught:
        verify_token(SECRET, token, now=NOW + 1200)
    assert caught.value.code == "expired_token"


def test_issued_far_in_the_future_is_refused() -> None:
    with pytest.raises(Unauthorized):
        verify_token(SECRET, issue_token(SECRET, 1, region="eu", now=NOW + 3600), now=NOW)


def test_other_secret_is_refused() -> None:
    with pytest.raises(Unauthorized) as caught:
        verify_token(b"o" * 48, issue_token(SECRET, 1, region="eu", now=NOW), now=NOW)
    assert caught.value.code == "invalid_token"


def test_changed_payload_is_refused() -> None:
    """A user cannot turn their token into another user's by editing the uid."""
    token = issue_token(SECRET, 1, region="eu", now=NOW)
    payload, _, signature = token.partition("*")
    forged_payload = base64.urlsafe_b64encode(b"2:1800000000:1200:eu:L,W,A").decode().rstrip("=")
    with pytest.raises(Unauthorized):
        verify_token(SECRET, f"{forged_payload}*{signature}", now=NOW)
    assert verify_token(SECRET, f"{payload}*{signature}", now=NOW).uid == 1


@pytest.mark.parametrize(
    "garbage", ["", "*", "a*b*c", "no-star", "x" * 600, "é*é", "Zm9v*", "*sig", "%00*%00"]
)
def test_garbage_is_unauthorized(garbage: str) -> None:
    with pytest.raises(Unauthorized):
        verify_token(SECRET, garbage, now=NOW)
