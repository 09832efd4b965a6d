"""Which model a role uses: profiles, chains per role and complexity, escalation, fallback.

Quirks and choices are data in ``config/models.yaml``: a profile names, per role and
complexity, a chain of model aliases. After ``after_failures`` failed attempts in a phase the
next model of the chain is used; after ``complexity_bump_after`` the phase is treated as one
complexity level higher. When a provider is overloaded or down, the profile's fallback models
(other providers) are tried.
"""

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from autopack import settings
from autopack.api import ModelChains
from autopack.llm.retrying import RetryPolicy

Complexity = Literal["low", "medium", "high"]
LEVELS: tuple[Complexity, ...] = ("low", "medium", "high")
ROLES = ("planner", "builder", "auditor", "doctor")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelEntry(_Strict):
    """One model alias."""

    provider: Literal["anthropic", "openai", "scripted"]
    name: str
    max_output_tokens: int = 8192


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


class ModelsConfig(_Strict):
    """Everything in ``config/models.yaml``."""

    version: int
    models: dict[str, ModelEntry]
    escalation: Escalation = Field(default_factory=Escalation)
    retries: RetryPolicy = RetryPolicy()
    profiles: dict[str, Profile]

    def profile(self, name: str) -> Profile:
        """Return profile ``name``, naming the known ones when it is missing."""
        if name not in self.profiles:
            known = ", ".join(sorted(self.profiles))
            raise KeyError(f"model profile {name!r} is not in models.yaml; known: {known}")
        return self.profiles[name]


def load_models_config(path: Path | None = None) -> ModelsConfig:
    """Read ``models.yaml`` and check every chain names a known model."""
    data: Any = yaml.safe_load((path or settings.config_dir() / "models.yaml").read_text())
    config = ModelsConfig.model_validate(data)
    for profile_name, profile in config.profiles.items():
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
    """Return model aliases to try, best first: the escalated chain member, then fallbacks."""
    chosen = config.profile(profile)
    explicit = getattr(overrides, role, None) if overrides is not None else None
    if explicit:
        chain = list(explicit)
    else:
        level = bumped(complexity, failures=failures, escalation=config.escalation)
        chain = list(getattr(getattr(chosen, role), level))
    index = min(failures // config.escalation.after_failures, len(chain) - 1)
    ordered = [chain[index], *chain[index + 1 :]]
    return [*ordered, *(m for m in chosen.fallback if m not in ordered)]
