"""Turn run-file text into API objects, or into errors a person can act on.

Used by ``autopack validate``, ``autopack run`` and the runner. Each error names the document
(1-based, as editors count), the field path in the YAML's own camelCase spelling, and the
reason in plain words, with a suggestion for misspelt field names. No I/O here: callers pass text.
"""

import difflib
import types
import typing
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Union

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from autopack.api import constants
from autopack.api.phase import Phase
from autopack.api.run import AutopackRun

Resource = AutopackRun | Phase

_KINDS: dict[str, type[AutopackRun] | type[Phase]] = {
    constants.RUN_KIND: AutopackRun,
    constants.PHASE_KIND: Phase,
}


@dataclass(frozen=True)
class DocumentError:
    """One problem in one YAML document of a file."""

    source: str
    """File name (or other label) the text came from."""

    document: int
    """1-based index of the YAML document in the file (0 when the file itself is unusable)."""

    path: str
    """Field path such as spec.budgets.tokens, or empty for the whole document."""

    reason: str
    """What is wrong and, where possible, what to do."""

    def __str__(self) -> str:
        """Format as ``FILE: document N: PATH: REASON``."""
        where = self.source if self.document == 0 else f"{self.source}: document {self.document}"
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"


@dataclass(frozen=True)
class LoadedDocument:
    """A document that parsed and validated."""

    source: str
    """File name the text came from."""

    document: int
    """1-based index of the document in the file."""

    resource: Resource
    """The validated object."""


class ResourceInvalidError(ValueError):
    """Raised by :func:`parse_run` when a run object is not valid; carries every error."""

    def __init__(self, errors: list[DocumentError]) -> None:
        """Keep the errors and use them, one per line, as the message."""
        super().__init__("\n".join(str(error) for error in errors))
        self.errors = errors


# Bounds on a run file: nesting depth, nodes after alias expansion (a "billion laughs" file is
# a few lines that expand to billions of nodes), and size.
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 200_000
MAX_FILE_BYTES = 4_000_000


class YamlLimitError(yaml.YAMLError):
    """A run file exceeds a bound; says which one, and where."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        """Keep ``problem`` and the position, as PyYAML's own errors do."""
        super().__init__(problem)
        self.problem = problem
        self.problem_mark = mark


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in ``root`` with every alias expanded (each anchored node counted per use)."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: yaml.Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:
            raise YamlLimitError("an alias refers to a node that contains it", node.start_mark)
        in_progress.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            total += sum(size(k) + size(v) for k, v in node.value)
        in_progress.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise YamlLimitError(
                f"aliases expand to more than {MAX_EXPANDED_NODES:,} values (a YAML bomb?); "
                "write the values out or use fewer aliases",
                node.start_mark,
            )
        return total

    return size(root)


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that rejects duplicate mapping keys, as kubectl does, and bounds the file.

    Nesting deeper than :data:`MAX_DEPTH` and aliases expanding to more than
    :data:`MAX_EXPANDED_NODES` values are refused before anything is constructed.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise YamlLimitError(
                    f"nested deeper than {MAX_DEPTH} levels; run files are shallow",
                    self.peek_event().start_mark,  # type: ignore[no-untyped-call]
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self) -> yaml.Node | None:
        node = super().compose_document()
        if node is not None:
            _expanded_size(node)
        return node


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Hashable] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if isinstance(key, Hashable) and key in seen:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                f"found duplicate key {key!r}",
                key_node.start_mark,
            )
        if isinstance(key, Hashable):
            seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)


def _format_loc(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """Return the pydantic model inside an annotation such as ``list[X] | None``, if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (Union, types.UnionType, list, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _fields_at(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Return the field names (aliases) allowed in the object at ``loc`` under ``model``."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        field = next(
            (f for name, f in current.model_fields.items() if (f.alias or name) == part), None
        )
        current = _model_in(field.annotation) if field is not None else None
    if current is None:
        return []
    return [field.alias or name for name, field in current.model_fields.items()]


def _shorten(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(error: ErrorDetails, model: type[BaseModel]) -> str:
    kind = error["type"]
    loc = tuple(error["loc"])
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        allowed = _fields_at(model, loc[:-1])
        name = str(loc[-1])
        close = difflib.get_close_matches(name, allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed fields: {', '.join(allowed)}"
        return f"unknown field; {hint}"
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    message = (
        message.replace("Input should be", "must be")
        .replace("String should", "must")
        .replace("List should", "must")
        .replace("Dictionary should", "must")
    )
    if kind != "value_error" and not isinstance(error.get("input"), dict | list):
        message += f" (got {_shorten(error.get('input'))})"
    return message


def _validation_errors(
    exc: ValidationError, *, model: type[BaseModel], source: str, document: int
) -> list[DocumentError]:
    return [
        DocumentError(
            source=source,
            document=document,
            path=_format_loc(tuple(error["loc"])),
            reason=_reason(error, model),
        )
        for error in exc.errors()
    ]


def parse_resource(data: Any, *, source: str, document: int = 1) -> Resource:
    """Validate one decoded document as an Autopack resource; raise ResourceInvalidError."""

    def fail(path: str, reason: str) -> ResourceInvalidError:
        return ResourceInvalidError([DocumentError(source, document, path, reason)])

    if not isinstance(data, dict):
        raise fail(
            "",
            f"expected a mapping with apiVersion, kind, metadata and spec, "
            f"found {type(data).__name__}",
        )
    kind = data.get("kind")
    if kind is None:
        raise fail("kind", f"required field is missing; expected one of {', '.join(_KINDS)}")
    model = _KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise fail("kind", f"{kind!r} is not an Autopack kind; expected one of {', '.join(_KINDS)}")
    api_version = data.get("apiVersion")
    if api_version != constants.API_VERSION:
        raise fail(
            "apiVersion",
            f"expected {constants.API_VERSION!r}, got {api_version!r}"
            if api_version is not None
            else f"required field is missing; use {constants.API_VERSION!r}",
        )
    try:
        return model.model_validate(data, by_alias=True, by_name=False)
    except ValidationError as exc:
        raise ResourceInvalidError(
            _validation_errors(exc, model=model, source=source, document=document)
        ) from None


def parse_run(data: Any, *, source: str) -> AutopackRun:
    """Validate a decoded document that must be an AutopackRun."""
    resource = parse_resource(data, source=source)
    if not isinstance(resource, AutopackRun):
        raise ResourceInvalidError(
            [
                DocumentError(
                    source, 1, "kind", f"expected {constants.RUN_KIND}, got {resource.kind}"
                )
            ]
        )
    return resource


def _decode(content: str | bytes, source: str) -> str:
    if isinstance(content, str):
        return content
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        bad = content[exc.start : exc.start + 1].hex()
        raise ResourceInvalidError(
            [
                DocumentError(
                    source,
                    0,
                    "",
                    f"not UTF-8 text (byte 0x{bad} at offset {exc.start}); run files must be YAML",
                )
            ]
        ) from None


def load_documents(
    content: str | bytes, *, source: str
) -> tuple[list[LoadedDocument], list[DocumentError]]:
    """Parse every YAML document in ``content``; return the valid ones and all errors."""
    if len(content) > MAX_FILE_BYTES:
        reason = f"is {len(content):,} bytes; run files are at most {MAX_FILE_BYTES:,} bytes"
        return [], [DocumentError(source, 0, "", reason)]
    try:
        text = _decode(content, source)
    except ResourceInvalidError as exc:
        return [], exc.errors
    loaded: list[LoadedDocument] = []
    errors: list[DocumentError] = []
    documents = 0
    try:
        for index, data in enumerate(yaml.load_all(text, Loader=_UniqueKeyLoader), start=1):
            if data is None:
                continue
            documents += 1
            try:
                resource = parse_resource(data, source=source, document=index)
            except ResourceInvalidError as exc:
                errors.extend(exc.errors)
            else:
                if isinstance(resource, AutopackRun) and not resource.metadata.name:
                    errors.append(
                        DocumentError(
                            source,
                            index,
                            "metadata.name",
                            "required: a run file names its run (metadata.generateName alone "
                            "works only with kubectl create, and `autopack run` needs a name)",
                        )
                    )
                    continue
                loaded.append(LoadedDocument(source=source, document=index, resource=resource))
    except (yaml.YAMLError, RecursionError) as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc)
        errors.append(DocumentError(source, 0, "", f"not valid YAML: {where}{problem}"))
        return loaded, errors
    if documents == 0:
        errors.append(
            DocumentError(source, 0, "", "holds no YAML documents; expected an AutopackRun")
        )
    return loaded, errors


def describe(resource: Resource) -> str:
    """Return a one-line summary of a valid resource for ``autopack validate``."""
    if isinstance(resource, AutopackRun):
        spec = resource.spec
        count = len(spec.phases)
        plan = f"{count} phase{'s' * (count != 1)}" if count else f"{len(spec.plan)}-character plan"
        return (
            f"AutopackRun {resource.name or resource.metadata.generate_name}: {plan}, "
            f"repo {spec.repo.url}@{spec.repo.ref} -> {resource.push_branch}, "
            f"budget {spec.budgets.tokens:,} tokens / ${spec.budgets.cost_usd:.2f}"
        )
    return (
        f"Phase {resource.metadata.name}: run {resource.spec.run_name}, "
        f"index {resource.spec.index}, {resource.spec.title!r}"
    )
