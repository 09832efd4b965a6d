"""The Auditor's prompt and the reading of its verdict.

The Auditor reviews a phase's diff against the goal and acceptance criteria after the tests
passed. Its answer starts with a verdict line the parser can trust (``VERDICT: approved`` or
``VERDICT: changes_requested``) followed by reasons; anything else is a parse error the caller
re-asks once, and an unreadable verdict never counts as approval.
"""

import re
from dataclasses import dataclass
from typing import Literal

from autopack.api import PhaseDefinition
from autopack.llm.types import Message, Prompt, PromptBlock

Verdict = Literal["approved", "changes_requested"]

MAX_DIFF_CHARS = 60_000

SYSTEM_PROMPT = """\
You are the Auditor of an autonomous coding system. You review one change against the goal
and acceptance criteria of one phase of a plan. The project's tests already pass.

Approve when the change achieves the goal, meets every acceptance criterion, stays small and
focused, and adds or updates tests for new behaviour. Request changes otherwise, naming each
problem concretely (file, function, what is wrong, what to do).

Answer in exactly this shape:
VERDICT: approved
or
VERDICT: changes_requested
followed by a short list of reasons, one per line starting with "- ".
"""

_VERDICT = re.compile(
    r"^\s*\**\s*verdict\s*\**\s*:\s*\**\s*"
    r"(approved|approve|changes[_ ]requested|request[_ ]changes)\b",
    re.IGNORECASE | re.MULTILINE,
)


@dataclass(frozen=True)
class AuditResult:
    """The Auditor's decision and its reasons."""

    verdict: Verdict
    reasons: tuple[str, ...]

    @property
    def approved(self) -> bool:
        """Whether the change may be kept."""
        return self.verdict == "approved"

    @property
    def summary(self) -> str:
        """Reasons joined for status and the next attempt's prompt (bounded)."""
        return "; ".join(self.reasons)[:4000]


class AuditParseError(ValueError):
    """The Auditor's answer has no readable verdict line."""


def build_audit_prompt(
    *,
    phase: PhaseDefinition,
    diff: str,
    test_summary: str,
    intention: str = "",
) -> tuple[str, str]:
    """Return (system, user) messages asking the Auditor to review ``diff``."""
    criteria = "\n".join(f"- {item}" for item in phase.acceptance_criteria) or "- (none given)"
    shown = diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n[diff truncated]"
    memory = f"Project intention:\n{intention}\n\n" if intention else ""
    user = (
        f"{memory}Phase: {phase.title}\nGoal: {phase.goal}\n"
        f"Deliverables: {', '.join(phase.deliverables)}\n"
        f"Acceptance criteria:\n{criteria}\n\n"
        f"Tests: {test_summary}\n\n"
        f"Diff:\n```diff\n{shown}\n```\n"
    )
    return SYSTEM_PROMPT, user


def build_audit_layout(
    *,
    phase: PhaseDefinition,
    diff: str,
    test_summary: str,
    intention: str = "",
) -> Prompt:
    """The Auditor's request laid out for caching: instructions and phase, then tests and diff."""
    criteria = "\n".join(f"- {item}" for item in phase.acceptance_criteria) or "- (none given)"
    shown = diff if len(diff) <= MAX_DIFF_CHARS else diff[:MAX_DIFF_CHARS] + "\n[diff truncated]"
    memory = f"Project intention:\n{intention}\n\n" if intention else ""
    stable = (
        f"{memory}Phase: {phase.title}\nGoal: {phase.goal}\n"
        f"Deliverables: {', '.join(phase.deliverables)}\n"
        f"Acceptance criteria:\n{criteria}\n\n"
    )
    changing = f"Tests: {test_summary}\n\nDiff:\n```diff\n{shown}\n```\n"
    return Prompt(
        system=(PromptBlock(SYSTEM_PROMPT, cache=True),),
        messages=(
            Message(role="user", blocks=(PromptBlock(stable, cache=True), PromptBlock(changing))),
        ),
    )


def parse_audit(text: str) -> AuditResult:
    """Read the verdict and reasons from the Auditor's answer."""
    match = _VERDICT.search(text)
    if match is None:
        raise AuditParseError(
            "the answer has no verdict line; start with 'VERDICT: approved' or "
            "'VERDICT: changes_requested'"
        )
    word = match.group(1).lower().replace(" ", "_")
    verdict: Verdict = "approved" if word in ("approved", "approve") else "changes_requested"
    rest = text[match.end() :]
    reasons = tuple(
        line.strip()[2:].strip()
        for line in rest.splitlines()
        if line.strip().startswith(("- ", "* "))
    )
    if verdict == "changes_requested" and not reasons:
        remainder = " ".join(rest.split())
        reasons = (remainder[:1000] or "the Auditor gave no reason",)
    return AuditResult(verdict=verdict, reasons=reasons)
