"""What a test run showed about a change, relative to the baseline: the gate's verdict as data."""

from dataclasses import dataclass


@dataclass(frozen=True)
class GateOutcome:
    """The project's tests after a change, relative to the baseline."""

    command: str
    passed: int
    failed: int
    skipped: int = 0
    collection_errors: int = 0
    new_failures: tuple[str, ...] = ()
    flaky: tuple[str, ...] = ()
    failing: tuple[str, ...] = ()
    baseline_failures: int = 0
    blocked: bool = False
    summary: str = ""
    log_excerpt: str = ""
    duration_seconds: float = 0.0
    exit_code: int | None = None

    @property
    def unrunnable(self) -> bool:
        """The command could not start at all (not found, not executable): nothing was tested."""
        return self.exit_code in (126, 127)
