"""Where `camloft-cli` keeps its login: one JSON file only its user may read.

The file holds the server URL and the session (token, its expiry, the
`webLogin` refresh credential); never the password. Its place, first found:
the `--credentials` flag, `$CAMLOFT_CREDENTIALS`, then
`$XDG_CONFIG_HOME/camloft/credentials.json` (`~/.config/...` without it).
It is written atomically with mode 0600 in a folder of mode 0700.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from camloft.client._auth import Session
from camloft.client.errors import NotLoggedInError, ProtocolError

ENV_CREDENTIALS = "CAMLOFT_CREDENTIALS"


def credentials_path(override: Path | None = None) -> Path:
    if override is not None:
        return override
    if os.environ.get(ENV_CREDENTIALS):
        return Path(os.environ[ENV_CREDENTIALS])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "camloft" / "credentials.json"


@dataclass
class Stored:
    url: str
    session: Session


def load(path: Path) -> Stored:
    """The stored login, or `NotLoggedInError`."""
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise NotLoggedInError(f"not logged in (no {path}): run `camloft-cli login`") from err
    except (OSError, ValueError) as err:
        raise ProtocolError(f"cannot read {path}: {err}") from err
    if not isinstance(data, dict) or not isinstance(data.get("session"), dict):
        raise ProtocolError(f"{path} holds no session")
    return Stored(str(data.get("url") or ""), Session.from_json(data["session"]))


def save(path: Path, stored: Stored) -> None:
    """Write the login atomically, readable by its user only."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=".credentials-")
    try:
        os.fchmod(fd, stat.S_IRUSR | stat.S_IWUSR)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"url": stored.url, "session": stored.session.to_json()}, handle, indent=2)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def forget(path: Path) -> bool:
    """Remove the stored login; whether there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
