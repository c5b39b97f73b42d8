"""No password or token reaches a log line."""

import logging

from camloft.logs import RedactSecrets, redact

TOKEN = "MToxNzk1NjEwMDgyOjEyMDA6MDpMLFcsQQ*Savwt89IfRdFaeVwO9d_iUV41c1TxSudErF7VljkABM"


def test_query_secrets_are_redacted() -> None:
    line = redact(f"GET /login?email=a@b.c&password=hunter2&caller=website&token={TOKEN}")
    assert "hunter2" not in line and TOKEN not in line
    assert "email=a@b.c" in line and "caller=website" in line


def test_token_in_path_is_redacted() -> None:
    assert TOKEN not in redact(f"GET /alertthumb/1.1/1540565930/{TOKEN} HTTP/1.1")


def test_filter_rewrites_access_log_args() -> None:
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", f"/devices?userToken={TOKEN}", "1.1", 200), None,
    )
    RedactSecrets().filter(record)
    assert TOKEN not in record.getMessage()


def test_percent_encoded_token_in_path_is_redacted() -> None:
    """uvicorn logs the raw path: the token's "*" arrives as %2A."""
    encoded = TOKEN.replace("*", "%2A")
    assert encoded not in redact(f"GET /getthumb/1.1/1540565930/{encoded} HTTP/1.1")
