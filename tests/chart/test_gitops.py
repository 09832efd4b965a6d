"""GitOps health: the Argo CD Lua check and kstatus (Flux) read our runs correctly.

The Lua health check shipped in the chart is executed with a real Lua interpreter (``lupa``)
on fixture objects whose status is exactly what the operator writes (a test below regenerates
them with the operator's own condition function). kstatus has no Python port; its generic
rules (sigs.k8s.io/cli-utils/pkg/kstatus/status: a stale observedGeneration or
Reconciling=True is InProgress, Stalled=True is Failed, anything else is Current) are
written out here and applied to every run phase the operator produces.
"""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lupa
import pytest
import yaml

from autopack.api import AutopackRunStatus, RunPhase
from autopack.operator.status import set_run_conditions

REPO = Path(__file__).resolve().parents[2]
HEALTH_LUA = REPO / "charts" / "autopack" / "files" / "argocd" / "health.lua"
FIXTURES = sorted((Path(__file__).parent / "fixtures" / "argocd").glob("*.yaml"))


def argocd_health(obj: dict[str, Any]) -> dict[str, str]:
    """Run the chart's Lua health check on ``obj`` as Argo CD does (``obj`` global)."""
    runtime = lupa.LuaRuntime(unpack_returned_tuples=True)
    to_lua = runtime.eval(
        "function(convert) local function walk(v) "
        "if python.builtins.isinstance(v, python.builtins.dict) then local t = {} "
        "for k, x in python.iter(v) do t[k] = walk(v[k]) end return t "
        "elseif python.builtins.isinstance(v, python.builtins.list) then local t = {} "
        "for i, x in python.enumerate(v) do t[i + 1] = walk(x) end return t "
        "else return v end end return walk(convert) end"
    )
    runtime.globals().obj = to_lua(obj)
    result = runtime.execute(HEALTH_LUA.read_text())
    return {"status": str(result["status"]), "message": str(result["message"])}


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_argocd_health_of_each_fixture(fixture: Path) -> None:
    case = yaml.safe_load(fixture.read_text())
    assert argocd_health(case["object"]) == case["expected"]


def test_fixtures_cover_the_states_users_see() -> None:
    assert {p.stem for p in FIXTURES} >= {
        "running",
        "succeeded",
        "failed",
        "suspended",
        "awaiting-approval",
    }


@pytest.mark.parametrize("fixture", FIXTURES, ids=lambda p: p.stem)
def test_fixtures_hold_what_the_operator_writes(fixture: Path) -> None:
    case = yaml.safe_load(fixture.read_text())
    written = case["object"]["status"]
    status = AutopackRunStatus(
        phase=RunPhase(written["phase"]), message=written["message"], observed_generation=2
    )
    reason = written["conditions"][0]["reason"]
    now = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    set_run_conditions(status, reason=reason, message=written["message"], now=now, generation=2)
    assert status.to_api() == written


def test_a_spec_change_not_yet_observed_is_progressing() -> None:
    case = yaml.safe_load((FIXTURES[0].parent / "succeeded.yaml").read_text())
    case["object"]["metadata"]["generation"] = 3
    assert argocd_health(case["object"])["status"] == "Progressing"
    assert argocd_health({"metadata": {"name": "new"}})["status"] == "Progressing"


def kstatus(obj: dict[str, Any]) -> str:
    """kstatus's generic status of an object with conditions."""
    status = obj.get("status") or {}
    generation = obj.get("metadata", {}).get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and observed is not None and observed < generation:
        return "InProgress"
    conditions = {c["type"]: c["status"] for c in status.get("conditions") or []}
    if conditions.get("Reconciling") == "True":
        return "InProgress"
    if conditions.get("Stalled") == "True":
        return "Failed"
    return "Current"


KSTATUS = {
    RunPhase.PENDING: "InProgress",
    RunPhase.QUEUED: "InProgress",
    RunPhase.PLANNING: "InProgress",
    RunPhase.RUNNING: "InProgress",
    RunPhase.SUCCEEDED: "Current",
    RunPhase.FAILED: "Failed",
    # Waiting on a person is a steady state: a Flux sync is not held for hours.
    RunPhase.SUSPENDED: "Current",
    RunPhase.AWAITING_APPROVAL: "Current",
}


@pytest.mark.parametrize("phase", list(KSTATUS), ids=lambda p: p.value)
def test_kstatus_reads_each_run_phase(phase: RunPhase) -> None:
    status = AutopackRunStatus(phase=phase, observed_generation=1)
    set_run_conditions(status, reason=phase.value, message="", now=datetime.now(UTC), generation=1)
    obj = {"metadata": {"generation": 1}, "status": status.to_api()}
    assert kstatus(obj) == KSTATUS[phase]
    ready = {c["type"]: c["status"] for c in obj["status"]["conditions"]}["Ready"]
    assert (ready == "True") == (phase == RunPhase.SUCCEEDED)
