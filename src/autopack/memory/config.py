"""The intention-memory settings from ``config/memory.yaml``, parsed into one typed object.

Embedder choice, retrieval limits and drift thresholds are data, so changing them never means
changing code; a malformed file fails here with the file and field named.
"""

from pathlib import Path
from typing import Annotated, Literal

import pydantic
import yaml
from pydantic import BaseModel, ConfigDict, Field

from autopack import settings

# A safe loader: libyaml's when PyYAML has it (~40x faster than the pure-Python one).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

ProviderChoice = Literal["auto", "minilm", "openai", "hashing-lexical"]
DriftMode = Literal["advisory", "blocking"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OpenAISettings(_Strict):
    """How to reach an OpenAI-compatible embeddings endpoint."""

    model: Annotated[str, Field(min_length=1)] = "text-embedding-3-small"
    base_url: str = ""
    api_key_env: Annotated[str, Field(min_length=1)] = "OPENAI_API_KEY"
    dimensions: Annotated[int, Field(ge=1, le=65_536)] | None = None
    timeout_seconds: Annotated[float, Field(gt=0, le=600)] = 30.0
    known_dimensions: dict[str, Annotated[int, Field(ge=1)]] = Field(default_factory=dict)


class MiniLMSettings(_Strict):
    """Where the local MiniLM model runs."""

    device: Annotated[str, Field(min_length=1)] = "cpu"


class HashingSettings(_Strict):
    """Size of the lexical hashing embedder."""

    dimensions: Annotated[int, Field(ge=16, le=65_536)] = 512


class RetrievalSettings(_Strict):
    """How much memory one prompt gets."""

    top_k: Annotated[int, Field(ge=1, le=100)] = 5
    max_chars: Annotated[int, Field(ge=200, le=100_000)] = 4000


class DriftSettings(_Strict):
    """When a phase's change counts as drift, and what that does."""

    mode: DriftMode = "advisory"
    thresholds: dict[str, Annotated[float, Field(ge=-1, le=1)]] = Field(
        default_factory=lambda: {"minilm": 0.30, "openai": 0.30, "hashing-lexical": 0.10}
    )

    def threshold_for(self, provider: str) -> float:
        """Return the threshold of ``provider``, or say where to configure it."""
        try:
            return self.thresholds[provider]
        except KeyError:
            raise KeyError(
                f"config/memory.yaml drift.thresholds has no entry for embedder {provider!r}; "
                f"add one (known: {', '.join(sorted(self.thresholds)) or 'none'})"
            ) from None


class MemoryConfig(_Strict):
    """Everything intention memory reads from configuration."""

    provider: ProviderChoice = "auto"
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    minilm: MiniLMSettings = Field(default_factory=MiniLMSettings)
    hashing: HashingSettings = Field(default_factory=HashingSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    drift: DriftSettings = Field(default_factory=DriftSettings)


class MemoryConfigError(ValueError):
    """``memory.yaml`` cannot be read or does not match the expected shape."""


def load_memory_config(path: Path | None = None) -> MemoryConfig:
    """Read ``memory.yaml`` from the built-in configuration directory (or ``path``)."""
    source = path or settings.config_dir() / "memory.yaml"
    try:
        data = yaml.load(source.read_text(encoding="utf-8"), Loader=_YAML_LOADER) or {}  # noqa: S506 - safe
        return MemoryConfig.model_validate(data)
    except OSError as error:
        raise MemoryConfigError(f"cannot read {source}: {error.strerror or error}") from error
    except yaml.YAMLError as error:
        raise MemoryConfigError(f"{source} is not valid YAML: {error}") from error
    except pydantic.ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or '(top level)'}: {item['msg']}"
            for item in error.errors()
        )
        raise MemoryConfigError(f"{source} is invalid: {problems}") from error
