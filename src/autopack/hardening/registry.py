"""The mitigation registry: known failure patterns from config, tried in priority order.

A mitigation is data (name, categories, a regular expression, an action name) in
``config/hardening.yaml`` plus a small action function. :func:`find_mitigation` picks the
first pattern that matches a failure; the caller runs its action and records pattern, action
and whether the failure went away — all before any Doctor call is considered.
"""

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from autopack import settings

# A safe loader: libyaml's when PyYAML has it (~40x faster than the pure-Python one).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MitigationRule(_Strict):
    """One known failure pattern and the action that fixes it."""

    name: str
    priority: int
    categories: list[str]
    pattern: str
    action: str

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from None
        return value


class ApproachFlawSettings(_Strict):
    """When repeated failures mean the approach is wrong."""

    similarity_threshold: Annotated[float, Field(ge=0, le=1)] = 0.85
    consecutive_failures: Annotated[int, Field(ge=2)] = 2


class HealthSettings(_Strict):
    """Per-run failure caps."""

    max_failures: Annotated[int, Field(ge=1)] = 25
    max_apply_failures: Annotated[int, Field(ge=1)] = 10
    max_provider_errors: Annotated[int, Field(ge=1)] = 8


class DoctorSettings(_Strict):
    """Doctor call budgets and escalation."""

    max_calls_per_phase: Annotated[int, Field(ge=0)] = 2
    max_calls_per_run: Annotated[int, Field(ge=0)] = 6
    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.6
    high_risk_categories: list[str] = Field(default_factory=list)
    typical_tokens: Annotated[int, Field(ge=0)] = 6000


class HardeningConfig(_Strict):
    """Everything in ``config/hardening.yaml``."""

    version: int
    approach_flaw: ApproachFlawSettings = Field(default_factory=ApproachFlawSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    doctor: DoctorSettings = Field(default_factory=DoctorSettings)
    python_distributions: dict[str, str] = Field(default_factory=dict)
    allowed_installs: dict[Literal["python", "node"], list[str]] = Field(default_factory=dict)
    mitigations: list[MitigationRule] = Field(default_factory=list)


def load_hardening_config(path: Path | None = None) -> HardeningConfig:
    """Read ``hardening.yaml`` (built-in unless ``path`` is given)."""
    source = path or settings.config_dir() / "hardening.yaml"
    data: Any = yaml.load(source.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - safe
    return HardeningConfig.model_validate(data)


@dataclass(frozen=True)
class MitigationMatch:
    """A rule that matched a failure, with the named groups it captured."""

    rule: MitigationRule
    groups: dict[str, str]


def find_mitigation(
    config: HardeningConfig, *, category: str, message: str, exclude: frozenset[str] = frozenset()
) -> MitigationMatch | None:
    """Return the highest-priority rule matching a failure, skipping rules in ``exclude``."""
    for rule in sorted(config.mitigations, key=lambda r: (r.priority, r.name)):
        if rule.name in exclude or category not in rule.categories:
            continue
        found = re.search(rule.pattern, message)
        if found is not None:
            groups = {k: v for k, v in found.groupdict().items() if v is not None}
            return MitigationMatch(rule=rule, groups=groups)
    return None
