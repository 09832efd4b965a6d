"""The Builder's prompts: what to build, where it may write, what went wrong last time.

:func:`build_prompt` lays the request out for provider caches: the role and edit format (the
same for the whole run), then the repository context (the same between attempts of a phase),
then the phase, each ending with a cache breakpoint; only the last failure and the files it
touched come after the last breakpoint. The second attempt of a phase thus reads nearly all its
input from cache (Anthropic ``cache_control``; OpenAI's prefix cache gains from the same
order). The string functions remain for callers that send plain text.
"""

from autopack.api import PhaseDefinition
from autopack.llm.types import Message, Prompt, PromptBlock

ROLE = """\
You are the Builder of an autonomous coding system. You change a git repository to complete
one phase of a plan. Change only files inside the allowed paths. Keep the change small and
focused, follow the code's existing style, and add or update tests for new behaviour. The
project's test suite and the phase's validation commands run after your change; an Auditor
reviews it against the goal and the acceptance criteria.
"""


def build_system_prompt(*, edit_format: str) -> str:
    """Return the Builder's system prompt: its role and the edit format."""
    return f"{ROLE}\n{edit_format}"


def describe_phase(phase: PhaseDefinition, *, intention: str = "") -> str:
    """Return the phase as the Builder reads it."""
    lines = [f"# Phase: {phase.title}", "", f"Goal: {phase.goal}"]
    if intention:
        lines += ["", f"Project intention: {intention}"]
    if phase.deliverables:
        lines += ["", "Deliverables (must exist afterwards; 'path::name' needs that symbol):"]
        lines += [f"- {item}" for item in phase.deliverables]
    if phase.acceptance_criteria:
        lines += ["", "Acceptance criteria:"]
        lines += [f"- {item}" for item in phase.acceptance_criteria]
    lines += ["", "Allowed paths (you may create, edit or delete only these):"]
    lines += [f"- {item}" for item in phase.scope.allowed_paths] or ["- (none)"]
    if phase.validation:
        lines += ["", "Validation commands that must pass:"]
        lines += [f"- `{item}`" for item in phase.validation]
    return "\n".join(lines)


def build_user_prompt(
    *, phase: PhaseDefinition, context: str, feedback: list[str], intention: str = ""
) -> str:
    """Return the Builder's request: phase, repository context, then last attempt's feedback."""
    parts = [describe_phase(phase, intention=intention), "", "# Repository", context]
    if feedback:
        parts += ["", "# What went wrong in the previous attempt (fix all of it)"]
        parts += [f"- {item}" for item in feedback]
    parts += ["", "Reply with edit blocks only."]
    return "\n".join(parts)


def build_prompt(
    *,
    edit_format: str,
    phase: PhaseDefinition,
    context: str,
    feedback: list[str],
    intention: str = "",
    extra_context: str = "",
) -> Prompt:
    """The Builder's request laid out for caching.

    ``context`` must not depend on the attempt (render it without the failure feedback) or the
    cached prefix changes each attempt; files chosen because of the last failure go in
    ``extra_context``, after the last breakpoint.
    """
    tail: list[str] = []
    if extra_context:
        tail += ["# Files related to the previous attempt's failure", extra_context, ""]
    if feedback:
        tail += ["# What went wrong in the previous attempt (fix all of it)"]
        tail += [f"- {item}" for item in feedback]
        tail += [""]
    tail += ["Reply with edit blocks only."]
    return Prompt(
        system=(PromptBlock(build_system_prompt(edit_format=edit_format), cache=True),),
        messages=(
            Message(
                role="user",
                blocks=(
                    PromptBlock(f"# Repository\n{context}\n\n", cache=True),
                    PromptBlock(f"{describe_phase(phase, intention=intention)}\n\n", cache=True),
                    PromptBlock("\n".join(tail)),
                ),
            ),
        ),
    )


def continuation_prompt(path: str) -> str:
    """Ask for the rest of a truncated answer, starting at the first unfinished file."""
    return (
        f"Your answer was cut off inside the block for {path}. Continue from that block: "
        f"repeat the block for {path} completely, then any blocks that followed. Do not repeat "
        "blocks that were already complete."
    )


def reask_prompt(error: str) -> str:
    """Ask once more after unparseable output, quoting the parse error."""
    return (
        f"Your answer could not be applied: {error}\n"
        "Reply again with the complete edit blocks in exactly the required format."
    )
