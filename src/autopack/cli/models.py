"""``autopack models``: the routing table of a profile, with prices, before any call is made."""

from typing import Annotated

import typer
from rich.table import Table

from autopack.cli.output import console, fail
from autopack.llm.pricing import load_prices
from autopack.llm.routing import LEVELS, ROLES, load_models_config


def models(
    profile: Annotated[str, typer.Option(help="Profile from config/models.yaml.")] = "default",
) -> None:
    """Print each role's model chain per complexity, and the prices per million tokens."""
    config = load_models_config()
    prices = load_prices()
    try:
        chosen = config.profile(profile)
    except KeyError as exc:
        fail(str(exc.args[0]))
    table = Table(
        "ROLE",
        *LEVELS,
        title=f"profile {profile} (escalate after "
        f"{config.escalation.after_failures} failures, complexity +1 after "
        f"{config.escalation.complexity_bump_after})",
    )
    for role in ROLES:
        chains = getattr(chosen, role)
        table.add_row(role, *(" → ".join(getattr(chains, level)) for level in LEVELS))
    console.print(table)
    console.print(f"fallback: {', '.join(chosen.fallback) or 'none'}")
    priced = Table(
        "MODEL",
        "PROVIDER",
        "INPUT $/M",
        "OUTPUT $/M",
        "CACHE READ",
        "CACHE WRITE",
        title=f"prices (pricing.yaml {prices.version})",
    )
    used = sorted(
        {
            alias
            for role in ROLES
            for level in LEVELS
            for alias in getattr(getattr(chosen, role), level)
        }
        | set(chosen.fallback)
    )
    for alias in used:
        entry = config.models[alias]
        price = prices.price(entry.name)
        priced.add_row(
            f"{alias} ({entry.name})",
            entry.provider,
            str(price.input),
            str(price.output),
            str(price.cache_read),
            str(price.cache_write),
        )
    console.print(priced)
