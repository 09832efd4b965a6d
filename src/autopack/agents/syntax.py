"""Declarations in JavaScript, TypeScript, Go, Rust and Java files, read with tree-sitter.

Each grammar package ships the ``tags.scm`` query that editors and code search use to find
definitions; we run that query rather than keeping patterns of our own, so a grammar update
brings its fixes with it. TypeScript's query only adds to JavaScript's, as in the grammar's own
tooling, so the two are joined. Methods are listed under the class or interface that encloses
them, the way the Python map shows them. When a grammar cannot be loaded (an unusual platform
without wheels for it) :func:`declarations` returns ``None`` and the caller falls back to patterns.
"""

import importlib
from dataclasses import dataclass
from functools import cache

import tree_sitter

_GRAMMARS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    # suffix: (module, language function, modules whose TAGS_QUERY apply, in order)
    ".js": ("tree_sitter_javascript", "language", ("tree_sitter_javascript",)),
    ".jsx": ("tree_sitter_javascript", "language", ("tree_sitter_javascript",)),
    ".mjs": ("tree_sitter_javascript", "language", ("tree_sitter_javascript",)),
    ".cjs": ("tree_sitter_javascript", "language", ("tree_sitter_javascript",)),
    ".ts": (
        "tree_sitter_typescript",
        "language_typescript",
        ("tree_sitter_javascript", "tree_sitter_typescript"),
    ),
    ".tsx": (
        "tree_sitter_typescript",
        "language_tsx",
        ("tree_sitter_javascript", "tree_sitter_typescript"),
    ),
    ".go": ("tree_sitter_go", "language", ("tree_sitter_go",)),
    ".rs": ("tree_sitter_rust", "language", ("tree_sitter_rust",)),
    ".java": ("tree_sitter_java", "language", ("tree_sitter_java",)),
}
SUFFIXES = frozenset(_GRAMMARS)
_CONTAINERS = {"class", "interface"}


@dataclass(frozen=True)
class _Definition:
    kind: str
    name: str
    start: int
    end: int


@cache
def _tools(suffix: str) -> tuple[tree_sitter.Parser, tree_sitter.Query] | None:
    """Return (parser, query) for a suffix, or ``None`` when its grammar does not load."""
    module_name, function, query_modules = _GRAMMARS[suffix]
    try:
        grammar = importlib.import_module(module_name)
        language = tree_sitter.Language(getattr(grammar, function)())
        source = "\n".join(str(importlib.import_module(name).TAGS_QUERY) for name in query_modules)
        return tree_sitter.Parser(language), tree_sitter.Query(language, source)
    except (ImportError, AttributeError, ValueError, TypeError):
        return None


def _definitions(
    parser: tree_sitter.Parser, query: tree_sitter.Query, text: bytes
) -> list[_Definition]:
    found: dict[tuple[int, str], _Definition] = {}
    tree = parser.parse(text)
    for _, captures in tree_sitter.QueryCursor(query).matches(tree.root_node):
        kinds = [key for key in captures if key.startswith("definition.")]
        names = captures.get("name", [])
        if not kinds or not names:
            continue
        node = captures[kinds[0]][0]
        name = names[0].text.decode("utf-8", "replace") if names[0].text else ""
        kind = kinds[0].removeprefix("definition.")
        key = (node.start_byte, name)
        # Rust's query marks a function inside an impl both method and function: keep method.
        if key not in found or kind == "method":
            found[key] = _Definition(kind, name, node.start_byte, node.end_byte)
    return sorted(found.values(), key=lambda item: (item.start, -item.end))


def _render(definitions: list[_Definition]) -> list[str]:
    """Lines like ``class Cart[add, total]``; methods join their innermost enclosing class."""
    members: dict[_Definition, list[str]] = {}
    symbols: list[_Definition] = []
    for item in definitions:
        owner = None
        if item.kind == "method":
            owners = [
                other for other in members if other.start <= item.start and item.end <= other.end
            ]
            owner = max(owners, key=lambda other: other.start) if owners else None
        if owner is not None:
            members[owner].append(item.name)
            continue
        symbols.append(item)
        if item.kind in _CONTAINERS:
            members[item] = []
    lines = []
    for item in symbols:
        names = members.get(item)
        suffix = f"[{', '.join(dict.fromkeys(names))}]" if names else ""
        lines.append(f"{item.kind} {item.name}{suffix}")
    return list(dict.fromkeys(lines))


def declarations(suffix: str, text: str) -> list[str] | None:
    """Return the declarations in ``text`` (of a ``suffix`` file); ``None`` without a grammar."""
    tools = _tools(suffix) if suffix in _GRAMMARS else None
    if tools is None:
        return None
    parser, query = tools
    return _render(_definitions(parser, query, text.encode("utf-8")))
