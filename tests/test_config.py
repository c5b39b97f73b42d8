"""Settings: defaults < TOML file < environment < flags; no default secret outside demo."""

from pathlib import Path

import pytest

from camloft.config import load_settings, require_secret
from camloft.errors import ConfigError


def test_defaults_are_the_embedded_setup(tmp_path: Path) -> None:
    settings = load_settings(env={}, data_dir=tmp_path)
    assert settings.db_url == f"sqlite+aiosqlite:///{tmp_path / 'camloft.db'}"
    assert settings.base_url == "http://127.0.0.1:8080"
    assert settings.token_ttl_seconds == 1200


def test_precedence(tmp_path: Path) -> None:
    config = tmp_path / "camloft.toml"
    config.write_text('port = 9000\nregion = "eu"\nhost = "0.0.0.0"\n[regions]\nus = "http://us:1/"\n')
    settings = load_settings(config, env={"CAMLOFT_PORT": "9100"}, region=None)
    assert settings.port == 9100  # environment beats file
    assert settings.region == "eu"
    assert settings.regions == {"us": "http://us:1"}
    assert settings.base_url == "http://127.0.0.1:9100"
    assert load_settings(config, env={"CAMLOFT_PORT": "9100"}, port=9200).port == 9200


def test_blob_url(tmp_path: Path) -> None:
    """Files under data_dir unless an S3 bucket is named (store/s3.py parses the rest)."""
    assert load_settings(env={}, data_dir=tmp_path).blob_url is None
    url = "s3://video/cams?endpoint_url=http://127.0.0.1:9000&region=us-east-1"
    assert load_settings(env={"CAMLOFT_BLOB_URL": url}).blob_url == url
    for bad in ("/srv/video", "s3://", "https://s3.amazonaws.com/video"):
        with pytest.raises(ConfigError):
            load_settings(env={"CAMLOFT_BLOB_URL": bad})


def test_regions_from_environment() -> None:
    settings = load_settings(env={"CAMLOFT_REGIONS": "eu=http://a:1, us=http://b:2"})
    assert settings.regions == {"eu": "http://a:1", "us": "http://b:2"}


@pytest.mark.parametrize(
    "env",
    [{"CAMLOFT_PORT": "seventy"}, {"CAMLOFT_TOKEN_TTL_SECONDS": "0"},
     {"CAMLOFT_REGIONS": "eu"}, {"CAMLOFT_SECRET": "short"}, {"CAMLOFT_REGION": "EU West"}],
)
def test_invalid_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        load_settings(env=env)


def test_unknown_key_in_file_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "camloft.toml"
    config.write_text("prot = 1\n")
    with pytest.raises(ConfigError):
        load_settings(config, env={})


def test_no_secret_is_refused_outside_demo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError):
        require_secret(load_settings(env={}, data_dir=tmp_path))


def test_demo_secret_is_made_once_and_kept(tmp_path: Path) -> None:
    first = load_settings(env={}, data_dir=tmp_path, demo=True)
    second = load_settings(env={}, data_dir=tmp_path, demo=True)
    assert first.secret_bytes() == second.secret_bytes()
    assert len(first.secret_bytes()) >= 32
    assert (tmp_path / "demo-secret").stat().st_mode & 0o077 == 0


def test_roles_and_the_fleet(tmp_path: Path) -> None:
    """Every role by default; `CAMLOFT_ROLES` or the file picks some, in a fixed order."""
    assert load_settings(env={}).roles == ("auth", "logger", "live")
    settings = load_settings(env={"CAMLOFT_ROLES": "live, logger"})
    assert settings.roles == ("logger", "live") and not settings.plays("auth")
    config = tmp_path / "camloft.toml"
    config.write_text('roles = ["auth"]\nshared_regions = ["us"]\nregion = "eu"\n')
    from_file = load_settings(config, env={})
    assert from_file.roles == ("auth",)
    assert from_file.takes_tokens_of("eu") and from_file.takes_tokens_of("us")
    assert not from_file.takes_tokens_of("asia")
    assert not load_settings(env={}).fleet
    assert load_settings(env={"CAMLOFT_BUS_URL": "redis://127.0.0.1:6379/0"}).fleet
    for bad in ({"CAMLOFT_ROLES": "auth,wowza"}, {"CAMLOFT_ROLES": ""},
                {"CAMLOFT_SHARED_REGIONS": "EU"},
                {"CAMLOFT_HEARTBEAT_SECONDS": "5", "CAMLOFT_HEARTBEAT_TIMEOUT_SECONDS": "5"}):
        with pytest.raises(ConfigError):
            load_settings(env=bad)


def test_allowed_origins() -> None:
    settings = load_settings(env={"CAMLOFT_ALLOW_ORIGINS": "https://a.example.com/, http://b:8080"})
    assert settings.allow_origins == ("https://a.example.com", "http://b:8080")
    for bad in ("a.example.com", "https://a.example.com/path", "ftp://x"):
        with pytest.raises(ConfigError):
            load_settings(env={"CAMLOFT_ALLOW_ORIGINS": bad})
