"""The Editor port over edit blocks: the run's approval policy applied to the governed apply.

The engine asks an Editor for the format to tell the Builder, to parse answers and to apply
them inside a phase's scope; this one holds what the run's ``spec.approval`` decides
(protected paths, the deletion threshold, the ``always`` policy).
"""

from pathlib import Path

from autopack.api import AutopackRun, PhaseDefinition
from autopack.edits import applying, format


class BlockEditor:
    """Edit blocks applied to the checkout at ``root`` under a run's approval settings."""

    def __init__(self, root: Path, *, run: AutopackRun) -> None:
        """Edit the checkout at ``root`` under ``run``'s approval settings."""
        self.root = root
        approval = run.spec.approval
        self.protected = (*applying.DEFAULT_PROTECTED, *approval.protected_paths)
        self.threshold = approval.deletion_threshold_lines if approval.policy == "risky" else None
        self.always = approval.policy == "always"

    def format_instructions(self) -> str:
        """The edit block format."""
        return format.FORMAT_INSTRUCTIONS

    def parse(self, text: str) -> format.ParsedEdits:
        """Parse edit blocks."""
        return format.parse_edits(text)

    def apply(
        self, edits: format.ParsedEdits, *, phase: PhaseDefinition, approved: bool
    ) -> applying.ApplyOutcome:
        """Apply inside the phase's allowed paths; approval lifts the deletion threshold."""
        return applying.apply_edits(
            self.root,
            edits,
            allowed=list(phase.scope.allowed_paths),
            protected=self.protected,
            deletion_threshold=None if approved else self.threshold,
            approve_every_change=self.always and not approved,
        )
