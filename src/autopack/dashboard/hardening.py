"""Failure-hardening statistics: recurring failures, mitigations' success, Doctor calls saved.

A mitigation counts as resolving a failure when the engine says so (``mitigation_fixed``) or,
when it did not say, when the phase's next attempt passed.
"""

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from autopack.dashboard import schemas
from autopack.store import models

Attempt = models.Attempt


def hardening_view(session: Session, *, limit: int = 50) -> schemas.HardeningView:
    """Statistics over every failed attempt in the store."""
    following = aliased(Attempt)
    mitigated = Attempt.mitigation.is_not(None)
    resolved = and_(
        mitigated,
        func.coalesce(Attempt.mitigation_fixed, following.outcome == "passed"),
    )
    failed = (
        select(
            func.coalesce(Attempt.failure_signature, "(no signature)").label("signature"),
            func.max(Attempt.failure_category).label("category"),
            func.count(Attempt.id).label("failures"),
            func.sum(case((mitigated, 1), else_=0)).label("mitigated"),
            func.sum(case((resolved, 1), else_=0)).label("resolved"),
        )
        .outerjoin(
            following,
            and_(following.phase_id == Attempt.phase_id, following.number == Attempt.number + 1),
        )
        .where(Attempt.outcome == "failed")
        .group_by("signature")
    )
    rows = session.execute(failed).all()
    signatures = sorted(
        (
            schemas.SignatureCount(
                signature=str(row.signature),
                category=row.category,
                failures=int(row.failures),
                mitigated=int(row.mitigated or 0),
                resolved=int(row.resolved or 0),
            )
            for row in rows
        ),
        key=lambda item: (-item.failures, item.signature),
    )
    failed_attempts = sum(item.failures for item in signatures)
    mitigated_count = sum(item.mitigated for item in signatures)
    resolved_count = sum(item.resolved for item in signatures)
    doctor_calls = (
        session.scalar(select(func.count(models.LlmCall.id)).where(models.LlmCall.role == "doctor"))
        or 0
    )
    avoided, tokens_avoided = _doctor_avoided(session)
    return schemas.HardeningView(
        failed_attempts=failed_attempts,
        mitigated=mitigated_count,
        resolved_by_mitigation=resolved_count,
        resolved_share=resolved_count / mitigated_count if mitigated_count else 0.0,
        doctor_calls=doctor_calls,
        doctor_calls_avoided=avoided,
        doctor_tokens_avoided=tokens_avoided,
        signatures=signatures[:limit],
    )


def _doctor_avoided(session: Session) -> tuple[int, int]:
    """Doctor calls and tokens saved, from each run's latest RunFinished event."""
    latest = (
        select(func.max(models.Event.id))
        .where(models.Event.type == "RunFinished")
        .group_by(models.Event.run_id)
    )
    calls = tokens = 0
    for data in session.scalars(select(models.Event.data).where(models.Event.id.in_(latest))):
        calls += int((data or {}).get("doctor_calls_avoided") or 0)
        tokens += int((data or {}).get("doctor_tokens_avoided") or 0)
    return calls, tokens
