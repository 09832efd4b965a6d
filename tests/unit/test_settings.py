"""Settings layering: built-in defaults, then the user's file, then environment, then flags."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from autopack import settings


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    for name in ("AUTOPACK_DATABASE_URL", "AUTOPACK_LOG_LEVEL", "AUTOPACK_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


def test_defaults_come_from_config_defaults_yaml(isolated_home: Path) -> None:
    loaded = settings.load_settings()
    assert loaded.log_level == "INFO"
    assert loaded.model_profile == "default"
    assert (
        loaded.resolved_database_url == f"sqlite:///{isolated_home / 'data/autopack/autopack.db'}"
    )
    assert loaded.resolved_workdir == isolated_home / "cache" / "autopack" / "work"


def test_user_file_overrides_defaults_and_environment_overrides_the_file(
    isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    user_file = isolated_home / "config" / "autopack" / "config.yaml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text("log_level: WARNING\nmodel_profile: cheap\n")
    assert settings.load_settings().log_level == "WARNING"
    monkeypatch.setenv("AUTOPACK_LOG_LEVEL", "DEBUG")
    loaded = settings.load_settings()
    assert (loaded.log_level, loaded.model_profile) == ("DEBUG", "cheap")


def test_flags_override_everything_and_none_means_not_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AUTOPACK_DATABASE_URL", "sqlite:////env.db")
    assert settings.load_settings(database_url="sqlite:////flag.db").database_url == (
        "sqlite:////flag.db"
    )
    assert settings.load_settings(database_url=None).database_url == "sqlite:////env.db"


def test_config_file_named_by_environment_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    custom = tmp_path / "custom.yaml"
    custom.write_text("database_connect_timeout: 2.5\n")
    monkeypatch.setenv("AUTOPACK_CONFIG_FILE", str(custom))
    assert settings.load_settings().database_connect_timeout == 2.5


def test_bad_setting_is_rejected_with_its_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AUTOPACK_LOG_LEVEL", "LOUD")
    with pytest.raises(ValidationError, match="log_level"):
        settings.load_settings()


def test_unknown_key_in_user_file_is_rejected(isolated_home: Path) -> None:
    user_file = isolated_home / "config" / "autopack" / "config.yaml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text("databse_url: sqlite:///x\n")
    with pytest.raises(ValidationError, match="databse_url"):
        settings.load_settings()


def test_built_in_config_directory_holds_the_defaults() -> None:
    assert (settings.config_dir() / "defaults.yaml").is_file()
