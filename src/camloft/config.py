"""Typed settings, read from a TOML file and `CAMLOFT_*` environment variables.

Precedence, lowest first: defaults, the TOML file, the environment, command-line
flags. Everything is validated when the server starts; nothing is built at
import time. Outside demo mode a cluster secret must be given: there is no
default secret to forget about. The table of every setting is in README.md.
"""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from camloft.errors import ConfigError

ENV_PREFIX = "CAMLOFT_"
MIN_SECRET_LENGTH = 32
REGION_PATTERN = r"^[a-z0-9-]{1,32}$"
ROLES = ("auth", "logger", "live")
"""The server roles a process can play: `camloft serve --role ...`, all three by default."""


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    data_dir: Path = Path("data")
    database_url: str | None = None
    # Where video and images go: None = files under data_dir; or an S3 bucket,
    # s3://bucket/prefix?endpoint_url=...&region=... (camloft.store.s3; AWS_* credentials).
    blob_url: str | None = Field(None, pattern=r"^s3://[^/?#]+", max_length=2000)
    secret: SecretStr | None = None
    demo: bool = False
    demo_cameras: bool = True  # with --demo: record synthetic cameras in-process
    public_url: str | None = None
    region: str = Field("local", pattern=REGION_PATTERN)
    regions: dict[str, str] = Field(default_factory=dict)
    # Other regions whose tokens this process takes: those that share its database (so
    # one numbering of uids), as loggers and live origins serving several regions do.
    shared_regions: tuple[str, ...] = ()
    # Web origins whose pages may call this process (CORS): on loggers and live origins,
    # the authenticator's public URL, whose web viewer calls them from another host.
    allow_origins: tuple[str, ...] = ()
    logger_url: str | None = None
    wowza_url: str | None = None
    token_ttl_seconds: int = Field(20 * 60, ge=5, le=24 * 3600)
    login_cookie_days: int = Field(30, ge=1, le=365)
    login_failures_per_account: int = Field(5, ge=1, le=1000)
    login_failures_per_address: int = Field(20, ge=1, le=100_000)
    login_lockout_max_seconds: int = Field(60, ge=1, le=3600)
    # How long the logger keeps a /cameras/realtime/live stream open (the reference: 5 min).
    realtime_max_seconds: int = Field(300, ge=1, le=3600)
    # How long a live playlist request waits for a stream's first segment before a 503.
    live_wait_seconds: float = Field(5.0, ge=0.0, le=30.0)
    retention_interval_seconds: float = Field(600.0, ge=1.0, le=86_400.0)
    keep_free_percent: float = Field(5.0, ge=0.0, le=90.0)
    owner_quota_gb: float = Field(0.0, ge=0.0, le=1_000_000.0)  # 0: no quota
    # Addresses of reverse proxies whose X-Forwarded-For is believed (comma-separated
    # IPs or networks); the client is the rightmost address no trusted proxy added.
    trusted_proxies: str | None = Field(None, max_length=2000)
    log_level: str = Field("info", pattern=r"^(critical|error|warning|info|debug)$")
    # The bus between processes: None = in-process (one process); redis://host:port/db = Redis.
    bus_url: str | None = Field(None, pattern=r"^(redis|rediss|unix)://", max_length=2000)
    # Prefix of the bus's Redis channels, so deployments sharing a Redis stay apart.
    bus_prefix: str = Field("camloft:", pattern=r"^[A-Za-z0-9:._-]{1,64}$")
    # The roles this process plays (camloft.config.ROLES); every one by default.
    roles: tuple[str, ...] = ROLES
    # With a bus_url, loggers and live origins beat into the database this often, and are
    # taken for dead (their devices moved) after heartbeat_timeout_seconds without a beat.
    heartbeat_seconds: float = Field(5.0, ge=0.2, le=600.0)
    heartbeat_timeout_seconds: float = Field(15.0, ge=0.5, le=3600.0)

    @model_validator(mode="after")
    def _fill_derived(self) -> Self:
        if self.database_url is None:
            self.database_url = f"sqlite+aiosqlite:///{self.data_dir / 'camloft.db'}"
        if self.public_url is None:
            shown = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
            self.public_url = f"http://{shown}:{self.port}"
        for name in ("public_url", "logger_url", "wowza_url"):
            value = getattr(self, name)
            if value is not None:
                setattr(self, name, value.rstrip("/"))
        self.regions = {name: url.rstrip("/") for name, url in self.regions.items()}
        unknown = set(self.roles) - set(ROLES)
        if unknown or not self.roles:
            raise ValueError(f"roles are some of {', '.join(ROLES)}, got {', '.join(self.roles)}")
        self.roles = tuple(role for role in ROLES if role in self.roles)
        self.allow_origins = tuple(origin.rstrip("/") for origin in self.allow_origins)
        for origin in self.allow_origins:
            if not re.fullmatch(r"https?://[^/\s]+|\*", origin):
                raise ValueError(f"an allowed origin is scheme://host[:port] or *, not {origin!r}")
        for name in self.shared_regions:
            if not re.fullmatch(REGION_PATTERN, name):
                raise ValueError(f"a region name is like eu or us-east, not {name!r}")
        if self.heartbeat_timeout_seconds <= self.heartbeat_seconds:
            raise ValueError("heartbeat_timeout_seconds must be longer than heartbeat_seconds")
        return self

    @property
    def fleet(self) -> bool:
        """Processes of this deployment share a bus: loggers and live origins heartbeat and
        authenticators allocate devices among them (camloft.fleet)."""
        return self.bus_url is not None

    def plays(self, *roles: str) -> bool:
        """Whether this process plays every one of `roles`."""
        return all(role in self.roles for role in roles)

    def takes_tokens_of(self, region: str) -> bool:
        return region == self.region or region in self.shared_regions

    @property
    def db_url(self) -> str:
        assert self.database_url is not None  # filled by the validator
        return self.database_url

    @property
    def base_url(self) -> str:
        assert self.public_url is not None
        return self.public_url

    @property
    def device_logger_url(self) -> str:
        """Where new devices log to unless moved: this server, unless configured."""
        return self.logger_url or self.base_url

    @property
    def device_wowza_url(self) -> str:
        return self.wowza_url or self.base_url

    def secret_bytes(self) -> bytes:
        if self.secret is None:
            raise ConfigError("no cluster secret: set CAMLOFT_SECRET or run with --demo")
        return self.secret.get_secret_value().encode("utf-8")


def _from_env(env: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in Settings.model_fields:
        raw = env.get(ENV_PREFIX + name.upper())
        if raw is None:
            continue
        if name == "regions":
            values[name] = _parse_regions(raw)
        elif name in ("roles", "shared_regions", "allow_origins"):
            values[name] = parse_list(raw)
        else:
            values[name] = raw
    return values


def parse_list(raw: str) -> tuple[str, ...]:
    """`auth,logger` (as `CAMLOFT_ROLES` and `--role` take it)."""
    return tuple(filter(None, (part.strip() for part in raw.split(","))))


def _parse_regions(raw: str) -> dict[str, str]:
    """`eu=https://eu.example.com,us=https://us.example.com`."""
    regions: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in raw.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not name or not url:
            raise ConfigError(f"CAMLOFT_REGIONS entries look like name=url, got {item!r}")
        regions[name.strip()] = url.strip()
    return regions


def load_settings(
    config_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build settings from file, environment and explicit overrides (None = not given)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            values.update(tomllib.loads(config_file.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as err:
            raise ConfigError(f"cannot read config file {config_file}: {err}") from err
    values.update(_from_env(os.environ if env is None else env))
    values.update({key: value for key, value in overrides.items() if value is not None})
    try:
        settings = Settings(**values)
    except ValidationError as err:
        raise ConfigError(f"invalid settings: {err}") from err
    _check_secret(settings)
    return settings


def _check_secret(settings: Settings) -> None:
    if settings.secret is None:
        if not settings.demo:
            return  # admin commands need no secret; `serve` calls `require_secret`
        settings.secret = SecretStr(_demo_secret(settings.data_dir))
    elif len(settings.secret.get_secret_value()) < MIN_SECRET_LENGTH:
        raise ConfigError(f"the cluster secret must be at least {MIN_SECRET_LENGTH} characters")


def require_secret(settings: Settings) -> None:
    """Refuse to serve without a real secret (demo mode makes one per data dir)."""
    settings.secret_bytes()


def _demo_secret(data_dir: Path) -> str:
    """A random secret kept in the data dir, so demo tokens survive a restart."""
    path = data_dir / "demo-secret"
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(value)
    return value
