"""Operator benchmark on the emulated cluster, side by side with a bare kopf operator.

    .venv/bin/python benchmarks/cluster.py [--sizes 10,100,300] [--tracked 1000] [--idle 30]
                                           [--demo]

For each size N and each operator (Autopack's, and ``benchmarks/bare_operator.py``: kopf with
its defaults and one creation handler that creates one Job per run), a fresh emulated cluster
gets N AutopackRuns at once. The test kubelet runs every Job with a stand-in runner (a shell
command that writes a succeeded report and exits; the real runner's cost is measured by
benchmarks/engine.py). Printed as JSON, per size and operator:

- create → Job latency p50 / p99, from the API server's change log;
- API writes per run by writer (the operator's are kopf's client plus its own, with a
  breakdown by resource and verb), counted by the API server until the cluster is quiet;
- reconcile passes per second (Autopack's Prometheus histogram);
- operator resident memory when every run has its Job, and after every run finished.

``--tracked`` does the same with that many runs and then reads the operator's CPU while the
finished runs sit idle for ``--idle`` seconds (target: under 2% of a core). ``--demo`` adds one
real two-phase demo run (the runner with the scripted model) for writes per phase by writer.
Timings depend on this shared 2-core machine; the write counts do not.
"""

import argparse
import json
import os
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
from tests.cluster.harness import Cluster, emulated_cluster, free_port  # noqa: E402

REPORT = RunnerReport(state="Succeeded", reason="RunSucceeded", message="stand-in runner").encode()
STAND_IN = ["/bin/sh", "-c", f"printf '%s' '{REPORT}' > \"$AUTOPACK_TERMINATION_LOG\""]
BARE = REPO / "benchmarks" / "bare_operator.py"
OPERATOR_WRITERS = ("kopf", "operator", "client")  # stand-in runners write nothing
TICKS = os.sysconf("SC_CLK_TCK")


def a_run(name: str) -> dict[str, Any]:
    """A minimal AutopackRun."""
    return {
        "apiVersion": "autopack.dev/v1alpha1",
        "kind": "AutopackRun",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"repo": {"url": "https://example.com/repo.git"}, "plan": "benchmark"},
    }


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def scrape(cluster: Cluster, metric: str) -> float:
    """One sample of the Autopack operator's Prometheus endpoint."""
    url = f"http://127.0.0.1:{cluster.metrics_port}/metrics"
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    match = re.search(rf"^{re.escape(metric)} ([0-9.e+]+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def rss_mib(pid: int) -> float:
    """Resident memory of a process."""
    status = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+)", status)
    return round(int(found.group(1)) / 1024, 1) if found else 0.0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def start(cluster: Cluster, mode: str) -> int:
    """Start the operator of ``mode`` against ``cluster``; return its pid."""
    if mode == "autopack":
        cluster.start_operator(verbose=False)
    else:
        liveness = f"http://127.0.0.1:{free_port()}/healthz"
        env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig)}
        with cluster.operator_log.open("ab") as log:
            cluster.operator = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "kopf",
                    "run",
                    "--standalone",
                    "--all-namespaces",
                    f"--liveness={liveness}",
                    str(BARE),
                ],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
    assert cluster.operator is not None
    # A warm-up run proves the operator watches before anything is timed.
    create_all(cluster, [a_run("warm-up")])
    cluster.wait_for("the warm-up Job", lambda: len(job_times(cluster)) == 1, timeout=120)
    return cluster.operator.pid


def create_all(cluster: Cluster, bodies: list[dict[str, Any]]) -> dict[str, float]:
    """Create runs on the API server's loop, in batches; return their creation times."""
    kind = cluster.api.kind("autopack.dev", "v1alpha1", "autopackruns")

    def create(batch: list[dict[str, Any]]) -> dict[str, float]:
        created = {}
        for body in batch:
            cluster.api.store.create(kind, "default", body, source="kubectl")
            created[body["metadata"]["name"]] = time.monotonic()
        return created

    created: dict[str, float] = {}
    for start in range(0, len(bodies), 25):
        batch = bodies[start : start + 25]
        created.update(cluster.call(lambda batch=batch: create(batch)))
    return created


def job_times(cluster: Cluster) -> dict[str, float]:
    """When each run's first Job appeared (from the API server's change log)."""
    key = cluster.api.kind("batch", "v1", "jobs").key

    def read() -> dict[str, float]:
        first: dict[str, float] = {}
        for change in cluster.api.store.log:
            if change.key == key and change.type == "ADDED":
                run = change.obj["metadata"]["labels"]["autopack.dev/run"]
                first.setdefault(run, change.at)
        return first

    return cluster.call(read)


def finished(cluster: Cluster, mode: str) -> int:
    """Runs that are done: Succeeded (Autopack) or whose Job completed (bare kopf)."""
    store = cluster.api.store
    if mode == "autopack":
        kind = cluster.api.kind("autopack.dev", "v1alpha1", "autopackruns")
        runs = cluster.call(lambda: store.list(kind, "default"))
        return sum(1 for r in runs if (r.get("status") or {}).get("phase") == "Succeeded")
    kind = cluster.api.kind("batch", "v1", "jobs")
    jobs = cluster.call(lambda: store.list(kind, "default"))
    return sum(1 for j in jobs if (j.get("status") or {}).get("succeeded"))


def writes(cluster: Cluster) -> Counter[tuple[str, str, str]]:
    """Every write so far by (writer, resource, verb)."""
    return cluster.call(lambda: Counter(cluster.api.store.writes))


def wait_quiet(cluster: Cluster, *, quiet: float = 3.0, limit: float = 60.0) -> None:
    """Wait until nobody has written for ``quiet`` seconds (at most ``limit``)."""
    deadline = time.monotonic() + limit
    last, since = writes(cluster), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.5)
        now = writes(cluster)
        if now != last:
            last, since = now, time.monotonic()


def per_run(delta: Counter[tuple[str, str, str]], runs: int) -> dict[str, Any]:
    """Writes per run by writer, the operator's broken down by resource and verb."""
    by_writer: Counter[str] = Counter()
    operator: Counter[str] = Counter()
    for (source, plural, verb), count in delta.items():
        writer = "operator" if source in OPERATOR_WRITERS else source
        by_writer[writer] += count
        if writer == "operator":
            operator[f"{plural}/{verb}"] += count
    return {
        "by_writer": {k: round(v / runs, 2) for k, v in sorted(by_writer.items())},
        "operator_breakdown": {k: round(v / runs, 2) for k, v in sorted(operator.items())},
    }


def measure(mode: str, size: int, workdir: Path, *, idle: float = 0.0) -> dict[str, Any]:
    """Create ``size`` runs at once under the operator of ``mode`` and follow them."""
    with emulated_cluster(workdir, runner_command=STAND_IN) as cluster:
        pid = start(cluster, mode)
        wait_quiet(cluster)
        before = writes(cluster)
        reconciles = (
            scrape(cluster, "autopack_reconcile_duration_seconds_count")
            if (mode == "autopack")
            else 0.0
        )
        started = time.monotonic()
        names = [f"bench-{i:04d}" for i in range(size)]
        created = create_all(cluster, [a_run(name) for name in names])
        cluster.wait_for(
            f"{size} Jobs",
            lambda: len(job_times(cluster)) == size + 1,
            timeout=120 + 2.0 * size,
        )
        first_job = job_times(cluster)
        latencies = [first_job[name] - at for name, at in created.items() if name in first_job]
        rss_tracked = rss_mib(pid)
        cluster.wait_for(
            f"{size} runs finished",
            lambda: finished(cluster, mode) == size + 1,
            timeout=120 + 2.0 * size,
        )
        elapsed = time.monotonic() - started
        wait_quiet(cluster)
        result: dict[str, Any] = {
            "create_to_job_seconds_p50": round(percentile(latencies, 0.5), 3),
            "create_to_job_seconds_p99": round(percentile(latencies, 0.99), 3),
            "wall_seconds_to_all_finished": round(elapsed, 1),
            "api_writes_per_run": per_run(writes(cluster) - before, size),
            "operator_rss_mib_all_jobs_created": rss_tracked,
            "operator_rss_mib_all_finished": rss_mib(pid),
        }
        if mode == "autopack":
            done = scrape(cluster, "autopack_reconcile_duration_seconds_count") - reconciles
            result["reconciles"] = int(done)
            result["reconciles_per_second"] = round(done / elapsed, 1)
        if idle:
            cpu = cpu_seconds(pid)
            time.sleep(idle)  # a measurement window, not a wait for a condition
            result["idle_cpu_percent_of_a_core"] = round(100 * (cpu_seconds(pid) - cpu) / idle, 2)
        return result


def side_by_side(size: int, workdir: Path, *, idle: float = 0.0) -> dict[str, Any]:
    """Both operators at one size, with Autopack / bare ratios."""
    autopack = measure("autopack", size, workdir / f"autopack-{size}", idle=idle)
    bare = measure("bare", size, workdir / f"bare-{size}", idle=idle)
    ratios = {
        key: round(autopack[key] / bare[key], 2) if bare[key] else None
        for key in (
            "create_to_job_seconds_p50",
            "create_to_job_seconds_p99",
            "operator_rss_mib_all_jobs_created",
            "operator_rss_mib_all_finished",
        )
    }
    row = {"runs": size, "autopack": autopack, "bare_kopf": bare, "autopack_over_bare": ratios}
    print(json.dumps(row), file=sys.stderr, flush=True)  # each size as soon as it is known
    return row


def demo_run_writes(workdir: Path) -> dict[str, Any]:
    """API writes of one real two-phase demo run, per phase and by writer."""
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
        cluster.wait_for("the demo run", lambda: finished(cluster, "autopack") == 1, timeout=600)
        wait_quiet(cluster)
        totals: Counter[str] = Counter()
        for (source, _plural, _verb), count in writes(cluster).items():
            writer = {"kopf": "operator", "client": "runner"}.get(source, source)
            totals[writer] += count
        for outsider in ("kubectl", "bootstrap"):
            totals.pop(outsider, None)
        return {
            "phases": 2,
            "api_writes_by_writer": dict(sorted(totals.items())),
            "api_writes_per_phase_by_writer": {k: v / 2 for k, v in sorted(totals.items())},
        }


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10,100,300")
    parser.add_argument("--tracked", type=int, default=1000, help="0 skips it")
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--demo", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="autopack-operator-bench-") as tmp:
        root = Path(tmp)
        report: dict[str, Any] = {
            "concurrent": [side_by_side(int(n), root) for n in args.sizes.split(",") if n]
        }
        if args.tracked:
            report["tracked"] = side_by_side(args.tracked, root / "tracked", idle=args.idle)
        if args.demo:
            report["demo_run"] = demo_run_writes(root / "demo")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
