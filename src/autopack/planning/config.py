"""The planning defaults from ``config/planning.yaml``, parsed into one typed object."""

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, Field

from autopack import settings

# A safe loader: libyaml's when PyYAML has it (~40x faster than the pure-Python one).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class BudgetDefaults(_Strict):
    """Budget a phase of one complexity gets when the plan sets none."""

    tokens: Annotated[int, Field(ge=1_000)]
    cost_usd: Annotated[float, Field(gt=0, alias="costUSD")]


class ScanSettings(_Strict):
    """Bounds of the repository scan."""

    max_files: Annotated[int, Field(ge=1)] = 200_000
    time_limit_seconds: Annotated[float, Field(gt=0)] = 5.0


class ScopeSettings(_Strict):
    """Scope inference thresholds."""

    min_confidence: Annotated[float, Field(ge=0, le=1)] = 0.45
    max_keyword_paths: Annotated[int, Field(ge=0)] = 8
    stopwords: list[str] = Field(default_factory=list)


class MarkdownSettings(_Strict):
    """Which inline tags markdown plans may use."""

    known_tags: list[str]
    tag_aliases: dict[str, str] = Field(default_factory=dict)


class PlanningConfig(_Strict):
    """Everything plan normalization reads from configuration."""

    budgets: dict[str, BudgetDefaults]
    scan: ScanSettings = Field(default_factory=ScanSettings)
    scope: ScopeSettings = Field(default_factory=ScopeSettings)
    markdown: MarkdownSettings


def load_planning_config(path: Path | None = None) -> PlanningConfig:
    """Read ``planning.yaml`` from the built-in configuration directory (or ``path``)."""
    source = path or settings.config_dir() / "planning.yaml"
    data = yaml.load(source.read_text(encoding="utf-8"), Loader=_YAML_LOADER)  # noqa: S506 - safe
    return PlanningConfig.model_validate(data)
