"""The Planner's prompt and strict reading of its answer: free-text plans become phases.

Only plans that say too little for the deterministic parser reach the Planner. Its answer must
be JSON matching :class:`PlannerOutput`; an answer that does not validate gets exactly one
re-ask quoting the validation errors, and a second failure makes the plan unusable.
"""

import json
import re
from collections.abc import Callable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from autopack.llm.types import Message, Prompt, PromptBlock

SYSTEM_PROMPT = """\
You are the Planner of an autonomous coding system. Turn the user's notes into a short list
of phases that can each be built, tested and reviewed on their own, in a sensible order.
Ground every phase in the repository: name deliverables (files that must exist afterwards)
and the paths the phase may change, using the repository's real layout.

Answer with JSON only, in exactly this shape:
{"phases": [{"title": "...", "goal": "...", "deliverables": ["path", ...],
  "allowedPaths": ["dir/", "file", ...], "acceptanceCriteria": ["...", ...],
  "complexity": "low|medium|high", "category": "feature|fix|tests|docs|refactor"}]}
"""


class PlannedPhase(BaseModel):
    """One phase as the Planner must describe it."""

    model_config = ConfigDict(extra="forbid")

    title: Annotated[str, Field(min_length=3, max_length=200)]
    goal: Annotated[str, Field(min_length=3, max_length=4000)]
    deliverables: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    allowedPaths: Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    acceptanceCriteria: list[str] = Field(default_factory=list)
    complexity: Literal["low", "medium", "high"] = "medium"
    category: Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]*$")] = "feature"


class PlannerOutput(BaseModel):
    """The Planner's whole answer."""

    model_config = ConfigDict(extra="forbid")

    phases: Annotated[list[PlannedPhase], Field(min_length=1, max_length=20)]


class PlannerError(ValueError):
    """The Planner's answers did not validate, even after the re-ask."""


def build_planner_prompt(*, plan_text: str, repository_files: list[str]) -> str:
    """Return the Planner's request: the notes and a listing of the repository."""
    listing = "\n".join(repository_files[:400])
    return f"Notes:\n{plan_text}\n\nRepository files:\n{listing}\n"


def build_planner_layout(*, plan_text: str, repository_files: list[str]) -> Prompt:
    """The Planner's request as a structured prompt: a re-ask reuses the cached listing."""
    listing = "\n".join(repository_files[:400])
    return Prompt(
        system=(PromptBlock(SYSTEM_PROMPT, cache=True),),
        messages=(
            Message(
                role="user",
                blocks=(
                    PromptBlock(f"Repository files:\n{listing}\n\n", cache=True),
                    PromptBlock(f"Notes:\n{plan_text}\n"),
                ),
            ),
        ),
    )


def _json_part(text: str) -> str:
    fenced = re.search(r"```(?:json)?\s*(\{.*\})\s*```", text, re.DOTALL)
    if fenced:
        return fenced.group(1)
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start != -1 and end > start else text


def parse_planner_output(text: str) -> PlannerOutput:
    """Validate the Planner's answer; raise ValueError with readable errors."""
    try:
        data: Any = json.loads(_json_part(text))
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer is not JSON: {exc.msg} at character {exc.pos}") from None
    try:
        return PlannerOutput.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
        )
        raise ValueError(problems) from None


def to_phase_drafts(output: PlannerOutput) -> list[dict[str, Any]]:
    """Return the phases as API-shaped mappings for plan normalization."""
    return [
        {
            "title": phase.title,
            "goal": phase.goal,
            "deliverables": phase.deliverables,
            "scope": {"allowedPaths": phase.allowedPaths},
            "acceptanceCriteria": phase.acceptanceCriteria,
            "complexity": phase.complexity,
            "category": phase.category,
        }
        for phase in output.phases
    ]


Ask = Callable[[list[tuple[str, str]]], str]


def plan_with_model(
    ask: Ask, *, plan_text: str, repository_files: list[str]
) -> tuple[list[dict[str, Any]], int]:
    """Ask the Planner (one re-ask on invalid output); return (phase drafts, calls made)."""
    messages = [
        ("user", build_planner_prompt(plan_text=plan_text, repository_files=repository_files))
    ]
    answer = ask(messages)
    try:
        return to_phase_drafts(parse_planner_output(answer)), 1
    except ValueError as first:
        messages += [
            ("assistant", answer),
            ("user", f"Your answer did not validate: {first}. Answer again with JSON only."),
        ]
    answer = ask(messages)
    try:
        return to_phase_drafts(parse_planner_output(answer)), 2
    except ValueError as second:
        raise PlannerError(f"the Planner's answer did not validate twice: {second}") from None
