"""The intention anchor: the run's goal, constraints, non-goals and key deliverables in ≤ 2 KB.

Every phase is checked against this one short text and every prompt can carry it, so it must stay
small whatever the user wrote. ``build_anchor`` is a pure function of the run spec: it reads
``spec.intention`` when given (with optional ``Goal:`` / ``Constraints:`` / ``Non-goals:`` /
``Deliverables:`` sections), otherwise derives the anchor from the plan text and the phases.
"""

import re
import unicodedata
from collections.abc import Sequence
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, model_validator

from autopack import api

MAX_ANCHOR_BYTES = 2048
"""Hard size limit of the rendered anchor, in UTF-8 bytes."""

AnchorSource = Literal["intention", "plan", "phases"]

_GOAL_BYTES = 600
_ITEM_BYTES = 200
_MAX_ITEMS = {"constraints": 8, "non_goals": 6, "deliverables": 12}
_ELLIPSIS = "…"
_DROP_ORDER = ("deliverables", "non_goals", "constraints")

_SECTION_NAMES = {
    "goal": "goal",
    "goals": "goal",
    "objective": "goal",
    "objectives": "goal",
    "purpose": "goal",
    "intention": "goal",
    "constraint": "constraints",
    "constraints": "constraints",
    "requirements": "constraints",
    "rules": "constraints",
    "non-goal": "non_goals",
    "non-goals": "non_goals",
    "nongoals": "non_goals",
    "non goals": "non_goals",
    "out of scope": "non_goals",
    "not in scope": "non_goals",
    "deliverable": "deliverables",
    "deliverables": "deliverables",
    "key deliverables": "deliverables",
}
_SECTION_LINE = re.compile(
    r"^\s*(?:#{1,6}\s*)?[*_]{0,2}(?P<name>"
    + "|".join(sorted(_SECTION_NAMES, key=len)[::-1])
    # The name must end at a colon, the end of the line, or a heading; "goals of..." is prose.
    + r")[*_]{0,2}\s*(?::[*_]{0,2}\s*(?P<rest>.*)|$)",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^\s*#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?P<text>.*)$")
_INLINE_TAG = re.compile(r"\[[a-z_]+:[^\]]*\]", re.IGNORECASE)


class IntentionAnchor(BaseModel):
    """What the run is for; its rendering never exceeds :data:`MAX_ANCHOR_BYTES`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    goal: str
    constraints: tuple[str, ...] = ()
    non_goals: tuple[str, ...] = ()
    deliverables: tuple[str, ...] = ()
    source: AnchorSource
    truncated: bool = False
    """True when items were shortened or dropped to fit the size limit."""

    @model_validator(mode="after")
    def _fits(self) -> Self:
        size = len(self.render().encode("utf-8"))
        if size > MAX_ANCHOR_BYTES:
            raise ValueError(
                f"an intention anchor renders to {size} bytes, over the {MAX_ANCHOR_BYTES}-byte "
                "limit; build it with build_anchor(), which shortens it"
            )
        return self

    def render(self) -> str:
        """Return the anchor as the text stored in memory and injected into prompts."""
        lines = [f"Goal: {self.goal}"]
        for title, items in (
            ("Constraints", self.constraints),
            ("Non-goals", self.non_goals),
            ("Key deliverables", self.deliverables),
        ):
            if items:
                lines.append(f"{title}:")
                lines.extend(f"- {item}" for item in items)
        return "\n".join(lines)

    def goal_text(self) -> str:
        """Return what phases should move towards: the goal and the key deliverables."""
        return "\n".join([self.goal, *self.deliverables])


def build_anchor(
    spec: api.AutopackRunSpec, *, phases: Sequence[api.PhaseDefinition] | None = None
) -> IntentionAnchor:
    """Build the anchor of a run from ``spec.intention``, else from its plan and phases.

    ``phases`` lets the engine pass the normalized phases when the spec only has plan text.
    """
    phase_list = list(spec.phases if phases is None else phases)
    phase_deliverables = [str(item) for phase in phase_list for item in phase.deliverables]
    if spec.intention.strip():
        sections = _parse_sections(spec.intention)
        return _fit(
            goal=" ".join(sections["goal"]) or _clean(spec.intention),
            constraints=sections["constraints"],
            non_goals=sections["non_goals"],
            deliverables=sections["deliverables"] or phase_deliverables,
            source="intention",
        )
    sections = _parse_sections(spec.plan)
    plan_goal = " ".join(sections["goal"]) or _plan_preamble(spec.plan)
    if plan_goal:
        return _fit(
            goal=plan_goal,
            constraints=sections["constraints"],
            non_goals=sections["non_goals"],
            deliverables=sections["deliverables"] or phase_deliverables,
            source="plan",
        )
    phase_goals = [f"{p.title}: {p.goal}" if p.goal else p.title for p in phase_list]
    return _fit(
        goal="; ".join(phase_goals) or _clean(spec.plan) or "(no goal stated)",
        constraints=sections["constraints"],
        non_goals=sections["non_goals"],
        deliverables=phase_deliverables or [p.title for p in phase_list],
        source="phases" if phase_list else "plan",
    )


def _parse_sections(text: str) -> dict[str, list[str]]:
    """Split text into goal / constraints / non-goals / deliverables items (others ignored)."""
    sections: dict[str, list[str]] = {name: [] for name in set(_SECTION_NAMES.values())}
    current: str | None = "goal"  # prose before any section heading states the goal
    continuing = False
    for raw in text.splitlines():
        match = _SECTION_LINE.match(raw)
        if match:
            current = _SECTION_NAMES[re.sub(r"\s+", " ", match["name"].lower())]
            rest = _clean(match["rest"] or "")
            if rest:
                sections[current].append(rest)
            continuing = bool(rest)
            continue
        if _HEADING.match(raw):
            current = None  # some other part of the plan (a phase, notes): not intention
            continue
        if current is None:
            continue
        bullet = _BULLET.match(raw)
        line = _clean(bullet["text"] if bullet else raw)
        if not line:
            continuing = False
        elif bullet or not continuing or not sections[current]:
            sections[current].append(line)
            continuing = True
        else:
            sections[current][-1] = f"{sections[current][-1]} {line}"
    return sections


def _plan_preamble(plan: str) -> str:
    """Return a plan's opening: its title heading and first paragraph, if it has one."""
    title = ""
    paragraph: list[str] = []
    for raw in plan.splitlines():
        heading = _HEADING.match(raw)
        if heading:
            if paragraph or title:
                break
            title = _clean(heading["text"])
            continue
        if _BULLET.match(raw):
            break
        line = _clean(raw)
        if line:
            paragraph.append(line)
        elif paragraph:
            break
    return ". ".join(part for part in (title, " ".join(paragraph)) if part)


def _clean(text: str) -> str:
    """Drop control characters, inline plan tags and repeated whitespace."""
    text = _INLINE_TAG.sub(" ", text)
    kept = "".join(" " if unicodedata.category(char)[0] in "CZ" else char for char in text)
    return " ".join(kept.split())


def _cut(text: str, limit: int) -> tuple[str, bool]:
    """Shorten ``text`` to at most ``limit`` UTF-8 bytes, ending in an ellipsis when cut."""
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, False
    room = limit - len(_ELLIPSIS.encode("utf-8"))
    return encoded[:room].decode("utf-8", errors="ignore").rstrip() + _ELLIPSIS, True


def _fit(
    *,
    goal: str,
    constraints: Sequence[str],
    non_goals: Sequence[str],
    deliverables: Sequence[str],
    source: AnchorSource,
) -> IntentionAnchor:
    """Shorten items, cap list lengths, then drop the least important items until it fits."""
    goal, truncated = _cut(_clean(goal) or "(no goal stated)", _GOAL_BYTES)
    lists: dict[str, list[str]] = {}
    for name, items in (
        ("constraints", constraints),
        ("non_goals", non_goals),
        ("deliverables", deliverables),
    ):
        unique = list(dict.fromkeys(item for item in (_clean(i) for i in items) if item))
        truncated |= len(unique) > _MAX_ITEMS[name]
        shortened = [_cut(item, _ITEM_BYTES) for item in unique[: _MAX_ITEMS[name]]]
        truncated |= any(was_cut for _, was_cut in shortened)
        lists[name] = [item for item, _ in shortened]

    def candidate() -> IntentionAnchor:
        return IntentionAnchor.model_construct(
            goal=goal,
            constraints=tuple(lists["constraints"]),
            non_goals=tuple(lists["non_goals"]),
            deliverables=tuple(lists["deliverables"]),
            source=source,
            truncated=truncated,
        )

    # Trim the longest list first, so every kind keeps some items; on ties, deliverables go
    # first (the phases list them anyway) and constraints last.
    while len(candidate().render().encode("utf-8")) > MAX_ANCHOR_BYTES:
        longest = max(len(items) for items in lists.values())
        victim = next(name for name in _DROP_ORDER if len(lists[name]) == longest)
        lists[victim].pop()
        truncated = True
    return IntentionAnchor.model_validate(candidate().model_dump())
