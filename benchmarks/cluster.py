"""Operator benchmark, side by side with a bare kopf operator, on the emulator or a real server.

    .venv/bin/python benchmarks/cluster.py [--server emulator|real] [--sizes 10,100,300]
                                           [--tracked 1000] [--idle 30] [--demo]
                                           [--demo-store] [--workdir DIR]

For each size N and each operator (Autopack's, and ``benchmarks/bare_operator.py``: kopf with
its defaults and one creation handler that creates one Job per run), a fresh cluster gets N
AutopackRuns at once. The test kubelet runs every Job with a stand-in runner (a shell command
that writes a succeeded report and exits; the real runner's cost is measured by
benchmarks/engine.py). Printed as JSON, per size and operator:

- create → Job latency p50 / p99;
- API writes per run by writer (operator, runner, controllers, kubelet, user), the operator's
  broken down by resource and verb, counted until the cluster is quiet;
- reconcile passes per second (Autopack's Prometheus histogram);
- operator resident memory when every run has its Job, and after every run finished;
- operator CPU seconds from the runs' creation until every run has its Job, and until the
  cluster is quiet again.

``--server emulator`` (the default) uses the emulated cluster (``tests/cluster/``): a fresh one
per measurement, latencies and writes from its change log. ``--server real`` uses the real
control plane (``tests/controlplane/``, built by ``scripts/build-controlplane.sh``): one
etcd + kube-apiserver + kube-controller-manager for the whole benchmark, a fresh namespace per
measurement, and every figure from the API server's audit log (Metadata level for create,
update, patch, delete): latency from the run's and the Job's creation, writes by user (the
operator as the chart's ``autopack-operator`` ServiceAccount with the chart's RBAC, the bare
operator as a ServiceAccount bound to cluster-admin, the runner as the chart's
``autopack-runner``, the controllers as kube-system ServiceAccounts, the test kubelet and the
benchmark itself as the admin, told apart by resource).

``--tracked`` does the same with that many runs and then reads the operator's CPU while the
finished runs sit idle for ``--idle`` seconds (target: under 2% of a core). ``--demo`` adds one
real two-phase demo run (the runner with the scripted model), created and then deleted, for
writes per phase by writer; ``--demo-store`` the same with the runner recording to a store.
Timings depend on the machine and its load; the write counts do not.
"""

import argparse
import contextlib
import functools
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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))  # the clusters live with the tests

from autopack.api.report import RunnerReport  # noqa: E402
from tests.cluster.harness import Cluster, ClusterUser, emulated_cluster, free_port  # noqa: E402

REPORT = RunnerReport(state="Succeeded", reason="RunSucceeded", message="stand-in runner").encode()
STAND_IN = ["/bin/sh", "-c", f"printf '%s' '{REPORT}' > \"$AUTOPACK_TERMINATION_LOG\""]
BARE = REPO / "benchmarks" / "bare_operator.py"
CASSETTE = REPO / "examples" / "demo" / "cassette.yaml"
TICKS = os.sysconf("SC_CLK_TCK")
Writes = Counter[tuple[str, str, str]]
"""Writes by (writer, resource, verb)."""


def a_run(name: str, namespace: str = "default") -> dict[str, Any]:
    """A minimal AutopackRun."""
    return {
        "apiVersion": "autopack.dev/v1alpha1",
        "kind": "AutopackRun",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"repo": {"url": "https://example.com/repo.git"}, "plan": "benchmark"},
    }


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def scrape(cluster: ClusterUser, metric: str) -> float:
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


def start_bare(cluster: ClusterUser, kubeconfig: Path, namespace: str | None) -> None:
    """Start the bare kopf operator against ``cluster`` as ``kubeconfig``'s user."""
    liveness = f"http://127.0.0.1:{free_port()}/healthz"
    scope = f"--namespace={namespace}" if namespace else "--all-namespaces"
    env = {**os.environ, "KUBECONFIG": str(kubeconfig)}
    with cluster.operator_log.open("ab") as log:
        cluster.operator = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "kopf",
                "run",
                "--standalone",
                scope,
                f"--liveness={liveness}",
                str(BARE),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


class Bench(Protocol):
    """One cluster under one operator, as a measurement sees it."""

    namespace: str

    @property
    def cluster(self) -> ClusterUser:
        """The cluster (operator process, kubectl, waiting)."""
        ...

    def start(self, mode: str) -> int:
        """Start the operator of ``mode``; return its pid."""
        ...

    def create_all(self, bodies: list[dict[str, Any]]) -> dict[str, float]:
        """Create runs at once; return their creation times."""
        ...

    def job_times(self) -> dict[str, float]:
        """When each run's first Job was created (same clock as creation times)."""
        ...

    def finished(self, mode: str) -> int:
        """Runs that are done: Succeeded (Autopack) or whose Job completed (bare kopf)."""
        ...

    def writes(self) -> Writes:
        """Every write so far in the measurement's namespace."""
        ...


# ----- the emulated cluster -----------------------------------------------------------------
EMULATED_WRITERS = {
    # The operator writes through kopf and its own client (User-Agent autopack-operator); the
    # bare operator's kubernetes client says OpenAPI-Generator ("client"), as does the runner.
    "kopf": "operator",
    "operator": "operator",
    "kubectl": "user",
    "bootstrap": "user",
}


class EmulatedBench:
    """A measurement on a fresh emulated cluster (the kubelet's writes are not counted)."""

    namespace = "default"

    def __init__(self, cluster: Cluster, *, client_is: str = "operator") -> None:
        self.emulated = cluster
        self.client_is = client_is

    @property
    def cluster(self) -> Cluster:
        return self.emulated

    def start(self, mode: str) -> int:
        if mode == "autopack":
            self.cluster.start_operator(verbose=False)
        else:
            start_bare(self.cluster, self.cluster.kubeconfig, None)
        assert self.cluster.operator is not None
        return self.cluster.operator.pid

    def create_all(self, bodies: list[dict[str, Any]]) -> dict[str, float]:
        """Create runs on the API server's loop, in batches of 25."""
        cluster = self.cluster
        kind = cluster.api.kind("autopack.dev", "v1alpha1", "autopackruns")

        def create(batch: list[dict[str, Any]]) -> dict[str, float]:
            created = {}
            for body in batch:
                cluster.api.store.create(kind, "default", body, source="kubectl")
                created[body["metadata"]["name"]] = time.monotonic()
            return created

        created: dict[str, float] = {}
        for first in range(0, len(bodies), 25):
            batch = bodies[first : first + 25]
            created.update(cluster.call(functools.partial(create, batch)))
        return created

    def job_times(self) -> dict[str, float]:
        """From the API server's change log."""
        cluster = self.cluster
        key = cluster.api.kind("batch", "v1", "jobs").key

        def read() -> dict[str, float]:
            first: dict[str, float] = {}
            for change in cluster.api.store.log:
                if change.key == key and change.type == "ADDED":
                    run = change.obj["metadata"]["labels"]["autopack.dev/run"]
                    first.setdefault(run, change.at)
            return first

        return cluster.call(read)

    def finished(self, mode: str) -> int:
        cluster = self.cluster
        store = cluster.api.store
        if mode == "autopack":
            kind = cluster.api.kind("autopack.dev", "v1alpha1", "autopackruns")
            runs = cluster.call(lambda: store.list(kind, "default"))
            return sum(1 for r in runs if (r.get("status") or {}).get("phase") == "Succeeded")
        kind = cluster.api.kind("batch", "v1", "jobs")
        jobs = cluster.call(lambda: store.list(kind, "default"))
        return sum(1 for j in jobs if (j.get("status") or {}).get("succeeded"))

    def writes(self) -> Writes:
        raw = self.cluster.call(lambda: Counter(self.cluster.api.store.writes))
        named: Writes = Counter()
        for (source, plural, verb), count in raw.items():
            writer = EMULATED_WRITERS.get(source, self.client_is if source == "client" else source)
            named[(writer, plural, verb)] += count
        return named


class Emulator:
    """The emulated cluster: a fresh one per measurement."""

    name = "emulator"

    @contextlib.contextmanager
    def bench(
        self, workdir: Path, *, runner_env: dict[str, str] | None = None, demo: bool = False
    ) -> Iterator[Bench]:
        command = None if demo else STAND_IN
        with emulated_cluster(workdir, runner_env=runner_env, runner_command=command) as cluster:
            yield EmulatedBench(cluster, client_is="runner" if demo else "operator")


# ----- the real control plane ---------------------------------------------------------------
SYSTEM_NAMESPACE = "autopack-system"
AUTOPACK_OPERATOR = "autopack-operator"
BARE_OPERATOR = "bare-operator"
RUNNER = "autopack-runner"
KUBELET_RESOURCES = frozenset(
    {"pods", "pods/binding", "pods/status", "serviceaccounts/token", "nodes", "nodes/status"}
)


class AuditLog:
    """The API server's audit log read as it grows: completed writes in one namespace."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.events: list[dict[str, Any]] = []

    def read(self) -> list[dict[str, Any]]:
        """Every completed write so far (new lines parsed on each call)."""
        if self.path.exists():
            with self.path.open("rb") as log:
                log.seek(self.offset)
                data = log.read()
            end = data.rfind(b"\n") + 1  # a line still being written waits for the next call
            self.offset += end
            for line in data[:end].splitlines():
                if line.strip():
                    event = json.loads(line)
                    if event.get("stage") == "ResponseComplete":
                        self.events.append(event)
        return self.events


def writer_of(event: dict[str, Any], namespace: str) -> str:
    """Who made an audited write: operator, runner, controllers, kubelet, user or the user name."""
    user = str(event["user"]["username"])
    ref = event.get("objectRef") or {}
    resource = "/".join(str(part) for part in (ref.get("resource"), ref.get("subresource")) if part)
    if user in (
        f"system:serviceaccount:{SYSTEM_NAMESPACE}:{AUTOPACK_OPERATOR}",
        f"system:serviceaccount:{SYSTEM_NAMESPACE}:{BARE_OPERATOR}",
    ):
        return "operator"
    if user == f"system:serviceaccount:{namespace}:{RUNNER}":
        return "runner"
    if user.startswith("system:serviceaccount:kube-system:") or user.startswith("system:kube-"):
        return "controllers"
    if not user.startswith("system:"):  # the admin: the test kubelet, or the benchmark itself
        return "kubelet" if resource in KUBELET_RESOURCES else "user"
    return user


def _stamp(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(str(event["stageTimestamp"]).replace("Z", "+00:00")).timestamp()


class RealBench:
    """A measurement in a fresh namespace of the real control plane."""

    def __init__(self, server: "RealServer", cluster: ClusterUser, namespace: str) -> None:
        self.server = server
        self.real = cluster
        self.namespace = namespace
        self.api = server.plane.client()

    @property
    def cluster(self) -> ClusterUser:
        return self.real

    def start(self, mode: str) -> int:
        if mode == "autopack":
            self.cluster.start_operator(verbose=False)
        else:
            start_bare(self.cluster, self.server.bare_kubeconfig, self.namespace)
        assert self.cluster.operator is not None
        return int(self.cluster.operator.pid)

    def _mine(self) -> list[dict[str, Any]]:
        return [
            event
            for event in self.server.audit.read()
            if (event.get("objectRef") or {}).get("namespace") == self.namespace
            and int((event.get("responseStatus") or {}).get("code") or 0) < 300
        ]

    def create_all(self, bodies: list[dict[str, Any]]) -> dict[str, float]:
        """Create runs from eight threads; their creation times come from the audit log."""
        path = f"/apis/autopack.dev/v1alpha1/namespaces/{self.namespace}/autopackruns"
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda body: self.api.request("POST", path, body), bodies))
        names = {body["metadata"]["name"] for body in bodies}
        created = self._created("autopackruns", lambda name: name)
        return {name: at for name, at in created.items() if name in names}

    def _created(self, resource: str, run_of: Callable[[str], str]) -> dict[str, float]:
        first: dict[str, float] = {}
        for event in self._mine():
            ref = event.get("objectRef") or {}
            if event["verb"] == "create" and ref.get("resource") == resource and ref.get("name"):
                first.setdefault(run_of(str(ref["name"])), _stamp(event))
        return first

    def job_times(self) -> dict[str, float]:
        return self._created("jobs", lambda name: name.rsplit("-runner-", 1)[0])

    def finished(self, mode: str) -> int:
        if mode == "autopack":
            path = f"/apis/autopack.dev/v1alpha1/namespaces/{self.namespace}/autopackruns"
            runs = self.api.request("GET", path).get("items") or []
            return sum(1 for r in runs if (r.get("status") or {}).get("phase") == "Succeeded")
        jobs = self.api.request("GET", f"/apis/batch/v1/namespaces/{self.namespace}/jobs")
        return sum(1 for j in jobs.get("items") or [] if (j.get("status") or {}).get("succeeded"))

    def writes(self) -> Writes:
        counts: Writes = Counter()
        for event in self._mine():
            ref = event.get("objectRef") or {}
            resource = str(ref.get("resource") or "")
            if ref.get("subresource"):
                resource = f"{resource}/{ref['subresource']}"
            counts[(writer_of(event, self.namespace), resource, str(event["verb"]))] += 1
        return counts


class RealServer:
    """One real control plane for the whole benchmark; a namespace per measurement."""

    name = "real"

    def __init__(self, workdir: Path) -> None:
        # Imported here: the emulator mode needs none of it (nor the built binaries).
        from tests.controlplane.harness import RealCluster  # noqa: PLC0415
        from tests.controlplane.server import ControlPlane, locate_binaries  # noqa: PLC0415
        from tests.controlplane.tools import Tool, find_tool  # noqa: PLC0415

        self.real_cluster = RealCluster
        self.workdir = workdir
        binaries = locate_binaries()
        if binaries.missing():
            sys.exit("the control plane is not built: run scripts/build-controlplane.sh")
        kubectl, helm = find_tool("kubectl"), find_tool("helm")
        if kubectl is None or helm is None:
            sys.exit("kubectl and helm are needed: scripts/install-kubectl.sh, install-helm.sh")
        self.plane = ControlPlane(workdir / "plane", binaries, audit=True).start()
        home = workdir / "home"
        home.mkdir(parents=True, exist_ok=True)
        self.kubectl = Tool(kubectl, self.plane.kubeconfig, home=home)
        self.helm = Tool(helm, self.plane.kubeconfig, home=home)
        self.audit = AuditLog(self.plane.audit_log)
        self.count = 0
        try:
            self._install()
        except BaseException:
            self.plane.stop()
            raise

    def _install(self) -> None:
        crds = REPO / "crds"
        self.kubectl("apply", "-f", str(crds))
        self.kubectl(
            "wait",
            "--for=condition=Established",
            "--timeout=120s",
            "crd/autopackruns.autopack.dev",
            "crd/phases.autopack.dev",
        )
        self.kubectl("create", "namespace", SYSTEM_NAMESPACE)
        for account in (AUTOPACK_OPERATOR, BARE_OPERATOR):
            self.kubectl("create", "serviceaccount", account, "-n", SYSTEM_NAMESPACE)
        self.kubectl(
            "create",
            "clusterrolebinding",
            BARE_OPERATOR,
            "--clusterrole=cluster-admin",
            f"--serviceaccount={SYSTEM_NAMESPACE}:{BARE_OPERATOR}",
        )
        token = self.kubectl(
            "create", "token", BARE_OPERATOR, "-n", SYSTEM_NAMESPACE, "--duration=12h"
        ).strip()
        self.bare_kubeconfig = self.plane.token_kubeconfig(
            self.workdir / "bare.kubeconfig", token=token
        )

    def stop(self) -> None:
        """Stop the control plane."""
        self.plane.stop()

    def _namespace(self) -> str:
        """A fresh namespace with the chart's RBAC (the operator's, and its runner's there)."""
        self.count += 1
        name = f"bench-{self.count}"
        self.kubectl("create", "namespace", name)
        rendered = self.helm(
            "template",
            "autopack",
            str(REPO / "charts" / "autopack"),
            "--namespace",
            SYSTEM_NAMESPACE,
            "--set",
            f"runner.namespaces={{{name}}}",
            "--show-only",
            "templates/rbac.yaml",
        )
        self.kubectl("apply", "-f", "-", input=rendered)
        return name

    @contextlib.contextmanager
    def bench(
        self, workdir: Path, *, runner_env: dict[str, str] | None = None, demo: bool = False
    ) -> Iterator[Bench]:
        namespace = self._namespace()
        cluster = self.real_cluster(
            workdir,
            control_plane=self.plane,
            kubectl=self.kubectl,
            namespace=namespace,
            operator_service_account=(SYSTEM_NAMESPACE, AUTOPACK_OPERATOR),
            runner_env=runner_env,
            runner_command=None if demo else STAND_IN,
        ).start()
        try:
            if demo:
                config_map = {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "metadata": {"name": "autopack-cassette", "namespace": namespace},
                    "data": {"cassette.yaml": CASSETTE.read_text()},
                }
                cluster.kubectl("apply", "-f", "-", input=json.dumps(config_map))
            yield RealBench(self, cluster, namespace)
        finally:
            # The namespace stays (deleting it would load the server during the next
            # measurement); the control plane goes at the end.
            cluster.stop()


Server = Emulator | RealServer


# ----- measuring ----------------------------------------------------------------------------
def wait_quiet(bench: Bench, *, quiet: float = 3.0, limit: float = 60.0) -> None:
    """Wait until nobody has written for ``quiet`` seconds (at most ``limit``)."""
    deadline = time.monotonic() + limit
    last, since = bench.writes(), time.monotonic()
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.5)
        now = bench.writes()
        if now != last:
            last, since = now, time.monotonic()


def per_run(delta: Writes, runs: int) -> dict[str, Any]:
    """Writes per run by writer, the operator's broken down by resource and verb."""
    by_writer: Counter[str] = Counter()
    operator: Counter[str] = Counter()
    for (writer, resource, verb), count in delta.items():
        by_writer[writer] += count
        if writer == "operator":
            operator[f"{resource}/{verb}"] += count
    return {
        "by_writer": {k: round(v / runs, 2) for k, v in sorted(by_writer.items())},
        "operator_breakdown": {k: round(v / runs, 2) for k, v in sorted(operator.items())},
    }


def measure(
    server: Server, mode: str, size: int, workdir: Path, *, idle: float = 0.0
) -> dict[str, Any]:
    """Create ``size`` runs at once under the operator of ``mode`` and follow them."""
    with server.bench(workdir) as bench:
        cluster = bench.cluster
        pid = bench.start(mode)
        # A warm-up run proves the operator watches before anything is timed.
        bench.create_all([a_run("warm-up", bench.namespace)])
        cluster.wait_for("the warm-up Job", lambda: len(bench.job_times()) == 1, timeout=120)
        wait_quiet(bench)
        before = bench.writes()
        metric = "autopack_reconcile_duration_seconds_count"
        reconciles = scrape(cluster, metric) if mode == "autopack" else 0.0
        started, cpu_started = time.monotonic(), cpu_seconds(pid)
        names = [f"bench-{i:04d}" for i in range(size)]
        created = bench.create_all([a_run(name, bench.namespace) for name in names])
        cluster.wait_for(
            f"{size} Jobs",
            lambda: len(bench.job_times()) == size + 1,
            timeout=120 + 2.0 * size,
        )
        first_job = bench.job_times()
        latencies = [first_job[name] - at for name, at in created.items() if name in first_job]
        rss_tracked, cpu_jobs = rss_mib(pid), cpu_seconds(pid) - cpu_started
        cluster.wait_for(
            f"{size} runs finished",
            lambda: bench.finished(mode) == size + 1,
            timeout=120 + 2.0 * size,
        )
        elapsed = time.monotonic() - started
        wait_quiet(bench)
        result: dict[str, Any] = {
            "create_to_job_seconds_p50": round(percentile(latencies, 0.5), 3),
            "create_to_job_seconds_p99": round(percentile(latencies, 0.99), 3),
            "wall_seconds_to_all_finished": round(elapsed, 1),
            "operator_cpu_seconds_until_all_jobs": round(cpu_jobs, 2),
            "operator_cpu_seconds_until_all_finished": round(cpu_seconds(pid) - cpu_started, 2),
            "api_writes_per_run": per_run(bench.writes() - before, size),
            "operator_rss_mib_all_jobs_created": rss_tracked,
            "operator_rss_mib_all_finished": rss_mib(pid),
        }
        if mode == "autopack":
            done = scrape(cluster, metric) - reconciles
            result["reconciles"] = int(done)
            result["reconciles_per_second"] = round(done / elapsed, 1)
        if idle:
            cpu = cpu_seconds(pid)
            time.sleep(idle)  # a measurement window, not a wait for a condition
            result["idle_cpu_percent_of_a_core"] = round(100 * (cpu_seconds(pid) - cpu) / idle, 2)
            result["operator_rss_mib_after_idle"] = rss_mib(pid)
        return result


def side_by_side(server: Server, size: int, workdir: Path, *, idle: float = 0.0) -> dict[str, Any]:
    """Both operators at one size, with Autopack / bare ratios."""
    autopack = measure(server, "autopack", size, workdir / f"autopack-{size}", idle=idle)
    bare = measure(server, "bare", size, workdir / f"bare-{size}", idle=idle)
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


def per_writer(writes: Writes) -> Counter[str]:
    """Writes by writer alone."""
    totals: Counter[str] = Counter()
    for (writer, _resource, _verb), count in writes.items():
        totals[writer] += count
    return totals


def demo_run_writes(server: Server, workdir: Path, *, store: bool = False) -> dict[str, Any]:
    """API writes of one real two-phase demo run, created then deleted, per phase by writer.

    Without a store the Phases are the run's ledger: the runner writes usage before each model
    request. With ``store`` the runner records to a SQLite store and coalesces progress.
    """
    project = workdir / "project"
    shutil.copytree(REPO / "examples" / "demo" / "project", project)
    git = ["git", "-c", "user.name=Bench", "-c", "user.email=b@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-qm", "init"], cwd=project, check=True)
    origin = workdir / "origin.git"
    subprocess.run([*git, "clone", "-q", "--bare", str(project), str(origin)], check=True)
    run = yaml.safe_load((REPO / "examples" / "demo" / "run.yaml").read_text())
    run["spec"]["repo"]["url"] = str(origin)
    name = run["metadata"]["name"]
    runner_env = {"AUTOPACK_CASSETTE": str(CASSETTE)}
    if store:
        runner_env["AUTOPACK_DATABASE_URL"] = f"sqlite:///{workdir / 'runs.db'}"
    with server.bench(workdir / "cluster", runner_env=runner_env, demo=True) as bench:
        cluster = bench.cluster
        bench.start("autopack")
        wait_quiet(bench)
        before = bench.writes()  # the namespace's set-up is not the run's
        cluster.kubectl("apply", "--validate=false", "-f", "-", input=json.dumps(run))
        cluster.wait_for("the demo run", lambda: bench.finished("autopack") == 1, timeout=600)
        wait_quiet(bench)
        finished = bench.writes() - before
        cluster.kubectl("delete", "autopackrun", name, "-n", bench.namespace)
        wait_quiet(bench)
        totals: Counter[str] = Counter()
        by_resource: dict[str, Counter[str]] = {}
        for (writer, resource, verb), count in (bench.writes() - before).items():
            totals[writer] += count
            by_resource.setdefault(writer, Counter())[f"{resource}/{verb}"] += count
        for outsider in ("user",):
            totals.pop(outsider, None)
            by_resource.pop(outsider, None)
        return {
            "phases": 2,
            "runner_store": "sqlite" if store else None,
            "api_writes_by_writer": dict(sorted(totals.items())),
            "api_writes_per_phase_by_writer": {k: v / 2 for k, v in sorted(totals.items())},
            "api_writes_until_finished": dict(sorted(per_writer(finished).items())),
            "breakdown": {k: dict(sorted(v.items())) for k, v in sorted(by_resource.items())},
        }


def main() -> None:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--server", choices=["emulator", "real"], default="emulator")
    parser.add_argument("--sizes", default="10,100,300")
    parser.add_argument("--tracked", type=int, default=1000, help="0 skips it")
    parser.add_argument("--idle", type=float, default=30.0)
    parser.add_argument("--demo", action="store_true")
    parser.add_argument("--demo-store", action="store_true", help="the demo again, with a store")
    parser.add_argument("--workdir", type=Path, help="keep logs here (default: a temporary one)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        if args.workdir:
            root = args.workdir.resolve()
            root.mkdir(parents=True, exist_ok=True)
        else:
            root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="autopack-bench-")))
        server: Server = RealServer(root / "server") if args.server == "real" else Emulator()
        try:
            report: dict[str, Any] = {
                "server": args.server,
                "concurrent": [
                    side_by_side(server, int(n), root) for n in args.sizes.split(",") if n
                ],
            }
            if args.tracked:
                report["tracked"] = side_by_side(
                    server, args.tracked, root / "tracked", idle=args.idle
                )
            if args.demo:
                report["demo_run"] = demo_run_writes(server, root / "demo")
            if args.demo_store:
                report["demo_run_with_store"] = demo_run_writes(
                    server, root / "demo-store", store=True
                )
        finally:
            if isinstance(server, RealServer):
                server.stop()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
