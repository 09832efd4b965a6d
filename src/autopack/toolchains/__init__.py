"""Toolchain adapters: detect Python, Node, Go, Rust and Java projects and run their tests.

``detect`` reads a table of marker files and weights; each detection carries its evidence,
install / build / test commands and how machine-readable results are obtained.
``choose_suite_command`` turns a detection (or the run's overrides) into a runnable test command.
``find_tool`` finds a toolchain's program where its installer put it, on ``PATH`` or not.
"""

from autopack.api import ToolchainSpec
from autopack.toolchains.adapters import (
    MARKERS,
    Detection,
    SuiteCommand,
    detect,
    report_kind,
)
from autopack.toolchains.locating import find_tool


def choose_suite_command(
    detections: list[Detection], overrides: ToolchainSpec | None = None
) -> SuiteCommand | None:
    """Pick the test command: the run's overrides win, else the most confident detection."""
    chosen = detections
    if overrides is not None and overrides.name:
        chosen = [d for d in detections if d.name == overrides.name] or chosen
    best = next((d for d in chosen if d.test), None)
    if overrides is not None and overrides.test:
        working_dir = overrides.working_dir or (best.working_dir if best else "")
        kind = "junit" if "pytest" in overrides.test else "exit-code"
        if best is not None and best.test and best.test in overrides.test:
            kind = report_kind(best)
        return SuiteCommand(overrides.test, working_dir=working_dir.strip("/"), report=kind)
    if best is None or best.test is None:
        return None
    return SuiteCommand(best.test, working_dir=best.working_dir, report=report_kind(best))


__all__ = [
    "MARKERS",
    "Detection",
    "SuiteCommand",
    "choose_suite_command",
    "detect",
    "find_tool",
    "report_kind",
]
