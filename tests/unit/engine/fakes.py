"""Small stand-ins for the engine's ports, recording what the loop asked of them."""

import json
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from autopack.api import PhaseDefinition
from autopack.hardening.mitigator import Mitigation


@dataclass
class FakeWorkspace:
    root: Path = Path("/nonexistent")
    commits: list[str] = field(default_factory=list)
    rollbacks: list[str] = field(default_factory=list)
    rolled_back_run: bool = False
    kept: list[list[str]] = field(default_factory=list)

    def head(self) -> str:
        return f"c{len(self.commits)}"

    def rollback(self, to: str) -> None:
        self.rollbacks.append(to)

    def diff(self, since: str) -> str:
        return ""

    def commit(self, message: str) -> str:
        self.commits.append(message)
        return self.head()

    def push(self) -> None:
        pass

    def changed_files(self) -> list[str]:
        return []

    def snapshot(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        return dict.fromkeys(paths)

    def discard_side_effects(self, accepted: Mapping[str, bytes | None]) -> list[str]:
        self.kept.append(sorted(accepted))
        return []

    def completed_phases(self) -> dict[int, str]:
        return {}

    def pending_approval(self) -> int | None:
        return None

    def set_aside_pending(self) -> str:
        return self.head()

    def restore_pending(self, commit: str) -> None:
        pass

    def rollback_run(self) -> str | None:
        self.rolled_back_run = True
        return "autopack/demo-rolled-back"


@dataclass
class FakeModels:
    """Answers by role from queues; a callable answer is called (it may raise)."""

    answers: dict[str, deque[str | Callable[[], str]]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def say(self, role: str, *answers: str | Callable[[], str]) -> "FakeModels":
        self.answers.setdefault(role, deque()).extend(answers)
        return self

    def ask(self, *, role: str, **_: object) -> str:
        self.asked.append(role)
        answer = self.answers[role].popleft()
        return answer() if callable(answer) else answer

    def model_for(self, *, role: str, phase: PhaseDefinition, failures: int) -> str:
        return "model-a" if failures < 2 else "model-b"


def doctor_says(decision: str, *, confidence: float = 0.9, hint: str = "", reason: str = "") -> str:
    return json.dumps(
        {"decision": decision, "confidence": confidence, "hint": hint, "reason": reason}
    )


@dataclass
class FakeMitigations:
    result: Mitigation | None = None
    phases: int = 0

    def new_phase(self) -> None:
        self.phases += 1

    def mitigate(self, *, category: str, message: str, phase: PhaseDefinition) -> Mitigation | None:
        return self.result
