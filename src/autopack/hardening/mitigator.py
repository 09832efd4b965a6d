"""Deterministic mitigations between attempts: known failures fixed before any model is asked.

After a failed attempt is rolled back, its failure is matched against the registry in
``config/hardening.yaml``; a matching rule's action runs in the workspace (install a missing
dependency, point the tests at the right directory, feed the scope back, ...). What was tried
is recorded on the attempt; whether it fixed the failure shows in the next attempt's outcome.

A mitigation's file changes count only when it succeeded: the dependency files it may touch
are saved first and put back when the action did not apply. Its commands (installs) run in the
gates' sandbox, and every install is listed on the returned :class:`Mitigation`.
"""

from dataclasses import dataclass, field
from pathlib import Path

from autopack.api import PhaseDefinition
from autopack.hardening import actions
from autopack.hardening.registry import HardeningConfig, find_mitigation, load_hardening_config
from autopack.toolchains import SuiteCommand


@dataclass
class Mitigation:
    """What a mitigation did."""

    rule: str
    description: str
    feedback: list[str]
    changed_files: list[str] = field(default_factory=list)
    applied: bool = True
    installs: list[str] = field(default_factory=list)
    """Every install tried: command, why it was allowed (declared / allowed by name), result."""


# Files an action may change; saved before it runs and restored when it does not apply.
_WATCHED = (
    "requirements.txt",
    "pyproject.toml",
    "setup.cfg",
    "Pipfile",
    "poetry.lock",
    "uv.lock",
    "pdm.lock",
    *actions.NODE_FILES,
)


def _save(root: Path) -> dict[str, bytes | None]:
    return {name: _save_one(root / name) for name in _WATCHED}


def _save_one(path: Path) -> bytes | None:
    return path.read_bytes() if path.is_file() and not path.is_symlink() else None


def _changed(root: Path, saved: dict[str, bytes | None]) -> list[str]:
    return [name for name, data in saved.items() if _save_one(root / name) != data]


@dataclass
class Mitigator:
    """Runs registry mitigations in one workspace."""

    root: Path
    gates: object  # a CommandGates whose ``suite`` a mitigation may point elsewhere
    config: HardeningConfig = field(default_factory=load_hardening_config)
    tried: set[str] = field(default_factory=set)
    applied: int = 0

    def mitigate(self, *, category: str, message: str, phase: PhaseDefinition) -> Mitigation | None:
        """Try the first matching rule not yet tried in this phase; None when none helps."""
        match = find_mitigation(
            self.config, category=category, message=message, exclude=frozenset(self.tried)
        )
        if match is None:
            return None
        self.tried.add(match.rule.name)
        suite: SuiteCommand | None = getattr(self.gates, "suite", None)
        context = actions.MitigationContext(
            root=self.root,
            run=actions.run_command(self.root, getattr(self.gates, "sandbox", None)),
            allowed_paths=list(phase.scope.allowed_paths),
            test_command=suite.command if suite else "",
            python_distributions=self.config.python_distributions,
            allowed_installs={str(k): v for k, v in self.config.allowed_installs.items()},
        )
        saved = _save(self.root)
        result = actions.ACTIONS[match.rule.action](match.groups, context)
        if not result.applied:
            for name in _changed(self.root, saved):  # a failed mitigation leaves no trace
                data = saved[name]
                if data is None:
                    (self.root / name).unlink(missing_ok=True)
                else:
                    (self.root / name).write_bytes(data)
            return Mitigation(
                match.rule.name,
                f"{match.rule.action}: {result.description}",
                result.feedback,
                applied=False,
                installs=result.installs,
            )
        if result.test_command and suite is not None:
            self.gates.suite = SuiteCommand(  # type: ignore[attr-defined]
                result.test_command, working_dir="", report=suite.report
            )
        self.applied += 1
        changed = list(dict.fromkeys([*result.changed_files, *_changed(self.root, saved)]))
        return Mitigation(
            match.rule.name,
            f"{match.rule.name}: {result.description}",
            result.feedback,
            changed,
            installs=result.installs,
        )

    def new_phase(self) -> None:
        """Forget which rules were tried (each phase may try each rule once)."""
        self.tried.clear()
