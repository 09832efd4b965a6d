"""Choose what the Builder sees of the repository, within a budget measured in real tokens.

Sending every file in scope whole is expensive and mostly noise. The context is, in order
(the stable part first, so provider prompt caches keep hitting across attempts):

1. a compact repository map (symbols per file) of every file, up to a quarter of the budget;
2. whole files, most relevant first: existing deliverables; files named in the last
   attempt's failures; the package entry next to each deliverable (``__init__.py``,
   ``index.ts``, ``mod.rs``); the deliverables' import neighbours (Python: files they import
   and files importing them) and their tests; then, up to ``MAX_RELEVANT``, the files in scope
   or in the read-only context whose path and symbols share the rarest words with the phase;
3. every other file only in the map.

Ties break by path, so the same repository and phase always give the same context.
"""

import ast
import hashlib
import math
import re
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath

from autopack.agents import repomap
from autopack.api import PhaseDefinition
from autopack.llm.tokens import count_tokens
from autopack.planning import scan_repository, scanning

MAX_RELEVANT = 4  # files chosen by shared words alone, after the structural neighbours
MAX_PARSE_BYTES = 200_000
MAX_WHOLE_FILE_BYTES = 200_000  # a longer file is shown cut, and says so
_PACKAGE_ENTRIES = ("__init__.py", "index.ts", "index.js", "mod.rs", "lib.rs")
_WORD = re.compile(r"[A-Za-z][a-z]+|[A-Z]+(?![a-z])")
_COMMON = frozenset(
    {
        "the",
        "and",
        "for",
        "with",
        "that",
        "this",
        "from",
        "into",
        "not",
        "are",
        "was",
        "its",
        "all",
        "any",
        "each",
        "add",
        "new",
        "use",
        "make",
        "return",
        "returns",
        "returning",
        "when",
        "then",
        "than",
        "one",
        "two",
        "should",
        "must",
        "can",
        "may",
        "test",
        "tests",
        "def",
        "class",
        "init",
        "self",
    }
)


def terms(text: str) -> set[str]:
    """Lower-case words of ``text`` (identifiers split), plural ``s`` dropped, common ones out."""
    found = set()
    for word in _WORD.findall(text):
        lowered = word.lower()
        if len(lowered) < 3 or lowered in _COMMON:
            continue
        found.add(lowered[:-1] if lowered.endswith("s") and len(lowered) > 3 else lowered)
    return found


def _within(path: str, prefixes: Iterable[str]) -> bool:
    return any(path == p or (p.endswith("/") and path.startswith(p)) for p in prefixes)


# Imported module names by digest of a file's bytes: each attempt asks again about the same files.
_IMPORTS: dict[bytes, frozenset[str]] = {}
_MAX_CACHED = 100_000


def _imported_modules(data: bytes) -> frozenset[str]:
    """The absolute module names a Python source imports (nothing when it does not parse)."""
    key = hashlib.blake2b(data, digest_size=16).digest()
    cached = _IMPORTS.get(key)
    if cached is not None:
        return cached
    modules: set[str] = set()
    try:
        tree = ast.parse(data.decode("utf-8", errors="replace"))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        tree = None
    for node in ast.walk(tree) if tree is not None else ():
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    if len(_IMPORTS) >= _MAX_CACHED:
        _IMPORTS.clear()
    _IMPORTS[key] = frozenset(modules)
    return _IMPORTS[key]


def _python_imports(root: Path, path: str, files: set[str]) -> set[str]:
    """Repository files that the Python file ``path`` imports."""
    data = scanning.read_bytes(root, path, max_bytes=MAX_PARSE_BYTES)
    if data is None or len(data) > MAX_PARSE_BYTES:
        return set()
    modules = _imported_modules(data)
    found = set()
    for module in modules:
        stem = module.replace(".", "/")
        for prefix in ("", "src/"):
            for candidate in (f"{prefix}{stem}.py", f"{prefix}{stem}/__init__.py"):
                if candidate in files:
                    found.add(candidate)
    return found


class ContextSelector:
    """Renders the repository context for one phase attempt."""

    def __init__(self, root: Path, *, measure: Callable[[str], int] = count_tokens) -> None:
        """Select from the checkout at ``root``; ``measure`` counts tokens."""
        self.root = root
        self.measure = measure
        # The files the last render listed, for the render_related that follows it.
        self._listed: list[str] | None = None

    def _files(self) -> list[str]:
        return list(scan_repository(self.root, max_files=50_000, time_limit_seconds=2.0).files)

    def render(self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int) -> str:
        """Return the map, then the chosen files whole, within ``budget_tokens``."""
        files = self._listed = self._files()
        map_text = repomap.repository_map(
            self.root, files, budget=budget_tokens // 4, measure=self.measure
        )
        parts = ["## Repository map (path: symbols)", map_text, ""]
        used = self.measure(map_text)
        for path in self.whole_files(phase, files, feedback):
            text = scanning.read_text(self.root, path, max_bytes=MAX_WHOLE_FILE_BYTES)
            if text is None:
                continue  # a special file or a symlink out of the repository: never shown
            block = f"--- {path}\n{text}"
            size = self.measure(block)
            if used + size > budget_tokens:
                parts.append(f"--- {path} (not shown whole: context budget reached; see the map)")
                continue
            parts.append(block)
            used += size
        return "\n".join(parts)

    def render_related(
        self, *, phase: PhaseDefinition, feedback: list[str], budget_tokens: int
    ) -> str:
        """Files the last failure brings in that :meth:`render` without feedback does not show.

        Kept apart so the phase's own context stays the same from attempt to attempt (a
        provider's prompt cache then holds it) while these follow the failure. Called right
        after :meth:`render` for the same prompt (nothing changes the checkout in between), it
        uses the files that render listed instead of listing them again.
        """
        files, self._listed = self._listed, None
        if not feedback:
            return ""
        if files is None:
            files = self._files()
        stable = set(self.whole_files(phase, files))
        parts: list[str] = []
        used = 0
        for path in self.whole_files(phase, files, feedback):
            if path in stable:
                continue
            text = scanning.read_text(self.root, path, max_bytes=MAX_WHOLE_FILE_BYTES)
            if text is None:
                continue
            block = f"--- {path}\n{text}"
            size = self.measure(block)
            if used + size > budget_tokens:
                continue
            parts.append(block)
            used += size
        return "\n".join(parts)

    def whole_files(
        self, phase: PhaseDefinition, files: list[str], feedback: Iterable[str] = ()
    ) -> list[str]:
        """The files to show whole, most relevant first."""
        present = set(files)
        allowed = list(phase.scope.allowed_paths)
        candidates = sorted(
            f for f in files if _within(f, allowed) or _within(f, phase.scope.read_only_context)
        )
        targets = [d.split("::", 1)[0] for d in phase.deliverables]
        ordered = [t for t in targets if t in present]
        mentioned = "\n".join(feedback)
        ordered += [f for f in candidates if f in mentioned]
        ordered += self._structural(targets, candidates, present)
        ordered += self._by_shared_words(phase, candidates, exclude=set(ordered))
        return list(dict.fromkeys(ordered))

    def _structural(
        self, targets: list[str], candidates: list[str], present: set[str]
    ) -> list[str]:
        """Package entries beside the deliverables, their import neighbours and their tests."""
        found: list[str] = []
        directories = {str(PurePosixPath(t).parent) for t in targets}
        for directory in sorted(directories):
            for entry in _PACKAGE_ENTRIES:
                path = entry if directory == "." else f"{directory}/{entry}"
                if path in present:
                    found.append(path)
        existing = [t for t in targets if t in present and t.endswith(".py")]
        for target in existing:
            found += sorted(_python_imports(self.root, target, present))
        wanted = set(existing)
        if wanted:
            found += [
                f
                for f in candidates
                if f.endswith(".py")
                and f not in wanted
                and _python_imports(self.root, f, present) & wanted
            ]
        stems = {PurePosixPath(t).stem for t in targets if not t.endswith("/")}
        found += [
            f
            for f in candidates
            if "test" in f.lower()
            and f not in targets
            and any(
                re.search(rf"(?:^|[^a-z]){re.escape(stem)}(?:[^a-z]|$)", PurePosixPath(f).stem)
                for stem in stems
            )
        ]
        return found

    def _by_shared_words(
        self, phase: PhaseDefinition, candidates: list[str], *, exclude: set[str]
    ) -> list[str]:
        """Up to MAX_RELEVANT candidates sharing the rarest words with the phase's text."""
        wanted = terms(
            " ".join([phase.title, phase.goal, *phase.acceptance_criteria, *phase.deliverables])
        )
        if not wanted or not candidates:
            return []
        # A file's own name and symbols describe it; its directories are shared by its siblings.
        described = {
            f: terms(
                PurePosixPath(f).stem
                + " "
                + " ".join(repomap.file_symbols(self.root / f, root=self.root))
            )
            for f in candidates
        }
        frequency: dict[str, int] = {}
        for words in described.values():
            for word in words & wanted:
                frequency[word] = frequency.get(word, 0) + 1
        total = len(candidates)
        # A word most candidates share tells them apart no better than no word at all.
        rare = {w for w, n in frequency.items() if total < 4 or n <= total / 2}
        scored = []
        for path, words in described.items():
            shared = words & rare
            if path not in exclude and shared:
                score = sum(math.log(total / frequency[w]) for w in shared)
                scored.append((-score, path))
        return [path for _, path in sorted(scored)[:MAX_RELEVANT]]
