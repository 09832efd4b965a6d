"""Spend over time: tokens and cost by period, provider, model and role, aggregated in SQL.

The ledger may hold millions of calls, so this reads the daily rollup ``usage_daily`` (kept
equal to ``llm_calls`` by triggers) with one GROUP BY over (period, provider, model, role) —
``date_trunc`` on PostgreSQL, ``strftime`` on SQLite — and folds the few resulting rows into
the four views the page shows. Windows therefore start on a whole UTC day.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, DateTime, String, cast, func, select
from sqlalchemy.orm import Session

from autopack.dashboard import schemas
from autopack.store import models

Daily = models.UsageDaily


def period_bucket(period: schemas.Period, dialect: str) -> ColumnElement[Any]:
    """The SQL expression naming a day's period as text (``2026-11-23``, ``2026-11``)."""
    if dialect == "postgresql":
        if period == "day":
            return func.to_char(Daily.day, "YYYY-MM-DD")
        fmt = "YYYY-MM" if period == "month" else "YYYY-MM-DD"
        return func.to_char(func.date_trunc(period, cast(Daily.day, DateTime)), fmt)
    if period == "day":
        return cast(Daily.day, String)
    if period == "month":
        return func.strftime("%Y-%m", Daily.day)
    # SQLite weeks start on Monday, like date_trunc('week'): step back to the last Monday.
    return cast(func.date(Daily.day, "-6 days", "weekday 1"), String)


@dataclass
class _Sum:
    input: int = 0
    cache_read: int = 0
    cache_write: int = 0
    output: int = 0
    cost: Decimal = Decimal(0)
    calls: int = 0
    # Input tokens as the provider counts them all (fresh + cache), for the cache share.
    all_input: int = 0

    def add(self, row: Any, *, cached_in_input: bool) -> None:
        self.input += int(row.input or 0)
        self.cache_read += int(row.cache_read or 0)
        self.cache_write += int(row.cache_write or 0)
        self.output += int(row.output or 0)
        self.cost += Decimal(row.cost or 0)
        self.calls += int(row.calls or 0)
        extra = 0 if cached_in_input else int(row.cache_read or 0) + int(row.cache_write or 0)
        self.all_input += int(row.input or 0) + extra

    def usage(self) -> schemas.Usage:
        return schemas.Usage(
            input_tokens=self.input,
            cache_read_tokens=self.cache_read,
            cache_write_tokens=self.cache_write,
            output_tokens=self.output,
            cost_usd=self.cost,
            llm_calls=self.calls,
        )

    def share(self) -> float:
        return self.cache_read / self.all_input if self.all_input else 0.0


def _rows(groups: dict[str, _Sum], *, order_by_key: bool) -> list[schemas.UsageRow]:
    items: Iterable[tuple[str, _Sum]] = (
        sorted(groups.items())
        if order_by_key
        else sorted(groups.items(), key=lambda item: (-item[1].cost, -item[1].calls, item[0]))
    )
    return [
        schemas.UsageRow(key=key, usage=total.usage(), cache_share=total.share())
        for key, total in items
    ]


def usage_report(
    session: Session,
    *,
    period: schemas.Period,
    since: datetime | None,
    cached_in_input: set[str],
) -> schemas.UsageReport:
    """Usage of every call since the UTC day of ``since`` (all calls when None).

    ``cached_in_input`` names the models whose provider counts cache reads inside
    ``input_tokens`` (OpenAI does, Anthropic does not); it makes the cache share exact.
    """
    dialect = session.get_bind().dialect.name
    bucket = period_bucket(period, dialect).label("bucket")
    query = (
        select(
            bucket,
            Daily.provider,
            Daily.model,
            Daily.role,
            func.sum(Daily.input_tokens).label("input"),
            func.sum(Daily.cache_read_tokens).label("cache_read"),
            func.sum(Daily.cache_write_tokens).label("cache_write"),
            func.sum(Daily.output_tokens).label("output"),
            func.sum(Daily.cost_usd).label("cost"),
            func.sum(Daily.llm_calls).label("calls"),
        )
        .where(Daily.llm_calls != 0)
        .group_by(bucket, Daily.provider, Daily.model, Daily.role)
    )
    if since is not None:
        query = query.where(Daily.day >= since.date())
    total = _Sum()
    views: dict[str, dict[str, _Sum]] = {
        name: defaultdict(_Sum) for name in ("period", "provider", "model", "role")
    }
    split: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for row in session.execute(query):
        split[(str(row.bucket), str(row.provider))] += Decimal(row.cost or 0)
        included = any(str(row.model).startswith(name) for name in cached_in_input)
        total.add(row, cached_in_input=included)
        for name, key in (
            ("period", row.bucket),
            ("provider", row.provider),
            ("model", row.model),
            ("role", row.role),
        ):
            views[name][str(key)].add(row, cached_in_input=included)
    return schemas.UsageReport(
        period=period,
        since=since,
        total=total.usage(),
        cache_share=total.share(),
        by_period=_rows(views["period"], order_by_key=True),
        by_provider=_rows(views["provider"], order_by_key=False),
        by_model=_rows(views["model"], order_by_key=False),
        by_role=_rows(views["role"], order_by_key=False),
        cost_by_provider=[
            schemas.ProviderCost(period=period_key, provider=provider, cost_usd=cost)
            for (period_key, provider), cost in sorted(split.items())
        ],
    )
