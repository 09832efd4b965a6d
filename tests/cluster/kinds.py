"""The resource kinds the emulated cluster serves, with their discovery and admission facts.

Built-in kinds (namespaces, pods, events, secrets, config maps, Jobs) are declared by hand with
the few facts the emulator needs; our own kinds come from the generated CRDs in ``crds/`` so
that their schema, printer columns, short names and categories are exactly what users install.
"""

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.schema import CustomResourceSchema

REPO = Path(__file__).resolve().parents[2]

Key = tuple[str, str, str]
"""(group, version, plural) of a resource."""


@dataclass(frozen=True)
class Kind:
    """One served resource."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status_subresource: bool = False
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    schema: CustomResourceSchema | None = None
    printer_columns: tuple[dict[str, Any], ...] = field(default=())

    @property
    def key(self) -> Key:
        """The lookup key."""
        return (self.group, self.version, self.plural)

    @property
    def api_version(self) -> str:
        """``group/version``, or ``v1`` for the core group."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def singular(self) -> str:
        """Lower-case kind, as discovery reports it."""
        return self.kind.lower()


BUILTIN_KINDS = (
    Kind("", "v1", "namespaces", "Namespace", namespaced=False, short_names=("ns",)),
    Kind("", "v1", "pods", "Pod", status_subresource=True, short_names=("po",)),
    Kind("", "v1", "events", "Event", short_names=("ev",)),
    Kind("", "v1", "secrets", "Secret"),
    Kind("", "v1", "configmaps", "ConfigMap", short_names=("cm",)),
    Kind("", "v1", "serviceaccounts", "ServiceAccount", short_names=("sa",)),
    Kind("batch", "v1", "jobs", "Job", status_subresource=True),
    Kind("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
)


def custom_kind(crd: dict[str, Any]) -> Kind:
    """Return the Kind served for a CustomResourceDefinition object."""
    spec = crd["spec"]
    version = next(v for v in spec["versions"] if v.get("storage", True))
    names = spec["names"]
    return Kind(
        group=spec["group"],
        version=version["name"],
        plural=names["plural"],
        kind=names["kind"],
        namespaced=spec.get("scope", "Namespaced") == "Namespaced",
        status_subresource="status" in (version.get("subresources") or {}),
        short_names=tuple(names.get("shortNames") or ()),
        categories=tuple(names.get("categories") or ()),
        schema=CustomResourceSchema.from_crd(crd),
        printer_columns=tuple(version.get("additionalPrinterColumns") or ()),
    )


def our_kinds(crd_dir: Path = REPO / "crds") -> list[Kind]:
    """The AutopackRun and Phase kinds, from the committed CRDs."""
    return [
        custom_kind(yaml.safe_load(path.read_text())) for path in sorted(crd_dir.glob("*.yaml"))
    ]
