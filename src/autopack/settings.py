"""One settings object for every Autopack process, layered over the defaults in ``config/``.

Layers, lowest first: ``config/defaults.yaml`` shipped with Autopack, the user's file
(``AUTOPACK_CONFIG_FILE`` or ``~/.config/autopack/config.yaml``), ``AUTOPACK_*`` environment
variables, then explicit keyword arguments (which the CLI fills from its flags).
"""

import os
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


def config_dir() -> Path:
    """Return the directory of the built-in configuration files (models, pricing, hardening).

    ``AUTOPACK_CONFIG_DIR`` wins; an installed wheel carries them as ``autopack/_defaults``;
    an editable install or a source checkout reads the repository's ``config/`` directly.
    """
    override = os.environ.get("AUTOPACK_CONFIG_DIR")
    if override:
        return Path(override)
    bundled = Path(str(resources.files("autopack"))) / "_defaults"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2] / "config"


def user_config_file() -> Path:
    """Return the path of the user's settings file (it need not exist)."""
    override = os.environ.get("AUTOPACK_CONFIG_FILE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autopack" / "config.yaml"


def data_dir() -> Path:
    """Return the per-user data directory (SQLite store, local Qdrant)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "autopack"


def cache_dir() -> Path:
    """Return the per-user cache directory (workspaces of local runs)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "autopack"


class Settings(BaseSettings):
    """Process-wide settings; every field can be set as ``AUTOPACK_<NAME>``."""

    model_config = SettingsConfigDict(
        env_prefix="AUTOPACK_",
        extra="forbid",
        use_attribute_docstrings=True,
        validate_default=True,
    )

    database_url: str = ""
    """SQLAlchemy URL of the run store; empty means SQLite under the data directory."""

    workdir: str = ""
    """Directory for local run workspaces; empty means under the cache directory."""

    model_profile: str = Field(default="default", min_length=1)
    """Model profile used when a run does not name one."""

    qdrant_url: str = ""
    """Qdrant server URL; empty means local mode under the data directory."""

    qdrant_api_key: str = Field(default="", repr=False)
    """API key of the Qdrant server (set it from a Secret, never in a file); empty: none."""

    log_level: LogLevel = "INFO"
    """Log level."""

    database_connect_timeout: float = Field(default=5.0, gt=0, le=300)
    """Seconds to wait for the database before giving up."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the layers: flags, environment, user file, built-in defaults."""
        return (
            init_settings,
            env_settings,
            YamlConfigSettingsSource(settings_cls, yaml_file=user_config_file()),
            YamlConfigSettingsSource(settings_cls, yaml_file=config_dir() / "defaults.yaml"),
        )

    @property
    def resolved_database_url(self) -> str:
        """Return the database URL, defaulting to SQLite in the per-user data directory."""
        return self.database_url or f"sqlite:///{data_dir() / 'autopack.db'}"

    @property
    def resolved_workdir(self) -> Path:
        """Return the absolute workspace directory, defaulting to the per-user cache directory."""
        return Path(self.workdir).resolve() if self.workdir else cache_dir() / "work"


def load_settings(**overrides: Any) -> Settings:
    """Build settings from all layers; ``overrides`` (CLI flags) win, ``None`` ones are ignored."""
    return Settings(**{key: value for key, value in overrides.items() if value is not None})


@cache
def _cached() -> Settings:
    return Settings()


def get_settings() -> Settings:
    """Return settings from files and environment, built once per process."""
    return _cached()
