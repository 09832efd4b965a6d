"""Which model a role uses: profiles, chains per role and complexity, escalation, fallback.

Quirks and choices are data in ``config/models.yaml`` (as Aider's model settings are): a
profile names, per role and complexity, a chain of model aliases; each alias carries its
provider's quirks (which parameter bounds the output, the minimum cacheable prefix, whether it
streams) and its fallbacks at the same tier. Escalation along the chain is for quality
failures only: after ``after_failures`` failed attempts in a phase the next model of the chain
is used, after ``complexity_bump_after`` the phase counts one complexity level higher. An
outage (overload, unreachable) never escalates: the model's same-tier fallbacks are tried.
"""

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from autopack import settings
from autopack.api import ModelChains
from autopack.llm.retrying import RetryPolicy

# A safe loader: libyaml's when PyYAML has it (~40x faster than the pure-Python one).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

Complexity = Literal["low", "medium", "high"]
LEVELS: tuple[Complexity, ...] = ("low", "medium", "high")
ROLES = ("planner", "builder", "auditor", "doctor")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelEntry(_Strict):
    """One model alias and its quirks."""

    provider: Literal["anthropic", "openai", "scripted"]
    name: str
    max_output_tokens: int = 8192
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    """Reasoning models (OpenAI o-series, GPT-5) take ``max_completion_tokens``."""
    min_cache_tokens: int = 1024
    """The provider's minimum cacheable prefix for this model (shorter prefixes never cache)."""
    streaming: bool = True
    """Whether the model answers over a stream (every hosted model does; some local servers not)."""
    fallbacks: list[str] = Field(default_factory=list)
    """Models at the same tier, other providers first, tried when this one is down."""


class Timeouts(_Strict):
    """How long one streamed HTTP call may take."""

    connect_seconds: float = Field(default=10.0, gt=0)
    idle_seconds: float = Field(default=60.0, gt=0)
    """Longest silence between two chunks of a stream."""
    total_seconds: float = Field(default=600.0, gt=0)
    """Cap on a whole call, however steadily it streams."""


class Breaker(_Strict):
    """The circuit breaker per provider and model, shared by all calls of a run."""

    failures: int = Field(default=3, ge=1)
    """Consecutive failed HTTP attempts (overload, 5xx, unreachable, timeout) that open it."""
    cooldown_seconds: float = Field(default=30.0, ge=0)
    """How long an open breaker sends calls straight to the fallback before one trial call."""


class Escalation(_Strict):
    """When to move along the chain and bump complexity."""

    after_failures: int = Field(default=2, ge=1)
    complexity_bump_after: int = Field(default=3, ge=1)


class RoleChains(_Strict):
    """Chains for one role, per complexity."""

    low: list[str]
    medium: list[str]
    high: list[str]


class Profile(_Strict):
    """A named routing profile."""

    planner: RoleChains
    builder: RoleChains
    auditor: RoleChains
    doctor: RoleChains
    fallback: list[str] = Field(default_factory=list)
    """Fallbacks for the profile's models that name none of their own."""


class ModelsConfig(_Strict):
    """Everything in ``config/models.yaml``."""

    version: int
    models: dict[str, ModelEntry]
    escalation: Escalation = Field(default_factory=Escalation)
    retries: RetryPolicy = RetryPolicy()
    timeouts: Timeouts = Field(default_factory=Timeouts)
    breaker: Breaker = Field(default_factory=Breaker)
    profiles: dict[str, Profile]

    def profile(self, name: str) -> Profile:
        """Return profile ``name``, naming the known ones when it is missing."""
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise KeyError(f"model profile {name!r} is not in models.yaml; known: {known}")
        return self.profiles[name]


# Environment overrides of models.yaml's call limits (variable -> section, field).
ENV_OVERRIDES = {
    "AUTOPACK_MODEL_IDLE_TIMEOUT_SECONDS": ("timeouts", "idle_seconds"),
    "AUTOPACK_MODEL_TIMEOUT_SECONDS": ("timeouts", "total_seconds"),
    "AUTOPACK_MODEL_CONNECT_TIMEOUT_SECONDS": ("timeouts", "connect_seconds"),
    "AUTOPACK_MODEL_MAX_RETRY_AFTER_SECONDS": ("retries", "max_retry_after_seconds"),
}


def _with_environment(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    for variable, (section, name) in ENV_OVERRIDES.items():
        value = environ.get(variable)
        if not value:
            continue
        try:
            seconds = float(value)
        except ValueError:
            raise ValueError(f"{variable}={value!r} is not a number of seconds") from None
        data.setdefault(section, {})[name] = seconds
    return data


def load_models_config(
    path: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> ModelsConfig:
    """Read ``models.yaml`` (then ``AUTOPACK_MODEL_*`` overrides) and check every name."""
    text = (path or settings.config_dir() / "models.yaml").read_text()
    data: Any = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - safe
    if isinstance(data, dict):
        data = _with_environment(data, os.environ if environ is None else environ)
    config = ModelsConfig.model_validate(data)
    for alias, entry in config.models.items():
        for fallback in entry.fallbacks:
            if fallback not in config.models:
                raise ValueError(f"models.yaml: {alias}.fallbacks names unknown model {fallback!r}")
    for profile_name, profile in config.profiles.items():
        for alias in profile.fallback:
            if alias not in config.models:
                raise ValueError(
                    f"models.yaml: profile {profile_name}.fallback names unknown model {alias!r}"
                )
        for role in ROLES:
            chains: RoleChains = getattr(profile, role)
            for level in LEVELS:
                for alias in getattr(chains, level):
                    if alias not in config.models:
                        raise ValueError(
                            f"models.yaml: profile {profile_name}.{role}.{level} names unknown "
                            f"model {alias!r}"
                        )
    return config


def bumped(complexity: Complexity, *, failures: int, escalation: Escalation) -> Complexity:
    """The complexity to route with after ``failures`` failed attempts."""
    steps = failures // escalation.complexity_bump_after
    return LEVELS[min(LEVELS.index(complexity) + steps, len(LEVELS) - 1)]


def route(
    config: ModelsConfig,
    *,
    profile: str,
    role: str,
    complexity: Complexity,
    failures: int,
    overrides: ModelChains | None = None,
) -> list[str]:
    """Return model aliases to try: the chain member for ``failures``, then its fallbacks.

    Failures (failed attempts: a quality signal) move along the chain; the fallbacks after the
    first alias are the same tier, for outages only, never a dearer model of the chain.
    """
    chosen = config.profile(profile)
    explicit = getattr(overrides, role, None) if overrides is not None else None
    if explicit:
        chain = list(explicit)
    else:
        level = bumped(complexity, failures=failures, escalation=config.escalation)
        chain = list(getattr(getattr(chosen, role), level))
    index = min(failures // config.escalation.after_failures, len(chain) - 1)
    primary = chain[index]
    entry = config.models.get(primary)
    fallbacks = entry.fallbacks if entry is not None and entry.fallbacks else chosen.fallback
    return [primary, *(alias for alias in fallbacks if alias != primary)]
