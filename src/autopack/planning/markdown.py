"""Read plans written as markdown: headings or bullets for phases, inline tags, criteria.

Users write plans like::

    ## Add JWT auth [complexity:high] [paths:src/auth/,tests/]
    Issue signed tokens on login.
    - tokens expire after one hour
    - a bad signature gives 401

or as a bullet list whose indented bullets are the acceptance criteria. Parsing uses
markdown-it (CommonMark), not regular expressions over lines, so code spans, nesting and
numbered lists behave as the user sees them rendered. Pure: text in, phases out.
"""

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from markdown_it import MarkdownIt
from markdown_it.token import Token

_TAG = re.compile(r"\[\s*(?P<key>[A-Za-z_-]+)\s*:\s*(?P<value>[^\]]*)\]")
_SPECIAL_SECTIONS = {
    "deliverables": "deliverables",
    "deliverable": "deliverables",
    "validation": "validation",
    "validate": "validation",
    "acceptance": "criteria",
    "acceptance criteria": "criteria",
    "criteria": "criteria",
}


@dataclass
class MarkdownPhase:
    """One phase as written in a markdown plan, before grounding in the repository."""

    title: str
    goal: str
    line: int
    tags: dict[str, list[str]] = field(default_factory=dict)
    criteria: list[str] = field(default_factory=list)
    deliverables: list[str] = field(default_factory=list)
    validation: list[str] = field(default_factory=list)

    @property
    def is_specified(self) -> bool:
        """Whether the phase says enough to be used without the planner model."""
        return bool(self.tags or self.criteria or self.deliverables or self.validation)


@dataclass
class MarkdownPlan:
    """Phases found in a markdown plan and whether they are structured enough to use as is."""

    phases: list[MarkdownPhase]
    structured: bool
    reason: str
    warnings: list[str] = field(default_factory=list)


@dataclass
class _Item:
    text: str
    line: int
    children: list["_Item"] = field(default_factory=list)


@dataclass
class _Block:
    kind: str  # heading | paragraph | list
    text: str = ""
    line: int = 0
    level: int = 0
    items: list[_Item] = field(default_factory=list)


def _parse_list(tokens: Sequence[Token], start: int) -> tuple[list[_Item], int]:
    """Parse the list opening at ``tokens[start]``; return its items and the index after it."""
    close = tokens[start].type.replace("_open", "_close")
    items: list[_Item] = []
    index = start + 1
    while index < len(tokens) and tokens[index].type != close:
        token = tokens[index]
        if token.type == "list_item_open":
            items.append(_Item(text="", line=(token.map or [0])[0] + 1))
        elif token.type == "inline" and items:
            items[-1].text = f"{items[-1].text} {token.content}".strip()
        elif token.type in ("bullet_list_open", "ordered_list_open") and items:
            children, index = _parse_list(tokens, index)
            items[-1].children.extend(children)
            continue
        index += 1
    return items, index + 1


def _blocks(text: str) -> list[_Block]:
    tokens = MarkdownIt("commonmark").parse(text)
    blocks: list[_Block] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        line = (token.map or [0])[0] + 1
        if token.type == "heading_open":
            blocks.append(
                _Block("heading", tokens[index + 1].content, line, level=int(token.tag[1]))
            )
            index += 3
        elif token.type == "paragraph_open" and token.level == 0:
            blocks.append(_Block("paragraph", tokens[index + 1].content, line))
            index += 3
        elif token.type in ("bullet_list_open", "ordered_list_open") and token.level == 0:
            items, index = _parse_list(tokens, index)
            blocks.append(_Block("list", line=line, items=items))
        else:
            index += 1
    return blocks


def _flatten(items: list[_Item]) -> list[tuple[str, int]]:
    out: list[tuple[str, int]] = []
    for item in items:
        if item.text:
            out.append((item.text, item.line))
        out.extend(_flatten(item.children))
    return out


def _split_values(value: str, *, separator: str = ",") -> list[str]:
    return [part.strip().strip("`") for part in value.split(separator) if part.strip()]


def extract_tags(
    text: str, *, known: Sequence[str], aliases: dict[str, str]
) -> tuple[str, dict[str, list[str]], list[str]]:
    """Remove ``[key:value]`` tags from ``text``; return the clean text, tags and warnings."""
    tags: dict[str, list[str]] = {}
    warnings: list[str] = []
    for match in _TAG.finditer(text):
        key = match["key"].lower()
        key = aliases.get(key, key)
        if key not in known:
            warnings.append(
                f"unknown tag [{match['key']}:{match['value']}]; known tags: {', '.join(known)}"
            )
            continue
        # Commands may contain commas, so validation commands are separated by ';'.
        separator = ";" if key == "validation" else ","
        tags.setdefault(key, []).extend(_split_values(match["value"], separator=separator))
    clean = re.sub(r"\s{2,}", " ", _TAG.sub("", text)).strip(" \t-—:")
    return clean, tags, warnings


class _Builder:
    """Accumulates phases while walking blocks, applying tags as it goes."""

    def __init__(self, known: Sequence[str], aliases: dict[str, str]) -> None:
        self.known = known
        self.aliases = aliases
        self.phases: list[MarkdownPhase] = []
        self.warnings: list[str] = []

    def tags(self, text: str, line: int) -> tuple[str, dict[str, list[str]]]:
        clean, tags, warnings = extract_tags(text, known=self.known, aliases=self.aliases)
        self.warnings.extend(f"line {line}: {warning}" for warning in warnings)
        return clean, tags

    def start(self, text: str, line: int) -> MarkdownPhase:
        title, tags = self.tags(text, line)
        phase = MarkdownPhase(title=title[:200], goal="", line=line, tags=tags)
        self.phases.append(phase)
        return phase

    def _merge_tags(self, phase: MarkdownPhase, text: str, line: int) -> str:
        clean, tags = self.tags(text, line)
        for key, values in tags.items():
            phase.tags.setdefault(key, []).extend(values)
        return clean

    def add_text(self, phase: MarkdownPhase, text: str, line: int) -> None:
        clean = self._merge_tags(phase, text, line)
        if clean:
            phase.goal = f"{phase.goal}\n{clean}".strip()

    def add_bullets(self, phase: MarkdownPhase, items: list[_Item], section: str) -> None:
        """Add bullets as criteria, deliverables or validation commands.

        A bullet such as ``Deliverables: a.py, b.py`` or ``Validation: make check`` says
        which it is; otherwise the enclosing section (a sub-heading) decides.
        """
        for text, line in _flatten(items):
            clean = self._merge_tags(phase, text, line)
            label, separator, rest = clean.partition(":")
            special = _SPECIAL_SECTIONS.get(label.strip().lower()) if separator else None
            target = special or section
            body = rest.strip() if special else clean
            if not body:
                continue
            if target == "deliverables":
                phase.deliverables.extend(_split_values(body))
            elif target == "validation":
                phase.validation.append(body.strip("`"))
            else:
                phase.criteria.append(body)


def _phase_heading_level(blocks: list[_Block]) -> int | None:
    """Pick the heading level that holds phases: skip a lone document title above them."""
    levels = sorted({b.level for b in blocks if b.kind == "heading"})
    for level in levels:
        count = sum(1 for b in blocks if b.kind == "heading" and b.level == level)
        deeper = any(lvl > level for lvl in levels)
        if count == 1 and deeper:
            continue
        return level
    return None


def _from_headings(blocks: list[_Block], level: int, builder: _Builder) -> None:
    phase: MarkdownPhase | None = None
    section = "criteria"
    for block in blocks:
        if block.kind == "heading" and block.level <= level:
            phase = builder.start(block.text, block.line) if block.level == level else None
            section = "criteria"
        elif phase is None:
            continue
        elif block.kind == "heading":
            label = _SPECIAL_SECTIONS.get(block.text.strip().strip(":").lower())
            section = label or "criteria"
            if label is None:
                builder.add_text(phase, block.text, block.line)
        elif block.kind == "paragraph":
            builder.add_text(phase, block.text, block.line)
        else:
            builder.add_bullets(phase, block.items, section)


def _from_bullets(blocks: list[_Block], builder: _Builder) -> None:
    for block in blocks:
        if block.kind != "list":
            continue
        for item in block.items:
            title_text, separator, goal = item.text.partition(": ")
            if separator and len(title_text) <= 80:
                phase = builder.start(title_text, item.line)
                builder.add_text(phase, goal, item.line)
            else:
                phase = builder.start(item.text, item.line)
                phase.goal = phase.title
            builder.add_bullets(phase, item.children, "criteria")


def parse_markdown_plan(
    text: str, *, known_tags: Sequence[str], tag_aliases: dict[str, str]
) -> MarkdownPlan:
    """Find the phases of a markdown plan and judge whether they can be used without a model."""
    blocks = _blocks(text)
    builder = _Builder(known_tags, tag_aliases)
    level = _phase_heading_level(blocks)
    if level is not None:
        _from_headings(blocks, level, builder)
    if not builder.phases:
        builder = _Builder(known_tags, tag_aliases)
        _from_bullets(blocks, builder)
    phases = [phase for phase in builder.phases if phase.title]
    if not phases:
        return MarkdownPlan([], False, "no headings or bullet lists name phases", builder.warnings)
    vague = [phase for phase in phases if not phase.is_specified]
    if vague:
        names = ", ".join(f"{phase.title!r} (line {phase.line})" for phase in vague[:3])
        reason = (
            f"{len(vague)} of {len(phases)} phases have no tags or acceptance criteria: {names}"
        )
        return MarkdownPlan(phases, False, reason, builder.warnings)
    return MarkdownPlan(phases, True, f"{len(phases)} tagged markdown phases", builder.warnings)
