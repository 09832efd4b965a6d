"""The runner's final word to the operator, carried in the pod's termination message.

The runner may not write the run's status (least privilege), so it states how the run ended —
succeeded, failed with a reason such as ``PlanInvalid``, or waiting for approval — in
``/dev/termination-log``; the operator reads it from the pod and writes the status.
"""

import json
from typing import Annotated, Literal

from pydantic import Field, ValidationError, field_validator

from autopack.api.common import ApiModel, truncate

TERMINATION_LOG = "/dev/termination-log"
MAX_MESSAGE_BYTES = 4096  # Kubernetes keeps at most 4096 bytes of a termination message
MAX_REPORT_MESSAGE = 2048

RunnerState = Literal["Succeeded", "Failed", "AwaitingApproval"]


class RunnerReport(ApiModel):
    """How a runner ended, as the operator needs to know it."""

    state: RunnerState
    """Succeeded, Failed or AwaitingApproval."""

    reason: Annotated[str, Field(max_length=128)]
    """CamelCase reason, such as RunSucceeded, PlanInvalid or HealthBudgetExhausted."""

    message: Annotated[str, Field(max_length=MAX_REPORT_MESSAGE)] = ""
    """Human-readable summary."""

    branch: Annotated[str, Field(max_length=255)] | None = None
    """Work branch holding the result."""

    commit: Annotated[str, Field(max_length=64)] | None = None
    """Last commit pushed."""

    pull_request: Annotated[str, Field(max_length=512)] | None = None
    """URL of the pull request opened or updated for the result."""

    @field_validator("message", mode="before")
    @classmethod
    def _truncate(cls, value: object) -> object:
        """A long message is cut with a marker, never rejected (a report must always be sent)."""
        return truncate(value, MAX_REPORT_MESSAGE) if isinstance(value, str) else value

    def encode(self) -> str:
        """Return compact JSON that fits a termination message."""
        text = json.dumps(self.to_api(), separators=(",", ":"))
        while len(text.encode()) > MAX_MESSAGE_BYTES and self.message:
            self.message = self.message[: len(self.message) // 2]
            text = json.dumps(self.to_api(), separators=(",", ":"))
        return text

    @classmethod
    def decode(cls, text: str | None) -> "RunnerReport | None":
        """Parse a termination message; None when absent or not a report."""
        if not text:
            return None
        try:
            return cls.model_validate(json.loads(text), by_alias=True)
        except (ValueError, ValidationError):
            return None
