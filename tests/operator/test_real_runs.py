"""Real runs on the real control plane: real provider profiles, a runner killed mid-phase, a pull
request, and a second run under the same name.

Everything goes through the real ``kubectl``, the real operator process and runner Jobs that the
test kubelet runs as local processes; the model servers and the forge are local HTTP servers
speaking the providers' and the forge's wire formats (``tests/fakes``). Assertions read what a
user reads: the run's status, its Phases, events, ``kubectl describe``, the pushed branch, and
what the servers received.
"""

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.builders.scenario import git
from tests.controlplane.harness import RealCluster
from tests.fakes.forge_server import forge_server
from tests.fakes.llm_servers import Provider, llm_server
from tests.operator import real_runs

# A two-phase run takes minutes on a loaded 2-core machine: every wait is on a condition with a
# generous limit, and the per-test limit leaves room for scenarios that run two of them.
pytestmark = [pytest.mark.slow, pytest.mark.controlplane, pytest.mark.timeout(1800)]

RUN = "textstats-demo"
BRANCH = f"autopack/{RUN}"


@pytest.fixture
def cluster(real_cluster: RealCluster) -> RealCluster:
    """The real control plane's namespace for this test, with the operator running."""
    real_cluster.start_operator()
    return real_cluster


def phase_of(cluster: RealCluster, name: str = RUN) -> str:
    """The run's status.phase."""
    return str(cluster.run_status(name).get("phase", ""))


def wait_phase(cluster: RealCluster, *phases: str, name: str = RUN, timeout: float = 900) -> None:
    """Wait until the run is in one of ``phases``."""
    cluster.wait_for(
        f"{name} in {phases}", lambda: phase_of(cluster, name) in phases, timeout=timeout
    )


def runner_logs(cluster: RealCluster) -> str:
    """Everything the runner pods' containers printed."""
    return "\n".join(
        path.read_text(errors="replace") for path in sorted(cluster.workdir.rglob("*.log"))
    )


def trailers(origin: Path, branch: str, key: str) -> list[str]:
    """Values of trailer ``key`` on ``branch`` of the bare remote, newest first (one per commit)."""
    out = git("log", f"--format=%(trailers:key={key},valueonly)%x1e", branch, cwd=origin)
    return [entry.strip() for entry in out.split("\x1e") if entry.strip()]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_run_with_a_real_provider_profile_succeeds_with_keys_from_a_secret(
    cluster: RealCluster, run_manifest: Callable[..., Path], provider: Provider
) -> None:
    with llm_server(provider) as server:
        real_runs.DemoModel(buggy_first=True).serve(server)
        real_runs.run_succeeds_with_a_real_provider(
            cluster, server=server, base_url=server.base_url, manifest=run_manifest, name=RUN
        )
    # The buggy first answer made the Doctor step in: the whole loop ran on the real wire format.
    roles = [real_runs.role_of(request["body"]) for request in server.requests]
    assert roles.count("doctor") == 1, roles


def test_a_planned_runs_usage_counts_the_planners_call(
    cluster: RealCluster, run_manifest: Callable[..., Path]
) -> None:
    notes = "Add a reading-time estimate, then a command-line entry point that prints it."

    def planned(**spec: Any) -> Path:
        return run_manifest(**spec, phases=[], plan=notes)

    with llm_server("anthropic") as server:
        real_runs.DemoModel().serve(server)
        # status.usage is exactly what the server reported, the planner's call included.
        real_runs.run_succeeds_with_a_real_provider(
            cluster, server=server, base_url=server.base_url, manifest=planned, name=RUN
        )
    roles = [real_runs.role_of(request["body"]) for request in server.requests]
    assert roles[0] == "planner", roles
    plan_usage = cluster.get("phase", f"{RUN}-p00")["status"]["planUsage"]
    assert plan_usage["llmCalls"] == roles.count("planner")
    # Only the first Phase carries it (the API server defaults the field to zeros on the rest).
    later = cluster.get("phase", f"{RUN}-p01")["status"].get("planUsage") or {}
    assert later.get("llmCalls", 0) == 0, later


def test_run_opens_a_pull_request_on_the_forge_with_the_token_from_its_secret(
    cluster: RealCluster, run_manifest: Callable[..., Path]
) -> None:
    token = f"ghp_{secrets.token_hex(16)}"
    cluster.kubectl("create", "secret", "generic", "git-token", f"--from-literal=token={token}")
    with forge_server(token) as (forge_url, forge):
        manifest = run_manifest(
            repo={
                "credentialsSecret": "git-token",
                "pullRequest": {
                    "provider": "github",
                    "apiURL": forge_url,
                    "repository": "team/textstats",
                    "base": "main",
                    "link": "https://autopack.example/runs/textstats-demo",
                },
            }
        )
        cluster.kubectl("apply", "-f", str(manifest))
        wait_phase(cluster, "Succeeded", "Failed")
    status = cluster.run_status(RUN)
    assert status["phase"] == "Succeeded", status

    [pull] = forge.pulls.values()
    assert forge.unauthorized == 0
    assert (pull["head"]["ref"], pull["base"]["ref"]) == (BRANCH, "main")
    assert RUN in pull["title"]
    for summary in (
        "Add a reading-time estimate",
        "Add a command-line entry point",
        "tests before:",
        "tests after:",
        "spend:",
        "https://autopack.example/runs/textstats-demo",
    ):
        assert summary in pull["body"], pull["body"]
    assert status["result"]["pullRequest"] == pull["html_url"]
    assert pull["html_url"] in cluster.kubectl("describe", "autopackrun", RUN)

    shown = "\n".join(
        [
            json.dumps(status),
            cluster.kubectl("get", "aph", "-o", "json"),
            cluster.kubectl("get", "events", "-o", "json"),
            cluster.kubectl("describe", "autopackrun", RUN),
            runner_logs(cluster),
            cluster.operator_log.read_text(errors="replace"),
        ]
    )
    assert token not in shown


def test_second_run_with_the_same_name_does_its_own_work_on_the_same_branch(
    cluster: RealCluster, run_manifest: Callable[..., Path], origin: Path
) -> None:
    manifest = run_manifest()
    cluster.kubectl("apply", "-f", str(manifest))
    wait_phase(cluster, "Succeeded")
    first_uid = cluster.get("autopackrun", RUN)["metadata"]["uid"]
    first_commit = cluster.run_status(RUN)["result"]["commit"]
    assert set(trailers(origin, BRANCH, "Autopack-Run")) == {first_uid}

    cluster.kubectl("delete", "autopackrun", RUN, "--wait=true", "--timeout=300s")
    cluster.wait_for(
        "the first run's Job, pods and Phases gone",
        lambda: not cluster.kubectl("get", "jobs,pods,aph", "-o", "name").strip(),
        timeout=600,
    )
    cluster.kubectl("apply", "-f", str(manifest))
    wait_phase(cluster, "Succeeded", "Failed")
    status = cluster.run_status(RUN)
    assert status["phase"] == "Succeeded", status
    second_uid = cluster.get("autopackrun", RUN)["metadata"]["uid"]
    assert second_uid != first_uid

    # It ran its phases: models were called and each Phase took attempts of its own.
    assert status["usage"]["llmCalls"] > 0
    phases = json.loads(
        cluster.kubectl("get", "aph", "-l", f"autopack.dev/run={RUN}", "-o", "json")
    )
    assert [p["status"]["state"] for p in phases["items"]] == ["Complete", "Complete"]
    assert all(p["status"]["attempts"] >= 1 for p in phases["items"])
    assert all(p["metadata"]["ownerReferences"][0]["uid"] == second_uid for p in phases["items"])
    # The branch now holds this run's commits, one per phase, ending at the reported commit.
    assert status["result"]["commit"] != first_commit
    assert git("rev-parse", BRANCH, cwd=origin).strip() == status["result"]["commit"]
    assert trailers(origin, BRANCH, "Autopack-Run") == [second_uid, second_uid]


# Sized from the demo's calls on claude-haiku-4-5: the check before a Builder call counts about
# 15,000-16,000 tokens (its input's upper bound plus max_tokens) and a call really uses about
# 2,000. The first runner holds a quarter of the budget as phase 0's reservation (no store: the
# Phases are the ledger). Killed after two calls (2,379 tokens), a relaunched runner counts those
# and the reservation it left (B/4): it can still make phase 0's calls (2,379 + B/4 + about
# 15,100 <= B) but must refuse phase 1's Builder call (about 5,300 + B/4 + 15,800 > B). One that
# forgot the first runner's calls or its reservation would finish the run. At B = 25,700 both
# edges are about 1,800 tokens away: if the prompts change by more, resize it from the refusal.
KILL_BUDGET_TOKENS = 25_700


def test_runner_killed_mid_phase_is_relaunched_and_the_run_stays_within_its_budget(
    cluster: RealCluster, run_manifest: Callable[..., Path]
) -> None:
    def third_call(role: str, phase: int, body: dict[str, Any]) -> bool:
        del body
        return (role, phase) == ("builder", 0) and len(model.asked) == 3

    model = real_runs.DemoModel(buggy_first=True, hold=third_call)
    with llm_server("anthropic") as server:
        model.serve(server)
        real_runs.model_keys_secret(cluster, provider="anthropic", base_url=server.base_url)
        manifest = run_manifest(
            models={"profile": "default", "credentialsSecret": "model-keys"},
            budgets={"tokens": KILL_BUDGET_TOKENS},
        )
        cluster.kubectl("apply", "-f", str(manifest))
        # Mid-phase: the Builder's first answer failed the tests, the Doctor answered, the
        # Builder's second call is in flight; the two answered calls are on the Phase.
        cluster.wait_for("the third model call in flight", model.held.is_set, timeout=900)
        cluster.wait_for(
            "phase 0's status to count the two answered calls",
            lambda: phase_usage(cluster, 0).llm_calls == 2,
        )
        before_kill = real_runs.reported_spend(server)
        assert before_kill.llm_calls == 2
        assert phase_usage(cluster, 0) == before_kill
        reserved = KILL_BUDGET_TOKENS // 4  # a quarter of what was left at phase 0's start
        assert phase_ledger(cluster, 0)["reservedTokens"] == reserved
        [pod] = cluster.call(lambda: list(cluster.kubelet.pods))
        cluster.call(lambda: cluster.kubelet.evict(*pod))

        wait_phase(cluster, "Succeeded", "Failed")
        status = cluster.run_status(RUN)
        spent = real_runs.reported_spend(server)
    assert status["runnerRestarts"] == 1
    assert status["jobName"] == f"{RUN}-runner-2"
    # The relaunched runner finished phase 0, then stopped on the budget before phase 1.
    assert (status["phase"], status["progress"]) == ("Failed", "1/2"), status
    succeeded = {c["type"]: c for c in status["conditions"]}["Succeeded"]
    assert succeeded["reason"] == "BudgetExceeded", succeeded
    assert model.asked == [
        ("builder", 0),
        ("doctor", 0),
        ("builder", 0),  # killed in flight
        ("builder", 0),
        ("auditor", 0),
    ]

    # Every answered call is counted once (the killed one was never answered), and the total
    # stays within the budget.
    recorded = real_runs.Spend.of_status(status["usage"])
    assert recorded == spent, f"status.usage {recorded} != what the server answered {spent}"
    assert spent.llm_calls == 4
    assert recorded.tokens <= KILL_BUDGET_TOKENS
    # The first runner's reservation is counted as unrecorded (it may have been spent), on its
    # phase and the run; no reservation is left once the run has ended.
    assert phase_ledger(cluster, 0)["unrecordedTokens"] == reserved
    assert status["budget"]["unrecordedTokens"] == reserved
    assert [phase_ledger(cluster, i).get("reservedTokens") for i in (0, 1)] == [0, 0]
    # The refusal counted both runners' calls and the reservation left behind.
    left = KILL_BUDGET_TOKENS - recorded.tokens - reserved
    assert f"the run has {left:,} tokens" in status["message"], status["message"]
    assert "BudgetExceeded" in cluster.kubectl("describe", "autopackrun", RUN)


def phase_ledger(cluster: RealCluster, index: int) -> dict[str, Any]:
    """What Phase ``index`` counts beyond its usage (``status.ledger``)."""
    phase = cluster.get("phase", f"{RUN}-p{index:02d}")
    return dict((phase.get("status") or {}).get("ledger") or {})


def phase_usage(cluster: RealCluster, index: int) -> real_runs.Spend:
    """What Phase ``index`` of the run says it used."""
    phase = cluster.get("phase", f"{RUN}-p{index:02d}")
    return real_runs.Spend.of_status((phase.get("status") or {}).get("usage") or {})
