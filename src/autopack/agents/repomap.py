"""A compact map of a repository: the symbols each file defines, one line per file.

Python files are read with ``ast`` (classes, functions and methods with their arguments).
JavaScript, TypeScript, Go, Rust and Java are parsed with tree-sitter and their grammars' tags
queries (:mod:`autopack.agents.syntax`). Other code files (Kotlin, Ruby, C#), and any of those
languages whose grammar fails to load, use a documented regular-expression fallback for
declarations (``function``, ``class``, ``func``, ``fn``, ``struct``, ``interface``, ``type``,
Java/Kotlin methods). Output is sorted and bounded, so the
same repository always gives the same map (provider prompt caches keep hitting).
"""

import ast
import hashlib
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from autopack.agents import syntax
from autopack.planning import scanning

MAX_FILE_BYTES = 200_000
# Bytes read for one map: beyond this, files are listed by name only.
MAX_MAP_BYTES = 20_000_000

_DECLARATION = re.compile(
    r"^\s*(?:export\s+)?(?:default\s+)?(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?"
    r"(?:(?:public|private|protected|static|final|abstract|sealed|data)\s+)*"
    r"(?:function\*?|class|interface|func|fn|struct|enum|trait|type)\s+"
    r"(?:\([^)]*\)\s*)?(?P<name>[A-Za-z_]\w*)",
    re.MULTILINE,
)
_JAVA_METHOD = re.compile(
    r"^\s*(?:public|protected|private)\s+(?:static\s+)?[\w<>\[\], ]+\s+(?P<name>\w+)\s*\(",
    re.MULTILINE,
)
_CODE = syntax.SUFFIXES | {".kt", ".rb", ".cs"}

# Symbols by (suffix, digest of the bytes): they depend on nothing else, and every attempt
# maps the repository again while most of its files stay the same.
_SYMBOLS: dict[tuple[str, bytes], tuple[str, ...]] = {}
_MAX_CACHED = 100_000


def _python_symbols(text: str) -> list[str]:
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # NUL bytes, deep nesting
        return ["<syntax error>"]
    symbols: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            symbols.append(f"def {node.name}({', '.join(a.arg for a in node.args.args)})")
        elif isinstance(node, ast.ClassDef):
            methods = [
                item.name
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
                and not item.name.startswith("__")
            ]
            symbols.append(f"class {node.name}" + (f"[{', '.join(methods)}]" if methods else ""))
    return symbols


def file_symbols(path: Path, *, root: Path | None = None) -> list[str]:
    """Return the symbols ``path`` declares (empty for files that are not code).

    The file is read only when it is a regular file inside ``root`` (default: its directory),
    never through a symlink that leaves the repository and never a device or FIFO.
    """
    if path.suffix not in _CODE | {".py"}:
        return []
    base = root if root is not None else path.parent
    data = scanning.read_bytes(base, str(path.relative_to(base)), max_bytes=MAX_FILE_BYTES)
    if data is None:
        return []
    if len(data) > MAX_FILE_BYTES:
        return ["<large file>"]
    key = (path.suffix, hashlib.blake2b(data, digest_size=16).digest())
    symbols = _SYMBOLS.get(key)
    if symbols is None:
        symbols = tuple(_symbols(path.suffix, data.decode("utf-8", errors="replace")))
        if len(_SYMBOLS) >= _MAX_CACHED:
            _SYMBOLS.clear()
        _SYMBOLS[key] = symbols
    return list(symbols)


def _symbols(suffix: str, text: str) -> list[str]:
    if suffix == ".py":
        return _python_symbols(text)
    parsed = syntax.declarations(suffix, text)
    if parsed is not None:
        return parsed
    return fallback_symbols(suffix, text)


def _size(path: Path) -> int:
    """Bytes a map reads of ``path`` at most (its own size, without following symlinks)."""
    try:
        return min(os.lstat(path).st_size, MAX_FILE_BYTES)
    except OSError:
        return 0


def fallback_symbols(suffix: str, text: str) -> list[str]:
    """Return declared names found by the regular-expression fallback."""
    names = [m["name"] for m in _DECLARATION.finditer(text)]
    if suffix in (".java", ".kt"):
        names += [m["name"] for m in _JAVA_METHOD.finditer(text)]
    return list(dict.fromkeys(names))


def repository_map(
    root: Path, files: Iterable[str], *, budget: int, measure: Callable[[str], int] = len
) -> str:
    """Return ``path: symbols`` lines for the files, sorted, cut when ``measure`` passes ``budget``.

    ``measure`` sizes a line (characters by default; the engine passes a token counter).
    """
    lines: list[str] = []
    used = 0
    read = 0
    for relative in sorted(files):
        symbols: list[str] = []
        if read < MAX_MAP_BYTES:
            symbols = file_symbols(root / relative, root=root)
            read += _size(root / relative)
        line = f"{relative}: {'; '.join(symbols)}" if symbols else relative
        size = measure(line) + 1
        if used + size > budget:
            lines.append(f"... ({len(lines)} files shown; map cut at its size budget)")
            break
        lines.append(line)
        used += size
    return "\n".join(lines)
