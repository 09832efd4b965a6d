"""What ``kubectl describe autopackrun`` shows beyond the state: models, spend, what to do.

A person looking at a run wants its model profile and the models that worked on it, what it
spent against its budgets, and, when it failed or waits, what to do next. These are derived
from the run's spec, its Phases and the reason the decision settled on, in the same status
the decision writes anyway (no write of their own). Pure: the decision calls it with its data.
"""

from collections.abc import Sequence

from autopack.api import (
    AutopackRun,
    AutopackRunStatus,
    Phase,
    RunModels,
    RunPhase,
    RunSpend,
    conditions,
    hints,
)

MAX_MODELS = 20
MAX_HINT = 1024  # status.hint's schema bound


def models_used(phases: Sequence[Phase]) -> list[str]:
    """The phases' Builder models in phase order, each once (at most ``MAX_MODELS``)."""
    used: list[str] = []
    for phase in sorted(phases, key=lambda p: p.spec.index):
        model = phase.status.model if phase.status else None
        if model and model not in used and len(used) < MAX_MODELS:
            used.append(model)
    return used


def spend(run: AutopackRun, status: AutopackRunStatus, phases: Sequence[Phase] = ()) -> RunSpend:
    """What ``status.usage`` says the run spent, next to ``spec.budgets``.

    With what the phases' ledgers count as unrecorded (runners that stopped mid-phase).
    """
    usage = status.usage
    tokens = (
        usage.input_tokens
        + usage.output_tokens
        + usage.cache_read_tokens
        + usage.cache_write_tokens
    )
    budgets = run.spec.budgets
    ledgers = [p.status.ledger for p in phases if p.status is not None and p.status.ledger]
    unrecorded = sum(ledger.unrecorded_tokens for ledger in ledgers)
    unrecorded_cost = round(sum(ledger.unrecorded_cost_usd for ledger in ledgers), 6)
    return RunSpend(
        cost_usd=usage.cost_usd,
        cost_limit_usd=budgets.cost_usd,
        tokens=tokens,
        token_limit=budgets.tokens,
        unrecorded_tokens=unrecorded or None,
        unrecorded_cost_usd=unrecorded_cost or None,
    )


def hint(
    run: AutopackRun, status: AutopackRunStatus, *, reason: str, waiting: Sequence[str]
) -> str | None:
    """What to do about a failed run or one waiting for approval (None: nothing to do)."""
    if status.phase == RunPhase.FAILED:
        phase = None
    elif status.phase == RunPhase.AWAITING_APPROVAL:
        phase = waiting[0] if waiting else status.current_phase
        reason = conditions.Reason.AWAITING_APPROVAL
    else:
        return None
    text = hints.hint_for(
        reason,
        run=run.name,
        namespace=run.metadata.namespace or "default",
        job=status.job_name,
        phase=phase,
    )
    return text[:MAX_HINT]


def describe(
    status: AutopackRunStatus,
    *,
    run: AutopackRun,
    phases: Sequence[Phase],
    reason: str,
    waiting: Sequence[str] = (),
) -> None:
    """Set ``status.models``, ``status.budget`` and ``status.hint`` for ``run``.

    ``reason`` is the run's condition reason; ``waiting`` names the phases that wait for an
    approval not given yet.
    """
    status.models = RunModels(profile=run.spec.models.profile, used=models_used(phases))
    status.budget = spend(run, status, phases)
    status.hint = hint(run, status, reason=reason, waiting=waiting)
