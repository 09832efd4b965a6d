"""The Doctor's and the replanner's prompts, and the strict reading of the Doctor's decision.

The Doctor sees a failure no deterministic mitigation fixed and chooses exactly one of
``retry_with_hint``, ``replan``, ``skip_phase``, ``mark_fatal`` or ``rollback_run``, with a
confidence. An unreadable answer is never acted on as anything stronger than a plain retry.
"""

import json
import re
from dataclasses import dataclass
from typing import Literal, cast

from autopack.api import PhaseDefinition
from autopack.llm.types import Prompt, PromptBlock

Decision = Literal["retry_with_hint", "replan", "skip_phase", "mark_fatal", "rollback_run"]
DECISIONS: tuple[Decision, ...] = (
    "retry_with_hint",
    "replan",
    "skip_phase",
    "mark_fatal",
    "rollback_run",
)

DOCTOR_SYSTEM = """\
You are the Doctor of an autonomous coding system. A phase's attempt failed and no known
deterministic fix applied. Decide what happens next, choosing exactly one decision:
retry_with_hint (give the Builder a concrete hint), replan (the approach is wrong),
skip_phase (the phase cannot be done and later phases do not need it), mark_fatal (the run
cannot succeed), rollback_run (the run made things worse; undo it).
Answer with JSON only: {"decision": "...", "confidence": 0.0-1.0, "hint": "...", "reason": "..."}
"""

REPLAN_SYSTEM = """\
You are the Planner of an autonomous coding system. The current approach to a phase keeps
failing the same way. Propose a different approach to reach the same goal, with the same
deliverables and allowed paths. Answer with the revised goal text only.
"""


@dataclass(frozen=True)
class Diagnosis:
    """The Doctor's decision."""

    decision: Decision
    confidence: float
    hint: str
    reason: str
    readable: bool = True


def doctor_prompt(
    *, phase: PhaseDefinition, category: str, signature: str, detail: str, attempts: int
) -> str:
    """The Doctor's request."""
    return (
        f"Phase: {phase.title}\nGoal: {phase.goal}\nAllowed paths: "
        f"{', '.join(phase.scope.allowed_paths)}\nAttempts so far: {attempts}\n"
        f"Failure ({category}): {signature}\n\nDetails:\n{detail[-4000:]}\n"
    )


def doctor_layout(
    *, phase: PhaseDefinition, category: str, signature: str, detail: str, attempts: int
) -> Prompt:
    """The Doctor's request as a structured prompt (its instructions are the cached prefix)."""
    user = doctor_prompt(
        phase=phase, category=category, signature=signature, detail=detail, attempts=attempts
    )
    return Prompt(system=(PromptBlock(DOCTOR_SYSTEM, cache=True),), messages=()).then(
        [("user", user)]
    )


def replan_prompt(*, phase: PhaseDefinition, signatures: list[str]) -> str:
    """The replanner's request: the goal and the repeated failure."""
    repeated = "\n".join(f"- {s}" for s in signatures)
    return (
        f"Goal: {phase.goal}\nDeliverables: {', '.join(phase.deliverables)}\n"
        f"Repeated failures:\n{repeated}\n"
    )


def parse_diagnosis(text: str) -> Diagnosis:
    """Read the Doctor's JSON; anything unreadable becomes a plain retry marked unreadable."""
    found = re.search(r"\{.*\}", text, re.DOTALL)
    try:
        data = json.loads(found.group(0)) if found else None
    except json.JSONDecodeError:
        data = None
    if not isinstance(data, dict) or data.get("decision") not in DECISIONS:
        return Diagnosis("retry_with_hint", 0.0, "", "the Doctor's answer was unreadable", False)
    try:
        confidence = min(max(float(data.get("confidence", 0.0)), 0.0), 1.0)
    except (TypeError, ValueError):
        confidence = 0.0
    return Diagnosis(
        decision=cast(Decision, data["decision"]),
        confidence=confidence,
        hint=str(data.get("hint", ""))[:2000],
        reason=str(data.get("reason", ""))[:2000],
    )
