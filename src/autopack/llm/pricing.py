"""Cost of a call from ``config/pricing.yaml`` and the provider's raw usage, in Decimal.

Usage arrives normalized (:class:`autopack.llm.types.RawUsage`): input excludes cache reads
and writes for every provider, so each token is priced once at its own rate. Missing counts (not
reported) cost nothing and stay null in the ledger — never estimated.
"""

from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from autopack import settings
from autopack.llm.types import RawUsage

# A safe loader: libyaml's when PyYAML has it (~40x faster than the pure-Python one).
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MILLION = Decimal(1_000_000)


class Price(BaseModel):
    """Dollars per million tokens of one model."""

    model_config = ConfigDict(extra="forbid")

    input: Decimal
    output: Decimal
    cache_write: Decimal = Decimal(0)
    cache_read: Decimal = Decimal(0)

    @property
    def cached_included_in_input(self) -> bool:
        """Always False now: usage is normalized (input excludes cached tokens) before pricing."""
        return False


class PriceTable(BaseModel):
    """The versioned price table."""

    model_config = ConfigDict(extra="forbid")

    version: str
    models: dict[str, Price]

    def price(self, model: str) -> Price:
        """Return the price of ``model`` (a provider model name or an alias's name)."""
        if model in self.models:
            return self.models[model]
        best = max((name for name in self.models if model.startswith(name)), key=len, default=None)
        if best is None:
            raise KeyError(f"no price for model {model!r} in pricing.yaml version {self.version}")
        return self.models[best]

    def cost(self, model: str, usage: RawUsage) -> Decimal:
        """Exact cost of one call."""
        price = self.price(model)
        total = (
            (usage.input_tokens or 0) * price.input
            + (usage.output_tokens or 0) * price.output
            + (usage.cache_read_tokens or 0) * price.cache_read
            + (usage.cache_write_tokens or 0) * price.cache_write
        )
        return (total / MILLION).quantize(Decimal("0.000001"))

    def worst_case(self, model: str, *, input_tokens: int, output_tokens: int) -> Decimal:
        """Upper bound of a call's cost: all input uncached at the highest input rate."""
        price = self.price(model)
        rate = max(price.input, price.cache_write)
        return ((input_tokens * rate + output_tokens * price.output) / MILLION).quantize(
            Decimal("0.000001")
        )


def load_prices(path: Path | None = None) -> PriceTable:
    """Read ``pricing.yaml``."""
    text = (path or settings.config_dir() / "pricing.yaml").read_text()
    data: Any = yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - safe
    return PriceTable.model_validate(data)
