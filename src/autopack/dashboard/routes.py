"""The Models page's data: a profile's chains per role and complexity, with prices.

Read from the same ``config/models.yaml`` and ``config/pricing.yaml`` the runs route with,
so what the page shows is what a run would use.
"""

from autopack.dashboard import schemas
from autopack.llm import pricing, routing


def models_view(profile: str) -> schemas.ModelsView:
    """The routing table of ``profile``; raises KeyError naming the known profiles."""
    config = routing.load_models_config()
    prices = pricing.load_prices()
    chosen = config.profile(profile)
    routes = [
        schemas.RoleRoute(
            role=role,
            low=list(getattr(chosen, role).low),
            medium=list(getattr(chosen, role).medium),
            high=list(getattr(chosen, role).high),
        )
        for role in routing.ROLES
    ]
    used = sorted(
        {alias for route in routes for alias in (*route.low, *route.medium, *route.high)}
        | set(chosen.fallback)
    )
    priced = []
    for alias in used:
        entry = config.models[alias]
        try:
            price: pricing.Price | None = prices.price(entry.name)
        except KeyError:
            price = None
        priced.append(
            schemas.PricedModel(
                alias=alias,
                name=entry.name,
                provider=entry.provider,
                input=price.input if price else None,
                output=price.output if price else None,
                cache_read=price.cache_read if price else None,
                cache_write=price.cache_write if price else None,
            )
        )
    return schemas.ModelsView(
        profile=profile,
        profiles=sorted(config.profiles),
        escalate_after_failures=config.escalation.after_failures,
        complexity_bump_after=config.escalation.complexity_bump_after,
        routes=routes,
        fallback=list(chosen.fallback),
        models=priced,
        pricing_version=str(prices.version),
    )


def models_with_cache_in_input() -> set[str]:
    """Model names whose provider counts cache reads inside ``input_tokens``."""
    prices = pricing.load_prices()
    return {name for name, price in prices.models.items() if price.cached_included_in_input}
