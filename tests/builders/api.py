"""Builders for API objects in tests: start from a valid run and change only what matters.

``RunBuilder("demo").phase("Add parser").budget(tokens=5000).dict()`` gives the mapping a user
would write in run.yaml; ``.obj()`` gives the validated model.
"""

import copy
from typing import Any, Self

import yaml

from autopack.api import AutopackRun, Phase, loading


class RunBuilder:
    """Fluent builder of AutopackRun documents (camelCase mappings, as users write them)."""

    def __init__(self, name: str = "demo", *, repo_url: str = "https://example.com/acme/app.git"):
        self._doc: dict[str, Any] = {
            "apiVersion": "autopack.dev/v1alpha1",
            "kind": "AutopackRun",
            "metadata": {"name": name},
            "spec": {"repo": {"url": repo_url}, "phases": []},
        }

    @property
    def spec(self) -> dict[str, Any]:
        """The spec mapping, for direct edits in a test."""
        spec: dict[str, Any] = self._doc["spec"]
        return spec

    def phase(self, title: str, **fields: Any) -> Self:
        """Append a phase with a goal and one deliverable unless given."""
        phase = {"title": title, "goal": f"Do {title.lower()}", "deliverables": ["src/"]}
        phase.update(fields)
        self.spec.setdefault("phases", []).append(phase)
        return self

    def plan(self, text: str) -> Self:
        """Set a free-text plan."""
        self.spec["plan"] = text
        return self

    def budget(self, **budgets: Any) -> Self:
        """Set run budgets (camelCase keys)."""
        self.spec.setdefault("budgets", {}).update(budgets)
        return self

    def set(self, dotted: str, value: Any) -> Self:
        """Set any field by dotted path, creating mappings on the way."""
        node = self._doc
        *parents, last = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[last] = value
        return self

    def unset(self, dotted: str) -> Self:
        """Remove a field by dotted path."""
        node = self._doc
        *parents, last = dotted.split(".")
        for part in parents:
            node = node[part]
        del node[last]
        return self

    def dict(self) -> dict[str, Any]:
        """Return a deep copy of the document."""
        return copy.deepcopy(self._doc)

    def yaml(self) -> str:
        """Return the document as YAML text."""
        return yaml.safe_dump(self._doc, sort_keys=False)

    def obj(self) -> AutopackRun:
        """Return the validated AutopackRun."""
        return loading.parse_run(self.dict(), source="builder")


def a_run(name: str = "demo") -> RunBuilder:
    """Return a builder of a valid run with one phase."""
    return RunBuilder(name).phase("Add a greeting")


def a_phase(run: str = "demo", index: int = 0, **spec: Any) -> Phase:
    """Return a valid Phase object of ``run``."""
    body: dict[str, Any] = {"runName": run, "index": index, "title": f"Phase {index}"}
    body.update(spec)
    return Phase.model_validate(
        {"metadata": {"name": f"{run}-p{index:02d}"}, "spec": body}, by_alias=True
    )
