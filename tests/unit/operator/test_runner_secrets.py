"""A runner whose Secret is missing in the run's namespace is not started into a stuck pod.

Runner pods read the history database URL and Qdrant's API key through ``secretKeyRef``s in
the run's namespace. Before creating the Job the operator gets those Secrets by name; a missing
Secret or key ends the run with reason RunnerSecretMissing, a message naming the Secret and the
namespace, and a hint, and no Job is created. A namespace where it may not read them (403) is
launched into as before.
"""

from dataclasses import dataclass

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from autopack.api import AutopackRun, AutopackRunStatus, RunPhase, conditions
from autopack.api.conditions import Reason
from autopack.operator import acting
from autopack.operator.config import OperatorConfig
from autopack.operator.decisions import Observed, decide
from autopack.operator.jobs import build_runner_job, runner_secret_keys
from autopack.operator.reconciling import Reconciler, Snapshot
from tests.builders.api import a_run
from tests.builders.k8s import a_job
from tests.unit.operator.test_reconciling import KEY, NOW, FakeApi, run_body

DATABASE = OperatorConfig(database_secret="autopack-db", database_secret_key="DATABASE_URL")
BOTH = OperatorConfig(
    database_secret="autopack-db",
    qdrant_url="http://qdrant:6333",
    qdrant_api_key_secret="qdrant-key",
    qdrant_api_key_key="token",
)


@dataclass
class Response:
    data: str


class FakeSecrets:
    """Reads of Secrets' key names from a dict of (namespace, name) -> keys."""

    def __init__(self, secrets: dict[tuple[str, str], list[str]], status: int = 404) -> None:
        self.secrets = secrets
        self.status = status
        self.reads: list[tuple[str, str]] = []

    def __call__(self, namespace: str, name: str) -> set[str]:
        self.reads.append((namespace, name))
        if (namespace, name) not in self.secrets:
            raise ApiException(status=self.status, reason="NotFound")
        return set(self.secrets[(namespace, name)])


@pytest.fixture
def secrets(monkeypatch: pytest.MonkeyPatch) -> FakeSecrets:
    fake = FakeSecrets({})
    monkeypatch.setattr(acting, "_secret_key_names", fake)
    return fake


def test_runner_env_refers_to_exactly_the_secret_keys_that_are_checked() -> None:
    job = build_runner_job(a_run().obj(), namespace="ns", launch=1, config=BOTH)
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    referred = {
        (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
        for e in env
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert referred == {(k.secret, k.key) for k in runner_secret_keys(BOTH)}
    assert referred == {("autopack-db", "url"), ("qdrant-key", "token")}
    assert runner_secret_keys(OperatorConfig()) == []
    # The database URL's key is configurable (the chart's secrets.database.key).
    [database] = runner_secret_keys(DATABASE)
    assert (database.secret, database.key) == ("autopack-db", "DATABASE_URL")


def test_missing_secrets_and_keys_are_named(secrets: FakeSecrets) -> None:
    secrets.secrets = {("team-a", "qdrant-key"): ["api-key"]}
    missing = acting.missing_runner_secrets("team-a", config=BOTH)
    assert missing == [
        'Secret "autopack-db" (the history database, AUTOPACK_DATABASE_URL)',
        'key "token" in Secret "qdrant-key" (Qdrant\'s API key, AUTOPACK_QDRANT_API_KEY)',
    ]
    secrets.secrets = {("team-a", "autopack-db"): ["url"], ("team-a", "qdrant-key"): ["token"]}
    assert acting.missing_runner_secrets("team-a", config=BOTH) == []
    assert secrets.reads[-2:] == [("team-a", "autopack-db"), ("team-a", "qdrant-key")]


def test_no_configured_secret_means_no_read(secrets: FakeSecrets) -> None:
    assert acting.missing_runner_secrets("team-a", config=OperatorConfig()) == []
    assert secrets.reads == []


def test_a_namespace_the_operator_may_not_read_is_launched_into_unchecked(
    secrets: FakeSecrets,
) -> None:
    secrets.status = 403
    assert acting.missing_runner_secrets("elsewhere", config=BOTH) == []


def test_other_api_errors_are_raised_for_the_pass_to_be_retried(secrets: FakeSecrets) -> None:
    secrets.status = 500
    with pytest.raises(ApiException):
        acting.missing_runner_secrets("team-a", config=DATABASE)


def failed(decision_status: AutopackRunStatus) -> str:
    found = conditions.find_condition(decision_status.conditions, conditions.SUCCEEDED)
    assert found is not None
    return f"{found.status}/{found.reason}"


def test_a_launch_into_a_namespace_without_the_secret_ends_the_run(
    secrets: FakeSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    events: list[tuple[str, str, str]] = []
    monkeypatch.setattr(acting, "create_runner_job", lambda run, **kw: created.append(kw["launch"]))
    monkeypatch.setattr(
        acting,
        "post_event",
        lambda body, *, type, reason, message: events.append((type, reason, message)),
    )
    run = a_run("demo").obj()
    run.metadata.namespace = "team-a"
    run.metadata.generation = 2
    decision = decide(Observed(run=run, jobs=[], pods=[], phases=[], now=NOW), max_launches=3)
    launch = decision.launch  # (not narrowing decision.launch: carry_out changes it)
    assert launch == 1
    acting.carry_out(decision, run=run, body={}, namespace="team-a", config=DATABASE)
    assert created == []
    assert decision.launch is None
    status = decision.status
    assert status.phase == RunPhase.FAILED
    assert status.job_name is None
    assert status.started_at is None
    assert status.finished_at is not None
    assert status.message == (
        'runner not started: namespace team-a lacks Secret "autopack-db" '
        "(the history database, AUTOPACK_DATABASE_URL)"
    )
    assert failed(status) == f"False/{Reason.RUNNER_SECRET_MISSING}"
    assert status.hint is not None
    assert "namespace team-a" in status.hint
    assert "runner.namespaces" in status.hint
    assert "autopack.dev/retry" in status.hint
    assert events == [("Warning", "RunFailed", f"{Reason.RUNNER_SECRET_MISSING}: {status.message}")]


def test_with_the_secret_in_place_the_runner_is_launched(
    secrets: FakeSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    created: list[int] = []
    monkeypatch.setattr(acting, "create_runner_job", lambda run, **kw: created.append(kw["launch"]))
    secrets.secrets = {("team-a", "autopack-db"): ["DATABASE_URL"]}
    run = a_run("demo").obj()
    decision = decide(Observed(run=run, jobs=[], pods=[], phases=[], now=NOW), max_launches=3)
    acting.carry_out(decision, run=run, body={}, namespace="team-a", config=DATABASE)
    assert created == [1]
    assert decision.status.phase == RunPhase.PLANNING


def test_a_relaunch_refused_keeps_the_failure_it_followed(
    secrets: FakeSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, str, str]] = []
    monkeypatch.setattr(acting, "create_runner_job", lambda run, **kw: pytest.fail("created"))
    monkeypatch.setattr(
        acting,
        "post_event",
        lambda body, *, type, reason, message: events.append((type, reason, message)),
    )
    run: AutopackRun = a_run("demo").obj()
    run.status = AutopackRunStatus(phase=RunPhase.RUNNING, job_name="demo-runner-1")
    oom = a_job(state="failed")
    pod = {
        "metadata": {"labels": {"job-name": "demo-runner-1"}},
        "status": {
            "containerStatuses": [
                {"name": "agent", "state": {"terminated": {"reason": "OOMKilled", "exitCode": 137}}}
            ]
        },
    }
    decision = decide(Observed(run=run, jobs=[oom], pods=[pod], phases=[], now=NOW), max_launches=3)
    assert decision.launch == 2
    acting.carry_out(decision, run=run, body={}, namespace="ns", config=DATABASE)
    assert decision.status.phase == RunPhase.FAILED
    assert decision.status.job_name == "demo-runner-1"  # the last Job that ran
    assert [(t, r) for t, r, _ in events] == [("Warning", "OOMKilled"), ("Warning", "RunFailed")]
    assert not events[0][2].endswith("relaunching")


def test_reconciler_writes_the_failure_at_once_keeps_its_hint_and_a_retry_checks_again(
    secrets: FakeSecrets, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeApi()
    monkeypatch.setattr(acting, "create_runner_job", fake.create)
    monkeypatch.setattr(acting, "patch_run_status", fake.patch)
    monkeypatch.setattr(acting, "post_event", lambda body, **kw: fake.events.append(kw["reason"]))
    monkeypatch.setattr(acting, "annotate_run", lambda name, **kw: None)
    reconciler = Reconciler(DATABASE)
    reconciler.reconcile(Snapshot(KEY, run_body()), now=NOW)
    assert fake.jobs == []
    [write] = fake.status_writes
    assert write["phase"] == "Failed"
    assert "autopack-db" in write["message"]
    assert "namespace default" in write["message"]
    hint = write["hint"]
    assert "namespace default" in hint
    # A later pass over the settled run keeps the hint (no default advice written over it).
    settled = run_body(dict(fake.stored), version="11")
    reconciler.reconcile(Snapshot(KEY, settled), now=NOW)
    assert len(fake.status_writes) == 1
    # Once the Secret exists, a retry launches the runner.
    secrets.secrets = {("default", "autopack-db"): ["DATABASE_URL"]}
    retried = run_body(dict(fake.stored), version="12")
    retried["metadata"]["annotations"] = {"autopack.dev/retry": "t1"}
    result = reconciler.reconcile(Snapshot(KEY, retried), now=NOW)
    assert result.decision is not None
    assert result.decision.launch == 1
    assert fake.jobs == ["demo-runner-1"]


def refused_job_creation(monkeypatch: pytest.MonkeyPatch, body: str) -> None:
    """The API server refuses to create the Job with 403 and ``body``."""

    class Refusing:
        def __init__(self, api_client: object) -> None:
            del api_client

        def create_namespaced_job(self, **kwargs: object) -> None:
            error = ApiException(status=403, reason="Forbidden")
            error.body = body
            raise error

    monkeypatch.setattr(acting, "api_client", lambda: None)
    monkeypatch.setattr(client, "BatchV1Api", Refusing)


TERMINATING = (
    '{"kind":"Status","reason":"Forbidden","message":"unable to create new content in namespace '
    'team-a because it is being terminated","details":{"causes":[{"reason":"NamespaceTerminating"}]}}'
)


def test_a_namespace_being_deleted_gets_no_runner_job_and_no_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    run = a_run("demo").obj()
    owner = {"metadata": {"name": "demo", "namespace": "team-a", "uid": "u1"}}
    refused_job_creation(monkeypatch, TERMINATING)
    assert not acting.create_runner_job(
        run, body=owner, namespace="team-a", launch=1, config=OperatorConfig()
    )
    # Any other refusal is still an error the reconcile pass reports.
    refused_job_creation(monkeypatch, '{"kind":"Status","reason":"Forbidden"}')
    with pytest.raises(ApiException):
        acting.create_runner_job(
            run, body=owner, namespace="team-a", launch=1, config=OperatorConfig()
        )
