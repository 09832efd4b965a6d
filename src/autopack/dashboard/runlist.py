"""The runs list: one page of runs with filters, counted and paged in SQL.

A store may hold tens of thousands of runs; only the shown page's rows and its phases'
progress are read, so the page stays fast however long the history grows.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from autopack.dashboard import schemas
from autopack.store import models


@dataclass(frozen=True)
class RunFilter:
    """What the user narrowed the list to (empty means everything)."""

    state: str = ""
    namespace: str = ""
    repository: str = ""

    def apply(self, query: Select[models.Run]) -> Select[models.Run]:
        """Add the filter's conditions to ``query``."""
        if self.state:
            query = query.where(models.Run.state == self.state)
        if self.namespace:
            query = query.where(models.Run.namespace == self.namespace)
        if self.repository:
            query = query.where(models.Run.repo_url == self.repository)
        return query


def usage_of(row: models.Run | models.PhaseRecord) -> schemas.Usage:
    """The stored usage totals of a run or phase."""
    return schemas.Usage(
        input_tokens=row.input_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        output_tokens=row.output_tokens,
        cost_usd=row.cost_usd,
        llm_calls=row.llm_calls,
    )


def summarize(run: models.Run, *, complete: int, total: int) -> schemas.RunSummary:
    """A run's list row, given its phase counts."""
    return schemas.RunSummary(
        id=run.id,
        name=run.name,
        namespace=run.namespace,
        source=run.source,
        state=run.state,
        message=run.message,
        repo_url=run.repo_url,
        progress=f"{complete}/{total}",
        phases_complete=complete,
        phases_total=total,
        usage=usage_of(run),
        created_at=run.created_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
    )


def phase_counts(session: Session, run_ids: Sequence[str]) -> dict[str, tuple[int, int]]:
    """(complete, total) phases of each run in ``run_ids``."""
    if not run_ids:
        return {}
    rows = session.execute(
        select(
            models.PhaseRecord.run_id,
            func.sum(case((models.PhaseRecord.state == "Complete", 1), else_=0)),
            func.count(models.PhaseRecord.id),
        )
        .where(models.PhaseRecord.run_id.in_(run_ids))
        .group_by(models.PhaseRecord.run_id)
    ).all()
    return {run_id: (int(complete or 0), int(total)) for run_id, complete, total in rows}


def _distinct(session: Session, column: InstrumentedAttribute[str]) -> list[str]:
    values = session.scalars(select(column).distinct().order_by(column)).all()
    return [str(value) for value in values if value]


def list_runs(
    session: Session, *, run_filter: RunFilter, limit: int, offset: int
) -> schemas.RunPage:
    """One page of runs matching ``run_filter``, newest first, with the filters' choices."""
    query = run_filter.apply(select(models.Run))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    runs = session.scalars(
        query.order_by(models.Run.created_at.desc(), models.Run.id).limit(limit).offset(offset)
    ).all()
    counts = phase_counts(session, [run.id for run in runs])
    return schemas.RunPage(
        items=[
            summarize(
                run, complete=counts.get(run.id, (0, 0))[0], total=counts.get(run.id, (0, 0))[1]
            )
            for run in runs
        ],
        total=total,
        limit=limit,
        offset=offset,
        states=_distinct(session, models.Run.state),
        namespaces=_distinct(session, models.Run.namespace),
        repositories=_distinct(session, models.Run.repo_url),
    )


def run_summary(session: Session, run: models.Run) -> schemas.RunSummary:
    """A single run's list row."""
    complete, total = phase_counts(session, [run.id]).get(run.id, (0, 0))
    return summarize(run, complete=complete, total=total)
