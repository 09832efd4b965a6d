"""Deterministic gates: tests against a baseline, validation commands, deliverables."""

from autopack.gates.commands import CommandGates, SuiteRun, missing_deliverable, run_command
from autopack.gates.outcome import GateOutcome

__all__ = ["CommandGates", "GateOutcome", "SuiteRun", "missing_deliverable", "run_command"]
