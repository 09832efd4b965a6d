"""Build the ``CustomResourceDefinition`` objects from the pydantic models (no I/O).

Kubernetes wants a *structural* OpenAPI v3 schema: every node typed, no ``$ref``, no
``anyOf`` for optionals, no ``additionalProperties: false``, numeric exclusive bounds as booleans.
Pydantic emits JSON Schema 2020-12, so this module rewrites one into the other, adds CEL rules,
list-map markers for conditions, printer columns and names. ``autopack crds`` writes the result
and a test regenerates it to catch drift.
"""

from typing import Any, Final

import yaml
from pydantic import BaseModel

from autopack.api import constants
from autopack.api.phase import PhaseSpec, PhaseStatus
from autopack.api.run import AutopackRunSpec
from autopack.api.runstatus import AutopackRunStatus

JsonDict = dict[str, Any]

_DROPPED_KEYS: Final = frozenset({"title", "$defs"})

# CEL rules keyed by the dotted path of the schema node they sit on ("" is the root). A rule
# on an object names the field it is about (``fieldPath``, relative to that object) and the
# kind of error (``reason``), so kubectl reports "spec.plan: Required value: ..." rather
# than a rule on "spec".
_RUN_RULES: Final[dict[str, list[JsonDict]]] = {
    "": [
        {
            "rule": f"!has(self.metadata.name) || size(self.metadata.name) <= "
            f"{constants.MAX_RUN_NAME_LENGTH}",
            "message": f"metadata.name must be at most {constants.MAX_RUN_NAME_LENGTH} characters "
            "so that child names such as <name>-runner-1 stay valid",
            "reason": "FieldValueInvalid",
        }
    ],
    "spec": [
        {
            "rule": "(has(self.plan) && size(self.plan) > 0) || "
            "(has(self.phases) && size(self.phases) > 0)",
            "message": "give spec.plan (text) or spec.phases (a list); both are empty",
            "fieldPath": ".plan",
            "reason": "FieldValueRequired",
        },
        {
            "rule": "!has(self.repo.pushBranch) || self.repo.pushBranch != self.repo.ref",
            "message": "spec.repo.pushBranch must differ from spec.repo.ref "
            "(the base is never overwritten)",
            "fieldPath": ".repo.pushBranch",
            "reason": "FieldValueInvalid",
        },
        {
            "rule": "!has(self.phases) || self.phases.map(p, has(p.id) ? p.id : '')"
            ".all(i, i == '' || self.phases.exists_one(q, has(q.id) && q.id == i))",
            "message": "phase ids must be unique",
            "fieldPath": ".phases",
            "reason": "FieldValueDuplicate",
        },
    ],
    "spec.repo": [
        {
            "rule": "self.url == oldSelf.url",
            "message": "spec.repo.url is immutable; create a new run for another repository",
            "fieldPath": ".url",
            "reason": "FieldValueInvalid",
        }
    ],
}

_PHASE_RULES: Final[dict[str, list[JsonDict]]] = {
    "spec.runName": [{"rule": "self == oldSelf", "message": "spec.runName is immutable"}],
    "spec.index": [{"rule": "self == oldSelf", "message": "spec.index is immutable"}],
}

_RUN_COLUMNS: Final[list[JsonDict]] = [
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
    {"name": "Progress", "type": "string", "jsonPath": ".status.progress"},
    {
        "name": "Cost",
        "type": "number",
        "jsonPath": ".status.usage.costUSD",
        "description": "Model cost in US dollars",
    },
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    {"name": "Message", "type": "string", "jsonPath": ".status.message"},
    # -o wide adds the model profile, the cost budget and the pull request.
    {"name": "Profile", "type": "string", "jsonPath": ".spec.models.profile", "priority": 1},
    {
        "name": "Budget",
        "type": "number",
        "jsonPath": ".spec.budgets.costUSD",
        "description": "Cost budget in US dollars",
        "priority": 1,
    },
    {
        "name": "Pull Request",
        "type": "string",
        "jsonPath": ".status.result.pullRequest",
        "priority": 1,
    },
]

_PHASE_COLUMNS: Final[list[JsonDict]] = [
    {"name": "Run", "type": "string", "jsonPath": ".spec.runName"},
    {"name": "Index", "type": "integer", "jsonPath": ".spec.index"},
    {"name": "Title", "type": "string", "jsonPath": ".spec.title", "priority": 1},
    {"name": "State", "type": "string", "jsonPath": ".status.state"},
    {"name": "Attempts", "type": "integer", "jsonPath": ".status.attempts"},
    {"name": "Model", "type": "string", "jsonPath": ".status.model", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def _resolve(node: Any, defs: JsonDict) -> Any:
    """Inline ``$ref``s and rewrite one JSON Schema node into its structural form."""
    if isinstance(node, list):
        return [_resolve(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    any_of = node.pop("anyOf", None)
    if any_of is not None:
        non_null = [option for option in any_of if option.get("type") != "null"]
        if len(non_null) != 1:
            raise ValueError(f"cannot express a union of {len(non_null)} types structurally")
        node = {**non_null[0], **node}
        if node.get("default", ...) is None:
            del node["default"]
    ref = node.pop("$ref", None)
    if ref is not None:
        target = defs[ref.rsplit("/", 1)[-1]]
        node = {**target, **node}  # the field's own description wins over the class docstring
    out = _rewrite_keys(node, defs)
    _default_optional_objects(out)
    return out


def _rewrite_keys(node: JsonDict, defs: JsonDict) -> JsonDict:
    out: JsonDict = {}
    for key, value in node.items():
        if key in _DROPPED_KEYS or (key == "additionalProperties" and value is False):
            continue
        if key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            bound = "minimum" if key == "exclusiveMinimum" else "maximum"
            out[bound] = value
            out[key] = True
            continue
        if key == "properties":
            out[key] = {name: _resolve(prop, defs) for name, prop in value.items()}
        elif key in ("items", "additionalProperties"):
            out[key] = _resolve(value, defs)
        else:
            out[key] = value
    return out


def _default_optional_objects(out: JsonDict) -> None:
    if out.get("type") == "object" and "properties" in out:
        required = set(out.get("required", []))
        for name, prop in out["properties"].items():
            # An optional object field whose own fields all have defaults gets ``default: {}``
            # so that the API server applies those nested defaults when the user omits it.
            if (
                prop.get("type") == "object"
                and "properties" in prop
                and name not in required
                and "default" not in prop
                and not prop.get("required")
            ):
                prop["default"] = {}


def structural_schema(model: type[BaseModel]) -> JsonDict:
    """Return the structural OpenAPI v3 schema of a model, aliases as property names."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.get("$defs", {})
    schema: JsonDict = _resolve(raw, defs)
    return schema


def _at(schema: JsonDict, path: str) -> JsonDict:
    node = schema
    for part in filter(None, path.split(".")):
        node = node["properties"][part]
    return node


def _mark_condition_lists(node: Any) -> None:
    if not isinstance(node, dict):
        return
    for name, prop in node.get("properties", {}).items():
        if name == "conditions" and prop.get("type") == "array":
            prop["x-kubernetes-list-type"] = "map"
            prop["x-kubernetes-list-map-keys"] = ["type"]
        _mark_condition_lists(prop)
        _mark_condition_lists(prop.get("items"))


def _root_schema(
    *,
    description: str,
    spec: type[BaseModel],
    status: type[BaseModel],
    rules: dict[str, list[JsonDict]],
) -> JsonDict:
    root: JsonDict = {
        "type": "object",
        "description": description,
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string", "description": "API version of the object."},
            "kind": {"type": "string", "description": "Kind of the object."},
            "metadata": {"type": "object"},
            "spec": structural_schema(spec),
            "status": structural_schema(status),
        },
    }
    _mark_condition_lists(root)
    for path, path_rules in rules.items():
        _at(root, path)["x-kubernetes-validations"] = path_rules
    return root


def _crd(
    *,
    kind: str,
    plural: str,
    singular: str,
    short_names: tuple[str, ...],
    schema: JsonDict,
    columns: list[JsonDict],
) -> JsonDict:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{plural}.{constants.GROUP}",
            "labels": {
                "app.kubernetes.io/name": "autopack",
                "app.kubernetes.io/part-of": "autopack",
            },
        },
        "spec": {
            "group": constants.GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": kind,
                "listKind": f"{kind}List",
                "plural": plural,
                "singular": singular,
                "shortNames": list(short_names),
                "categories": [constants.CATEGORY],
            },
            "versions": [
                {
                    "name": constants.VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def build_run_crd() -> JsonDict:
    """Return the CustomResourceDefinition of ``AutopackRun``."""
    schema = _root_schema(
        description="An autonomous coding run: a repository, a plan and budgets, executed by "
        "one runner Job per launch.",
        spec=AutopackRunSpec,
        status=AutopackRunStatus,
        rules=_RUN_RULES,
    )
    return _crd(
        kind=constants.RUN_KIND,
        plural=constants.RUN_PLURAL,
        singular=constants.RUN_SINGULAR,
        short_names=constants.RUN_SHORT_NAMES,
        schema=schema,
        columns=_RUN_COLUMNS,
    )


def build_phase_crd() -> JsonDict:
    """Return the CustomResourceDefinition of ``Phase``."""
    schema = _root_schema(
        description="One phase of an AutopackRun, created and updated by the run's runner.",
        spec=PhaseSpec,
        status=PhaseStatus,
        rules=_PHASE_RULES,
    )
    return _crd(
        kind=constants.PHASE_KIND,
        plural=constants.PHASE_PLURAL,
        singular=constants.PHASE_SINGULAR,
        short_names=constants.PHASE_SHORT_NAMES,
        schema=schema,
        columns=_PHASE_COLUMNS,
    )


def build_crds() -> dict[str, JsonDict]:
    """Return every CRD keyed by the file name it is written to."""
    return {
        f"{constants.RUN_PLURAL}.{constants.GROUP}.yaml": build_run_crd(),
        f"{constants.PHASE_PLURAL}.{constants.GROUP}.yaml": build_phase_crd(),
    }


GENERATED_HEADER: Final = (
    "# Generated by `autopack crds` from the models in src/autopack/api. Do not edit by hand:\n"
    "# change the models, then run `autopack crds` (a test fails when this file drifts).\n"
)


def render_crds() -> dict[str, str]:
    """Return every CRD as YAML text keyed by file name, exactly as committed in ``crds/``."""
    return {
        name: GENERATED_HEADER + yaml.safe_dump(crd, sort_keys=False, width=100)
        for name, crd in build_crds().items()
    }
