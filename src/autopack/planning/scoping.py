"""Infer where a phase may write, from its deliverables and words, with an earned confidence.

A plan rarely lists every file a change touches. Explicit paths always win; otherwise the
deliverables anchor the scope (a file that exists, or a new file in an existing directory),
and the phase's own words are matched against path components of the scanned repository,
weighing how densely a directory matches and how many of the words it covers. Each allowed
path carries the evidence for it, so ``autopack plan`` can show where a scope came from.
"""

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Literal

from autopack.planning.scanning import RepoScan

EvidenceSource = Literal["explicit", "deliverable", "keyword", "test-neighbour"]

_WORD = re.compile(r"[a-z][a-z0-9]+")
_COMMON_SHARE = 0.3
_TEST_NAMES = (
    "test_{stem}.py",
    "{stem}_test.py",
    "{stem}_test.go",
    "{stem}.test.js",
    "{stem}.test.ts",
    "{stem}.spec.js",
    "{stem}.spec.ts",
    "{stem}Test.java",
)


@dataclass(frozen=True)
class ScopeEvidence:
    """Why one path is in a phase's scope."""

    path: str
    source: EvidenceSource
    confidence: float
    reason: str


@dataclass(frozen=True)
class ScopeInference:
    """The allowed paths of a phase, the evidence for each and the overall confidence."""

    allowed_paths: tuple[str, ...]
    evidence: tuple[ScopeEvidence, ...]
    confidence: float

    @property
    def sources(self) -> str:
        """Short summary of where the scope came from, e.g. ``deliverable+keyword``."""
        return "+".join(dict.fromkeys(e.source for e in self.evidence)) or "none"


def deliverable_path(deliverable: str) -> str:
    """Return the path part of a deliverable (``src/a.py::func`` gives ``src/a.py``)."""
    return deliverable.split("::", 1)[0].strip()


def keywords(texts: Iterable[str], *, stopwords: Sequence[str]) -> list[str]:
    """Return the distinct lowercase words of ``texts`` that may name code, in first-seen order."""
    stop = set(stopwords)
    found: dict[str, None] = {}
    for text in texts:
        for word in _WORD.findall(text.lower()):
            if len(word) >= 3 and word not in stop:
                found[word] = None
    return list(found)


def _components(path: str) -> set[str]:
    """Return the words a path is made of: directory names and file stem pieces."""
    pure = PurePosixPath(path)
    pieces = [*pure.parts[:-1], pure.stem]
    words: set[str] = set()
    for piece in pieces:
        for word in re.split(r"[^a-z0-9]+", piece.lower()):
            if word:
                words.add(word)
                words.add(word.rstrip("s"))
    return words


def _matches(word: str, components: set[str]) -> bool:
    return word in components or word.rstrip("s") in components


def _deliverable_evidence(deliverables: Sequence[str], scan: RepoScan) -> list[ScopeEvidence]:
    evidence: list[ScopeEvidence] = []
    for deliverable in deliverables:
        path = deliverable_path(deliverable)
        if not path:
            continue
        parent = str(PurePosixPath(path.rstrip("/")).parent)
        parent_prefix = "" if parent == "." else f"{parent}/"
        if scan.exists(path) or (path.endswith("/") is False and scan.is_dir(path)):
            shown = path if not scan.is_dir(path) else path.rstrip("/") + "/"
            evidence.append(ScopeEvidence(shown, "deliverable", 0.95, "deliverable exists"))
        elif parent_prefix == "" or scan.exists(parent_prefix):
            where = parent_prefix or "the repository root"
            evidence.append(
                ScopeEvidence(path, "deliverable", 0.85, f"new deliverable in existing {where}")
            )
        else:
            evidence.append(
                ScopeEvidence(path, "deliverable", 0.6, "new deliverable in a new directory")
            )
    return evidence


def _keyword_evidence(
    words: Sequence[str], scan: RepoScan, *, min_confidence: float, limit: int
) -> list[ScopeEvidence]:
    if not words:
        return []
    matched: dict[str, set[str]] = {}
    for path in scan.files:
        components = _components(path)
        hits = {word for word in words if _matches(word, components)}
        if hits:
            matched[path] = hits
    # A word found in a large share of the repository (``src``, ``services``) says nothing
    # about where this phase belongs: drop it, as inverse document frequency would.
    frequency = {word: sum(1 for hits in matched.values() if word in hits) for word in words}
    common = {w for w, n in frequency.items() if n > max(3, _COMMON_SHARE * len(scan.files))}
    words = [word for word in words if word not in common]
    if not words:
        return []
    matched = {path: hits - common for path, hits in matched.items() if hits - common}
    by_dir: dict[str, list[str]] = defaultdict(list)
    for path in matched:
        parent = str(PurePosixPath(path).parent)
        by_dir["" if parent == "." else f"{parent}/"].append(path)
    candidates: list[ScopeEvidence] = []
    for directory, paths in by_dir.items():
        total = sum(1 for path in scan.files_under(directory) if "/" not in path[len(directory) :])
        density = len(paths) / max(total, 1)
        covered = set().union(*(matched[path] for path in paths))
        coverage = len(covered) / len(words)
        confidence = round(min(0.8, 0.25 + 0.35 * density + 0.4 * coverage), 2)
        if confidence < min_confidence:
            continue
        reason = f"matches {', '.join(sorted(covered))} ({len(paths)}/{total} files)"
        if density >= 0.5 and directory:
            candidates.append(ScopeEvidence(directory, "keyword", confidence, reason))
        else:
            candidates.extend(
                ScopeEvidence(
                    path, "keyword", confidence, f"matches {', '.join(sorted(matched[path]))}"
                )
                for path in sorted(paths)
            )
    candidates.sort(key=lambda e: (-e.confidence, e.path))
    return candidates[:limit]


def _test_neighbours(evidence: Sequence[ScopeEvidence], scan: RepoScan) -> list[ScopeEvidence]:
    names: dict[str, list[str]] = defaultdict(list)
    for path in scan.files:
        names[PurePosixPath(path).name].append(path)
    found: list[ScopeEvidence] = []
    for item in evidence:
        if item.path.endswith("/"):
            continue
        stem = PurePosixPath(item.path).stem
        for pattern in _TEST_NAMES:
            for path in names.get(pattern.format(stem=stem), []):
                found.append(
                    ScopeEvidence(
                        path,
                        "test-neighbour",
                        round(item.confidence * 0.9, 2),
                        f"tests of {item.path}",
                    )
                )
    return found


def _compile(evidence: Sequence[ScopeEvidence]) -> tuple[str, ...]:
    """Return allowed paths in evidence order, dropping paths covered by a directory prefix."""
    paths = list(dict.fromkeys(e.path for e in evidence))
    prefixes = [p for p in paths if p.endswith("/")]
    return tuple(p for p in paths if not any(p != d and p.startswith(d) for d in prefixes))


def infer_scope(
    *,
    texts: Sequence[str],
    deliverables: Sequence[str],
    explicit_paths: Sequence[str],
    scan: RepoScan,
    stopwords: Sequence[str],
    min_confidence: float = 0.45,
    max_keyword_paths: int = 8,
) -> ScopeInference:
    """Infer a phase's allowed paths; explicit paths win, deliverables anchor, words extend."""
    if explicit_paths:
        evidence = [ScopeEvidence(p, "explicit", 1.0, "named in the plan") for p in explicit_paths]
        return ScopeInference(_compile(evidence), tuple(evidence), 1.0)
    anchored = _deliverable_evidence(deliverables, scan)
    by_words = _keyword_evidence(
        keywords(texts, stopwords=stopwords),
        scan,
        min_confidence=min_confidence,
        limit=max_keyword_paths,
    )
    evidence = [*anchored, *by_words]
    evidence += _test_neighbours(evidence, scan)
    if not evidence:
        return ScopeInference((), (), 0.0)
    if anchored:
        confidence = max(e.confidence for e in anchored)
    else:
        top = sorted((e.confidence for e in by_words), reverse=True)[:3]
        confidence = round(sum(top) / len(top), 2)
    return ScopeInference(_compile(evidence), tuple(evidence), confidence)
