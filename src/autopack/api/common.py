"""Shared building blocks of the Autopack API types: the base model, metadata, usage, conditions.

Every API model derives from :class:`ApiModel` so that the YAML users write (camelCase), the
JSON the API server stores and the Python attributes (snake_case) map one to one, unknown fields
are rejected, and attribute docstrings become the CRD schema descriptions.
"""

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from autopack.api import constants

TRUNCATED = " … (truncated)"


def truncate(message: str, limit: int) -> str:
    """Cut ``message`` to ``limit`` characters with a visible marker (never reject it)."""
    if len(message) <= limit:
        return message
    return message[: limit - len(TRUNCATED)] + TRUNCATED


class ApiModel(BaseModel):
    """Base of every Autopack API model: camelCase aliases, no unknown fields, documented."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        use_attribute_docstrings=True,
        validate_assignment=True,
    )

    def to_api(self) -> dict[str, Any]:
        """Return the object as the API server stores it: camelCase keys, no unset optionals."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


ShortText = Annotated[str, Field(max_length=256)]
"""A name, title or identifier-like string."""

PathPattern = Annotated[str, Field(min_length=1, max_length=512)]
"""A repository-relative path or directory prefix (ending in ``/``)."""

Command = Annotated[str, Field(min_length=1, max_length=4096)]
"""A shell command line run inside the workspace."""

K8sName = Annotated[str, Field(min_length=1, max_length=253)]
"""The name of a Kubernetes object in the same namespace."""


class ObjectMeta(ApiModel):
    """The subset of Kubernetes object metadata that Autopack reads or sets."""

    model_config = ConfigDict(extra="allow")

    name: (
        Annotated[str, Field(max_length=253, pattern=constants.DNS1123_SUBDOMAIN_PATTERN)] | None
    ) = None
    """Object name: lowercase letters, digits, '-' and '.'."""

    generate_name: str | None = None
    """Prefix from which the API server generates a unique name."""

    namespace: str | None = None
    """Namespace of the object."""

    labels: dict[str, str] = Field(default_factory=dict)
    """Labels of the object."""

    annotations: dict[str, str] = Field(default_factory=dict)
    """Annotations of the object."""

    uid: str | None = None
    """Unique id assigned by the API server."""

    generation: int | None = None
    """Spec generation assigned by the API server."""

    resource_version: str | None = None
    """Opaque version assigned by the API server."""

    creation_timestamp: datetime | None = None
    """Creation time assigned by the API server."""


ConditionStatus = Literal["True", "False", "Unknown"]

CONDITION_TYPE_PATTERN = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?"
    r"(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)


class Condition(ApiModel):
    """One aspect of the object's current state, in the shape of metav1.Condition."""

    type: Annotated[
        str,
        Field(
            max_length=316,
            pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        ),
    ]
    """Condition type in CamelCase, such as Succeeded or Ready."""

    status: ConditionStatus
    """Whether the condition holds: True, False or Unknown."""

    observed_generation: Annotated[int, Field(ge=0)] | None = None
    """The metadata.generation the condition was computed from."""

    last_transition_time: datetime
    """When the status last changed from one value to another."""

    reason: Annotated[
        str,
        Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
    ]
    """Programmatic CamelCase identifier of the last transition's cause."""

    message: Annotated[str, Field(max_length=32768)] = ""
    """Human-readable details of the last transition."""


class Usage(ApiModel):
    """Model usage summed over calls, exactly as the providers reported it."""

    input_tokens: Annotated[int, Field(ge=0)] = 0
    """Input (prompt) tokens billed at the normal rate."""

    output_tokens: Annotated[int, Field(ge=0)] = 0
    """Output (completion) tokens."""

    cache_read_tokens: Annotated[int, Field(ge=0)] = 0
    """Input tokens served from the provider's prompt cache."""

    cache_write_tokens: Annotated[int, Field(ge=0)] = 0
    """Input tokens written to the provider's prompt cache."""

    cost_usd: Annotated[float, Field(ge=0)] = Field(0.0, alias="costUSD")
    """Cost in US dollars computed from config/pricing.yaml."""

    llm_calls: Annotated[int, Field(ge=0)] = 0
    """Number of model calls made."""
