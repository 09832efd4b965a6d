"""After a failure no mitigation fixed: spot a flawed approach (replan once) or ask the Doctor.

Consecutive failures of the same kind whose normalized signatures are at least as similar as
``approach_flaw.similarity_threshold`` mean the approach is wrong: the phase's goal is
revised once by the planner role (same deliverables and scope). Otherwise the Doctor decides,
cheap model first and the strong one when it is unsure or the failure is high risk, within
per-phase and per-run call budgets from ``config/hardening.yaml``.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from autopack.agents import doctoring as doctor_agent
from autopack.api import PhaseDefinition
from autopack.api.conditions import Reason
from autopack.engine.ports import AttemptFailed, Models, RunStopped
from autopack.hardening.registry import HardeningConfig, load_hardening_config
from autopack.hardening.signatures import FailureSignature, similarity
from autopack.llm.types import Prompt

log = logging.getLogger(__name__)


@dataclass
class Doctor:
    """Replanning and Doctor calls for one run."""

    models: Models
    config: HardeningConfig = field(default_factory=load_hardening_config)
    calls_in_run: int = 0
    avoided: int = 0
    calls_by_phase: dict[int, int] = field(default_factory=dict)
    notes: Callable[[], list[str]] = list

    def approach_flawed(self, history: list[FailureSignature]) -> bool:
        """Whether the last failures repeat each other closely enough to mean a wrong approach."""
        needed = self.config.approach_flaw.consecutive_failures
        if len(history) < needed:
            return False
        recent = history[-needed:]
        threshold = self.config.approach_flaw.similarity_threshold
        return all(similarity(recent[0], other) >= threshold for other in recent[1:])

    def replan(
        self, *, phase: PhaseDefinition, index: int, attempt: int, history: list[FailureSignature]
    ) -> PhaseDefinition:
        """Ask the planner role for a revised goal; deliverables and scope stay the same."""
        reply = self._advisory(
            lambda: self.models.ask(
                role="planner",
                phase=phase,
                phase_index=index,
                attempt=attempt,
                failures=0,
                prompt=Prompt.plain(
                    doctor_agent.REPLAN_SYSTEM,
                    [
                        (
                            "user",
                            doctor_agent.replan_prompt(
                                phase=phase, signatures=[str(s) for s in history]
                            ),
                        )
                    ],
                ),
                max_tokens=1024,
            )
        )
        if reply is None:
            return phase
        goal = reply.strip()[:8000] or phase.goal
        return phase.model_copy(update={"goal": goal})

    def diagnose(
        self,
        *,
        phase: PhaseDefinition,
        index: int,
        attempt: int,
        category: str,
        signature: str,
        detail: str,
    ) -> doctor_agent.Diagnosis | None:
        """Ask the Doctor (cheap, then strong if needed); None when over budget or unavailable."""
        budget = self.config.doctor
        if (
            self.calls_in_run >= budget.max_calls_per_run
            or self.calls_by_phase.get(index, 0) >= budget.max_calls_per_phase
        ):
            return None
        prompt = doctor_agent.doctor_prompt(
            phase=phase, category=category, signature=signature, detail=detail, attempts=attempt
        )
        notes = self.notes()
        if notes:
            prompt += "\nNotes from the people running this project (follow them):\n"
            prompt += "\n".join(f"- {note}" for note in notes)
        diagnosis = self._ask(
            phase.model_copy(update={"complexity": "low"}), index, attempt, prompt
        )
        if diagnosis is None:
            return None  # no provider answered: asking the strong model would not help
        unsure = diagnosis.confidence < budget.min_confidence
        risky = category in budget.high_risk_categories
        if (
            (unsure or risky)
            and self.calls_by_phase.get(index, 0) < budget.max_calls_per_phase
            and self.calls_in_run < budget.max_calls_per_run
        ):
            strong = self._ask(
                phase.model_copy(update={"complexity": "high"}), index, attempt, prompt
            )
            return strong or diagnosis
        return diagnosis

    def _ask(
        self, phase: PhaseDefinition, index: int, attempt: int, prompt: str
    ) -> doctor_agent.Diagnosis | None:
        self.calls_in_run += 1
        self.calls_by_phase[index] = self.calls_by_phase.get(index, 0) + 1
        reply = self._advisory(
            lambda: self.models.ask(
                role="doctor",
                phase=phase,
                phase_index=index,
                attempt=attempt,
                failures=0,
                prompt=Prompt.plain(doctor_agent.DOCTOR_SYSTEM, [("user", prompt)]),
                max_tokens=1024,
            )
        )
        return None if reply is None else doctor_agent.parse_diagnosis(reply)

    @staticmethod
    def _advisory(call: Callable[[], str]) -> str | None:
        """Make an advisory call: a provider that fails means no advice; budgets still stop."""
        try:
            return call()
        except AttemptFailed as failed:
            log.warning("advisory model call unavailable: %s", failed.failure.summary)
            return None
        except RunStopped as stopped:
            if stopped.stop.reason != Reason.PROVIDER_ERROR:
                raise
            log.warning("advisory model call failed: %s", stopped.stop.message)
            return None
