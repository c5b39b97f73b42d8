"""Logging set-up, with secrets kept out of every line.

Passwords, tokens and login credentials travel in query strings and path
segments (the reference puts them there), so the access log is filtered:
their values become `***` before a line is written.
"""

from __future__ import annotations

import logging
import re

_SECRET_PARAM = re.compile(r"((?:password|token|userToken|webLogin)=)[^&\s\"]*", re.IGNORECASE)
# A token in a path segment: base64url, a "*", then the signature.
# The access log shows the path percent-encoded: the "*" may be "%2A".
_PATH_TOKEN = re.compile(r"[A-Za-z0-9_\-]{8,}(?:\*|%2[Aa])[A-Za-z0-9_\-.]{8,}")


def redact(text: str) -> str:
    return _PATH_TOKEN.sub("***", _SECRET_PARAM.sub(r"\1***", text))


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def install_redaction() -> None:
    """Filter uvicorn's and camloft's loggers; call after uvicorn configured logging."""
    for name in ("uvicorn.access", "uvicorn.error", "camloft"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactSecrets) for f in logger.filters):
            logger.addFilter(RedactSecrets())
    # Records of child loggers bypass the parent's filters, so handlers filter too.
    for handler in logging.getLogger().handlers + logging.getLogger("uvicorn").handlers:
        if not any(isinstance(f, RedactSecrets) for f in handler.filters):
            handler.addFilter(RedactSecrets())


def configure(level: str) -> None:
    logging.basicConfig(
        level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    install_redaction()
    # httpx logs every request at INFO: an adapter uploads one segment every 2 s per camera.
    logging.getLogger("httpx").setLevel(logging.WARNING)
