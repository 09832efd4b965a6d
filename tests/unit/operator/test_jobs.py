from autopack.api import Toleration
from autopack.operator.config import OperatorConfig
from autopack.operator.jobs import build_runner_job
from tests.builders.api import a_run

CONFIG = OperatorConfig(database_secret="autopack-db")


def container(job: dict) -> dict:  # type: ignore[type-arg]
    return job["spec"]["template"]["spec"]["containers"][0]  # type: ignore[no-any-return]


def test_runner_job_is_named_labelled_and_runs_the_runner() -> None:
    job = build_runner_job(a_run("demo").obj(), namespace="team", launch=2, config=CONFIG)
    assert job["metadata"]["name"] == "demo-runner-2"
    assert job["metadata"]["labels"]["autopack.dev/run"] == "demo"
    assert container(job)["command"] == ["autopack", "runner", "--run", "team/demo"]
    assert job["spec"]["backoffLimit"] == 0
    assert job["spec"]["activeDeadlineSeconds"] == 6 * 3600
    assert job["spec"]["suspend"] is False


def test_runner_job_for_a_retry_carries_its_token() -> None:
    first = build_runner_job(a_run().obj(), namespace="ns", launch=1, config=CONFIG)
    retried = build_runner_job(a_run().obj(), namespace="ns", launch=2, config=CONFIG, retry="t1")
    assert "autopack.dev/retry-handled" not in first["metadata"]["annotations"]
    assert retried["metadata"]["annotations"]["autopack.dev/retry-handled"] == "t1"


def test_runner_pod_is_locked_down() -> None:
    job = build_runner_job(a_run().obj(), namespace="ns", launch=1, config=CONFIG)
    security = container(job)["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes["workspace"]
    mounts = {m["mountPath"] for m in container(job)["volumeMounts"]}
    assert {"/workspace", "/tmp"} <= mounts


def test_secrets_reach_the_runner_without_values_in_the_spec() -> None:
    run = (
        a_run()
        .set("spec.repo.credentialsSecret", "git-token")
        .set("spec.models.credentialsSecret", "llm-keys")
        .obj()
    )
    job = build_runner_job(run, namespace="ns", launch=1, config=CONFIG)
    env = {e["name"]: e for e in container(job)["env"]}
    assert env["AUTOPACK_DATABASE_URL"]["valueFrom"]["secretKeyRef"] == {
        "name": "autopack-db",
        "key": "url",
    }
    assert container(job)["envFrom"] == [{"secretRef": {"name": "llm-keys"}}]
    git = next(m for m in container(job)["volumeMounts"] if m["name"] == "git-credentials")
    assert git["readOnly"] is True
    # Optional, so that a missing Secret is told by the runner, not a pod stuck mounting it.
    [volume] = [v for v in job["spec"]["template"]["spec"]["volumes"] if v["name"] == git["name"]]
    assert volume["secret"] == {"secretName": "git-token", "defaultMode": 0o400, "optional": True}


def test_scheduling_and_resources_come_from_the_run() -> None:
    run = a_run().obj()
    run.spec.runner.node_selector = {"pool": "agents"}
    run.spec.runner.tolerations = [Toleration(key="agents", operator="Exists", effect="NoSchedule")]
    run.spec.runner.resources.limits = {"memory": "8Gi"}
    run.spec.runner.image = "registry.local/runner:1"
    run.spec.runner.service_account_name = "custom-sa"
    job = build_runner_job(run, namespace="ns", launch=1, config=CONFIG)
    pod = job["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"pool": "agents"}
    assert pod["tolerations"] == [{"key": "agents", "operator": "Exists", "effect": "NoSchedule"}]
    assert pod["serviceAccountName"] == "custom-sa"
    assert container(job)["image"] == "registry.local/runner:1"
    assert container(job)["resources"]["limits"]["memory"] == "8Gi"
    assert container(job)["resources"]["requests"]["cpu"] == "500m"


def test_kueue_mode_creates_a_suspended_job_with_the_queue_label() -> None:
    run = a_run().obj()
    run.spec.runner.queue_name = "team-queue"
    job = build_runner_job(run, namespace="ns", launch=1, config=CONFIG)
    assert job["spec"]["suspend"] is True
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team-queue"
    assert "kueue.x-k8s.io/queue-name" not in job["spec"]["template"]["metadata"]["labels"]


def test_cluster_defaults_give_a_kueue_queue_and_mount_the_config_map() -> None:
    config = OperatorConfig(default_queue_name="team", config_map="autopack-config")
    job = build_runner_job(a_run().obj(), namespace="ns", launch=1, config=config)
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "team"
    assert job["spec"]["suspend"] is True
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "AUTOPACK_CONFIG_DIR", "value": "/etc/autopack"} in container["env"]
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    assert mounts["config"]["readOnly"] is True


def test_scripted_runs_replay_the_cassette_config_map() -> None:
    run = a_run().set("spec.models.profile", "scripted").obj()
    job = build_runner_job(run, namespace="ns", launch=1, config=OperatorConfig())
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AUTOPACK_CASSETTE"] == "/etc/autopack-cassette/cassette.yaml"
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes["cassette"]["configMap"]["name"] == "autopack-cassette"


def test_the_sandbox_container_has_no_secret_and_no_token() -> None:
    run = (
        a_run("demo")
        .set("spec.repo.credentialsSecret", "git-creds")
        .set("spec.models.credentialsSecret", "model-keys")
        .obj()
    )
    pod = build_runner_job(run, namespace="ns", launch=1, config=CONFIG)["spec"]["template"]["spec"]
    [sandbox] = pod["initContainers"]
    [agent] = pod["containers"]
    assert sandbox["name"] == "sandbox"
    assert sandbox["restartPolicy"] == "Always"  # a native sidecar: it ends with the agent
    assert pod["automountServiceAccountToken"] is False
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret_volumes = {name for name, v in volumes.items() if "secret" in v or "projected" in v}
    assert secret_volumes == {"git-credentials", "token"}
    assert not {m["name"] for m in sandbox["volumeMounts"]} & secret_volumes
    assert "envFrom" not in sandbox
    assert all("valueFrom" not in variable for variable in sandbox.get("env", []))
    assert {m["name"] for m in agent["volumeMounts"]} >= {"git-credentials", "token"}
    assert agent["envFrom"] == [{"secretRef": {"name": "model-keys"}}]
    token = volumes["token"]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["path"] == "token"
    # Its own user, the agent's group (the workspace is shared through it), a read-only root.
    assert sandbox["securityContext"]["runAsUser"] != agent["securityContext"]["runAsUser"]
    assert sandbox["securityContext"]["runAsGroup"] == agent["securityContext"]["runAsGroup"]
    assert sandbox["securityContext"]["readOnlyRootFilesystem"] is True
    shared = {m["mountPath"] for m in sandbox["volumeMounts"]} & {
        m["mountPath"] for m in agent["volumeMounts"]
    }
    assert {"/workspace", "/run/autopack"} <= shared
    socket = next(v["value"] for v in agent["env"] if v["name"] == "AUTOPACK_SANDBOX_SOCKET")
    assert socket in sandbox["command"]


def test_qdrant_url_and_api_key_reach_the_agent_only() -> None:
    config = OperatorConfig(
        qdrant_url="http://autopack-dev-qdrant.autopack.svc:6333",
        qdrant_api_key_secret="qdrant",
        qdrant_api_key_key="token",
    )
    pod = build_runner_job(a_run().obj(), namespace="ns", launch=1, config=config)["spec"][
        "template"
    ]["spec"]
    [sandbox] = pod["initContainers"]
    [agent] = pod["containers"]
    env = {e["name"]: e for e in agent["env"]}
    assert env["AUTOPACK_QDRANT_URL"]["value"] == "http://autopack-dev-qdrant.autopack.svc:6333"
    assert env["AUTOPACK_QDRANT_API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "qdrant",
        "key": "token",
    }
    assert not [e for e in sandbox.get("env", []) if "QDRANT" in e["name"]]


def test_without_a_qdrant_server_runners_get_no_qdrant_settings() -> None:
    keyless = OperatorConfig(qdrant_api_key_secret="qdrant")  # a key without a URL is unused
    for config in (CONFIG, keyless):
        agent = container(build_runner_job(a_run().obj(), namespace="ns", launch=1, config=config))
        assert not [e for e in agent["env"] if "QDRANT" in e["name"]]
