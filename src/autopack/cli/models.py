"""``autopack models``: a profile's routing, quirks, fallbacks and prices, before any call.

Also the retry, timeout and circuit-breaker settings every call of a run follows.
"""

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
    if chosen.fallback:
        console.print(f"profile fallback (models without their own): {', '.join(chosen.fallback)}")
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
    used = sorted(set(used) | {f for alias in used for f in config.models[alias].fallbacks})
    quirks = Table(
        "MODEL",
        "MAX OUT",
        "OUTPUT PARAM",
        "MIN CACHE",
        "STREAM",
        "FALLBACKS (same tier, outages only)",
        title="models.yaml quirks",
    )
    for alias in used:
        entry = config.models[alias]
        quirks.add_row(
            alias,
            f"{entry.max_output_tokens:,}",
            entry.max_tokens_param,
            f"{entry.min_cache_tokens:,}",
            "yes" if entry.streaming else "no",
            ", ".join(entry.fallbacks) or "-",
        )
    console.print(quirks)
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
    retries, timeouts, breaker = config.retries, config.timeouts, config.breaker
    console.print(
        f"retries: {retries.max_attempts} tries (overload {retries.overload_attempts}, timeouts "
        f"{retries.timeout_attempts}), backoff {retries.base_delay_seconds:g}-"
        f"{retries.max_delay_seconds:g} s jittered, retry-after honoured up to "
        f"{retries.max_retry_after_seconds:g} s (longer: fail over)"
    )
    console.print(
        f"timeouts: connect {timeouts.connect_seconds:g} s, idle between chunks "
        f"{timeouts.idle_seconds:g} s, whole answer {timeouts.total_seconds:g} s; circuit "
        f"breaker opens after {breaker.failures} failures for {breaker.cooldown_seconds:g} s"
    )
