"""Small builders that put runs, attempts and model calls in a store for the dashboard tests."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from autopack.store import models, records

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)  # a Monday


def add_run(
    session: Session,
    run_id: str,
    *,
    name: str | None = None,
    namespace: str = "",
    state: str = "Succeeded",
    repo: str = "https://example.com/a.git",
    created: datetime = T0,
    phases: tuple[str, ...] = ("Complete",),
) -> models.Run:
    run = records.upsert_run(
        session,
        run_id=run_id,
        name=name or run_id,
        namespace=namespace,
        repo_url=repo,
        base_ref="main",
        push_branch=f"autopack/{name or run_id}",
        spec={},
    )
    run.state = state
    run.created_at = created
    for index, phase_state in enumerate(phases):
        phase = records.upsert_phase(
            session, run_id=run_id, index=index, title=f"phase {index}", definition={}
        )
        phase.state = phase_state
    session.flush()
    return run


def add_call(
    session: Session,
    run_id: str,
    *,
    at: datetime = T0,
    provider: str = "anthropic",
    model: str = "claude-sonnet-4-5",
    role: str = "builder",
    tokens: tuple[int, int, int, int] = (1000, 0, 0, 100),
    cost: str = "0.010000",
    **fields: Any,
) -> models.LlmCall:
    """``tokens`` is (input, cache read, cache write, output)."""
    call = models.LlmCall(
        run_id=run_id,
        role=role,
        provider=provider,
        model=model,
        input_tokens=tokens[0],
        cache_read_tokens=tokens[1],
        cache_write_tokens=tokens[2],
        output_tokens=tokens[3],
        cost_usd=Decimal(cost),
        outcome="ok",
        created_at=at,
        **fields,
    )
    session.add(call)
    session.flush()
    return call


def days(n: int) -> timedelta:
    return timedelta(days=n)
