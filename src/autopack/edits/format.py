"""The Builder's edit blocks: the format as told to the model, and a truncation-tolerant parser.

The Builder answers in plain-text blocks (no code inside JSON)::

    === FILE: path/to/new_or_small.py
    <the whole file>
    === END
    === EDIT: path/to/existing.py
    <<<<<<< SEARCH
    exact lines to find
    =======
    lines to put instead
    >>>>>>> REPLACE
    === END
    === DELETE: path/to/obsolete.py

Every complete block is usable; a block cut off before ``=== END`` is reported with its path
so the Builder can continue from it. Parsing is pure: applying is :mod:`autopack.edits.applying`.
"""

import re
from dataclasses import dataclass

FORMAT_INSTRUCTIONS = """\
Answer with edit blocks only, no other prose:

=== FILE: relative/path.ext
<the complete new content of the file>
=== END

=== EDIT: relative/path.ext
<<<<<<< SEARCH
<lines copied exactly from the current file, enough to match once>
=======
<the lines that replace them>
>>>>>>> REPLACE
=== END

=== DELETE: relative/path.ext

Use FILE for new or small files and EDIT (one or more SEARCH/REPLACE pairs) for changes to
existing files. Paths are relative to the repository root.
"""

_HEADER = re.compile(r"^=== (FILE|EDIT|DELETE): *(.+?) *$")
_END = "=== END"


@dataclass(frozen=True)
class Edit:
    """One file operation from the Builder."""

    kind: str  # file | edit | delete
    path: str
    content: str = ""
    replacements: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ParsedEdits:
    """Edits read from the Builder's answer."""

    edits: tuple[Edit, ...]
    truncated_path: str | None = None
    error: str | None = None


def _replacements(body: str) -> tuple[tuple[tuple[str, str], ...], str | None]:
    pairs = []
    pattern = re.compile(r"<<<<<<< SEARCH\n(.*?)\n?=======\n(.*?)\n?>>>>>>> REPLACE", re.DOTALL)
    for match in pattern.finditer(body):
        pairs.append((match.group(1), match.group(2)))
    if not pairs:
        return (), "an EDIT block has no complete <<<<<<< SEARCH / ======= / >>>>>>> REPLACE pair"
    return tuple(pairs), None


def parse_edits(text: str) -> ParsedEdits:
    """Parse an answer into edits; report a truncated last block or the first format error."""
    lines = text.replace("\r\n", "\n").split("\n")
    edits: list[Edit] = []
    index = 0
    while index < len(lines):
        header = _HEADER.match(lines[index])
        index += 1
        if header is None:
            continue
        kind, path = header.group(1).lower(), header.group(2).strip().strip("`")
        if kind == "delete":
            edits.append(Edit("delete", path))
            continue
        body: list[str] = []
        while index < len(lines) and lines[index].rstrip() != _END:
            if _HEADER.match(lines[index]):
                return ParsedEdits(
                    tuple(edits),
                    error=f"the block for {path} has no '=== END' "
                    f"before the next block (line {index + 1})",
                )
            body.append(lines[index])
            index += 1
        if index >= len(lines):
            return ParsedEdits(tuple(edits), truncated_path=path)
        index += 1
        content = "\n".join(body)
        if kind == "file":
            edits.append(Edit("file", path, content=content + "\n" if content else ""))
        else:
            pairs, error = _replacements(content)
            if error:
                return ParsedEdits(tuple(edits), error=f"{path}: {error}")
            edits.append(Edit("edit", path, replacements=pairs))
    if not edits and text.strip():
        return ParsedEdits((), error="no '=== FILE:', '=== EDIT:' or '=== DELETE:' block found")
    return ParsedEdits(tuple(edits))
