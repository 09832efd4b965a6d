"""Operator benchmark against the emulated cluster: latency, throughput, API writes, memory.

    .venv/bin/python benchmarks/cluster.py [--sizes 10,100,500] [--tracked 1000]

For each size N, N AutopackRuns are created at once; the test kubelet runs each runner Job
with a stand-in runner (a shell command that writes a succeeded report and exits; the real
runner's cost is measured by benchmarks/engine.py), and the script waits until all runs are
Succeeded. It prints JSON with: create-to-Job latency p50 / p99 (from the API server's change
log), reconcile passes per second (the operator's own Prometheus histogram), API writes per
run lifecycle by writer (a machine-independent figure), and wall time. One real demo run (the
runner executing two phases with the scripted model) gives API writes per phase. Finally the
operator's resident memory is read with ``--tracked`` suspended runs in its indexes.

Figures depend on this shared 2-core machine; the API-write counts do not.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the emulated cluster lives with the tests

from autopack.api.report import RunnerReport  # noqa: E402
from tests.cluster.harness import Cluster, emulated_cluster  # noqa: E402

REPORT = RunnerReport(state="Succeeded", reason="RunSucceeded", message="stand-in runner").encode()
STAND_IN = ["/bin/sh", "-c", f"printf '%s' '{REPORT}' > \"$AUTOPACK_TERMINATION_LOG\""]


def a_run(name: str, *, suspend: bool = False) -> dict[str, Any]:
    """A minimal AutopackRun."""
    return {
        "apiVersion": "autopack.dev/v1alpha1",
        "kind": "AutopackRun",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {
            "repo": {"url": "https://example.com/repo.git"},
            "plan": "benchmark",
            "suspend": suspend,
        },
    }


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def scrape(cluster: Cluster, metric: str) -> float:
    """One sample of the operator's Prometheus endpoint."""
    url = f"http://127.0.0.1:{cluster.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    match = re.search(rf"^{re.escape(metric)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def create_all(cluster: Cluster, bodies: list[dict[str, Any]]) -> dict[str, float]:
    """Create runs in one go on the API server's loop; return their creation times."""
    kind = cluster.api.kind("autopack.dev", "v1alpha1", "autopackruns")

    def create() -> dict[str, float]:
        created = {}
        for body in bodies:
            cluster.api.store.create(kind, "default", body, source="kubectl")
            created[body["metadata"]["name"]] = time.monotonic()
        return created

    return cluster.call(create)


def succeeded(cluster: Cluster) -> int:
    """How many runs are Succeeded."""
    kind = cluster.api.kind("autopack.dev", "v1alpha1", "autopackruns")
    runs = cluster.call(lambda: cluster.api.store.list(kind, "default"))
    return sum(1 for r in runs if (r.get("status") or {}).get("phase") == "Succeeded")


def writes_by_writer(cluster: Cluster) -> dict[str, int]:
    """API writes (create / patch / update / delete requests) per writer."""
    totals: Counter[str] = Counter()
    for (source, _plural, _verb), count in cluster.api.store.writes.items():
        totals[source] += count
    return dict(totals)


def concurrent_runs(size: int, workdir: Path) -> dict[str, Any]:
    """Create ``size`` runs at once and follow them to Succeeded."""
    with emulated_cluster(workdir, runner_command=STAND_IN) as cluster:
        cluster.start_operator(verbose=False, reconcile_interval_seconds="2")
        cluster.wait_for("the operator", lambda: scrape(cluster, "autopack_queue_depth") >= 0)
        before = scrape(cluster, "autopack_reconcile_duration_seconds_count")
        started = time.monotonic()
        created = create_all(cluster, [a_run(f"bench-{i:04d}") for i in range(size)])
        cluster.wait_for(
            f"{size} runs Succeeded", lambda: succeeded(cluster) == size, timeout=60 + 2.0 * size
        )
        elapsed = time.monotonic() - started
        reconciles = scrape(cluster, "autopack_reconcile_duration_seconds_count") - before
        job_key = cluster.api.kind("batch", "v1", "jobs").key
        first_job: dict[str, float] = {}
        for change in list(cluster.api.store.log):
            if change.key == job_key and change.type == "ADDED":
                run = change.obj["metadata"]["labels"]["autopack.dev/run"]
                first_job.setdefault(run, change.at)
        latencies = [first_job[name] - at for name, at in created.items() if name in first_job]
        writes = writes_by_writer(cluster)
        return {
            "runs": size,
            "wall_seconds": round(elapsed, 1),
            "create_to_job_seconds_p50": round(percentile(latencies, 0.5), 3),
            "create_to_job_seconds_p99": round(percentile(latencies, 0.99), 3),
            "reconciles_per_second": round(reconciles / elapsed, 1),
            "api_writes_per_run": {k: round(v / size, 1) for k, v in sorted(writes.items())},
        }


def demo_run_writes(workdir: Path) -> dict[str, Any]:
    """API writes of one real two-phase demo run, per phase."""
    project = workdir / "project"
    shutil.copytree(REPO / "examples" / "demo" / "project", project)
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=b@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=project, check=True)
    origin = workdir / "origin.git"
    subprocess.run([*git, "clone", "-q", "--bare", str(project), str(origin)], check=True)
    manifest = (REPO / "examples" / "demo" / "run.yaml").read_text()
    manifest = manifest.replace("url: ./project", f"url: {origin}")
    cassette = str(REPO / "examples" / "demo" / "cassette.yaml")
    with emulated_cluster(
        workdir / "cluster", runner_env={"AUTOPACK_CASSETTE": cassette}
    ) as cluster:
        cluster.start_operator(verbose=False)
        cluster.kubectl("apply", "--validate=false", "-f", "-", input=manifest)
        cluster.wait_for("the demo run", lambda: succeeded(cluster) == 1, timeout=180)
        phase_writes = sum(
            n for (_s, plural, _v), n in cluster.api.store.writes.items() if plural == "phases"
        )
        writes = writes_by_writer(cluster)
        writes.pop("kubectl", None)
        writes.pop("bootstrap", None)
        return {
            "phases": 2,
            "api_writes_total": writes,
            "api_writes_per_phase_on_phase_objects": phase_writes / 2,
            "api_writes_per_phase_all": round(sum(writes.values()) / 2, 1),
        }


def tracked_memory(count: int, workdir: Path) -> dict[str, Any]:
    """Operator resident memory with ``count`` (suspended) runs in its indexes."""
    with emulated_cluster(workdir, runner_command=STAND_IN) as cluster:
        cluster.start_operator(verbose=False, reconcile_interval_seconds="30")
        create_all(cluster, [a_run(f"tracked-{i:04d}", suspend=True) for i in range(count)])
        cluster.wait_for(
            f"{count} runs Suspended",
            lambda: scrape(cluster, 'autopack_runs{phase="Suspended"}') == count,
            timeout=120 + count * 0.2,
        )
        assert cluster.operator is not None
        status = Path(f"/proc/{cluster.operator.pid}/status").read_text()
        rss_kib = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
        return {"runs_tracked": count, "operator_rss_mib": round(rss_kib / 1024, 1)}


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500")
    parser.add_argument("--tracked", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autopack-operator-bench-") as tmp:
        root = Path(tmp)
        report: dict[str, Any] = {
            "concurrent": [
                concurrent_runs(int(size), root / f"c{size}") for size in args.sizes.split(",")
            ],
            "demo_run": demo_run_writes(root / "demo"),
            "memory": tracked_memory(args.tracked, root / "memory"),
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
