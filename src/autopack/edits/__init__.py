"""Builder edits: the edit-block format and parser, and the governed apply inside a scope."""

from autopack.edits.applying import (
    DEFAULT_PROTECTED,
    MAX_ATTEMPT_BYTES,
    MAX_FILE_BYTES,
    ApplyOutcome,
    apply_edits,
    check_path,
)
from autopack.edits.editor import BlockEditor
from autopack.edits.format import FORMAT_INSTRUCTIONS, Edit, ParsedEdits, parse_edits

__all__ = [
    "DEFAULT_PROTECTED",
    "FORMAT_INSTRUCTIONS",
    "MAX_ATTEMPT_BYTES",
    "MAX_FILE_BYTES",
    "ApplyOutcome",
    "BlockEditor",
    "Edit",
    "ParsedEdits",
    "apply_edits",
    "check_path",
    "parse_edits",
]
