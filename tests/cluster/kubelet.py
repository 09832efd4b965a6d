"""A test kubelet and Job controller: a Job's pod runs as a local process, and status flows back.

What the cluster's Job controller and kubelet do for a runner Job, done for real on this
machine: create the pod (owned by the Job, labelled ``job-name``), run the container's command
as a local process with the container's environment (secret references resolved, ``fieldRef``
for the pod name, emptyDir, Secret and ConfigMap volumes mapped to private directories), enforce
``activeDeadlineSeconds``, honour ``spec.suspend``, kill the process when its pod is deleted,
and on exit write the pod's ``containerStatuses`` (exit code, reason, termination message read
from the termination log, at most 4096 bytes as the kubelet allows) and the Job's conditions
(Complete, or Failed with BackoffLimitExceeded / DeadlineExceeded). A pod whose environment
refers to a missing Secret, ConfigMap or key is not started, as the real kubelet does not start
it: Pending, its container waiting in ``CreateContainerConfigError`` with the kubelet's message
(``pods.config_error``), a ``Failed`` event, tried again whenever a Secret or ConfigMap changes,
deleted when its Job is suspended. It is not a container runtime: the process runs with the
test's user and Python, which is what the in-pod runner needs to be exercised end to end.
"""

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.cluster import pods
from tests.cluster.emulator import FidelityEmulator
from tests.cluster.store import ApiError, Change, now_rfc3339

TERMINATION_MESSAGE_LIMIT = pods.TERMINATION_MESSAGE_LIMIT


@dataclass
class PodProcess:
    """One running pod."""

    namespace: str
    job: str
    pod: str
    process: asyncio.subprocess.Process
    directory: Path
    deadline_task: asyncio.Task[None] | None = None
    ended_by: str | None = None
    sidecars: list[asyncio.subprocess.Process] = field(default_factory=list)


@dataclass
class Kubelet:
    """Runs runner Jobs of the emulated cluster as local processes."""

    api: FidelityEmulator
    workdir: Path
    kubeconfig: Path
    extra_env: dict[str, str] | None = None
    command: list[str] | None = None
    """Run this instead of the container's command (benchmarks use a stand-in runner)."""
    pods: dict[tuple[str, str], PodProcess] = field(default_factory=dict)
    blocked: dict[tuple[str, str], str] = field(default_factory=dict)
    """Pods not started for a missing Secret or key: (namespace, pod) -> their Job's name."""
    _queue: asyncio.Queue[Change] | None = None
    _worker: asyncio.Task[None] | None = None
    _waiters: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self) -> None:
        """Begin reacting to Jobs and pods (call on the cluster's loop)."""
        self._queue = asyncio.Queue()
        self.api.store.on_change.append(self._queue.put_nowait)
        self._worker = asyncio.get_running_loop().create_task(self._work())

    async def stop(self) -> None:
        """Kill every pod process and stop."""
        for pod in list(self.pods.values()):
            self._kill(pod, "KubeletStopped")
        for task in [self._worker, *self._waiters]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # ----- reacting ------------------------------------------------------------------------
    @property
    def _jobs(self) -> Any:
        return self.api.kind("batch", "v1", "jobs")

    @property
    def _pods(self) -> Any:
        return self.api.kind("", "v1", "pods")

    @property
    def _sources(self) -> tuple[Any, ...]:
        return tuple(self.api.kind("", "v1", plural).key for plural in ("secrets", "configmaps"))

    async def _work(self) -> None:
        assert self._queue is not None
        while True:
            change = await self._queue.get()
            try:
                if change.key == self._jobs.key and change.type != "DELETED":
                    await self._sync_job(change.obj)
                elif change.key == self._pods.key and change.type == "DELETED":
                    meta = change.obj["metadata"]
                    self.blocked.pop((meta["namespace"], meta["name"]), None)
                    running = self.pods.get((meta["namespace"], meta["name"]))
                    if running is not None:
                        self._kill(running, "Deleted")
                elif change.key in self._sources and self.blocked:
                    await self._retry_blocked()
            except ApiError:
                continue  # the object went away meanwhile; the next change brings news

    async def _sync_job(self, job: dict[str, Any]) -> None:
        meta, spec, status = job["metadata"], job["spec"], job.get("status") or {}
        namespace, name = meta["namespace"], meta["name"]
        finished = any(
            # FailureTarget / SuccessCriteriaMet: ending (tests/cluster/controllers.py)
            c.get("type") in ("Complete", "Failed", "FailureTarget", "SuccessCriteriaMet")
            and c.get("status") == "True"
            for c in status.get("conditions") or []
        )
        running = [p for p in self.pods.values() if (p.namespace, p.job) == (namespace, name)]
        if finished or meta.get("deletionTimestamp"):
            return
        if spec.get("suspend"):
            for (pod_namespace, pod_name), job_name in list(self.blocked.items()):
                if (pod_namespace, job_name) == (namespace, name):
                    self.blocked.pop((pod_namespace, pod_name), None)
                    with contextlib.suppress(ApiError):
                        self.api.store.delete(self._pods, namespace, pod_name, source="kubelet")
            for pod in running:
                self._kill(pod, "JobSuspended")
                await asyncio.sleep(0)
                with contextlib.suppress(ApiError):
                    self.api.store.delete(self._pods, namespace, pod.pod, source="kubelet")
            self._job_status(job, active=0, condition=("Suspended", "True", "JobSuspended"))
            return
        if running or status.get("active"):
            return
        await self._launch(job)

    # ----- pods ----------------------------------------------------------------------------
    async def _launch(self, job: dict[str, Any]) -> None:
        meta = job["metadata"]
        namespace = meta["namespace"]
        template = job["spec"]["template"]
        suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(5))
        pod_name = f"{meta['name']}-{suffix}"
        labels = {**(template.get("metadata", {}).get("labels") or {}), "job-name": meta["name"]}
        self.api.store.create(
            self._pods,
            namespace,
            {
                "metadata": {
                    "name": pod_name,
                    "labels": labels,
                    "ownerReferences": [
                        {
                            "apiVersion": "batch/v1",
                            "kind": "Job",
                            "name": meta["name"],
                            "uid": meta["uid"],
                            "controller": True,
                            "blockOwnerDeletion": True,
                        }
                    ],
                },
                "spec": template["spec"],
            },
            source="kubelet",
        )
        blocked = pods.blocked_container(self, namespace=namespace, pod_spec=template["spec"])
        if blocked is not None:
            self.blocked[(namespace, pod_name)] = meta["name"]
            self._cannot_create(namespace, pod_name, *blocked, spec=template["spec"])
            self._job_status(job, active=1, start=now_rfc3339())
            return
        await self._start(job, pod_name)

    def _cannot_create(
        self,
        namespace: str,
        pod_name: str,
        container: dict[str, Any],
        message: str,
        *,
        spec: dict[str, Any],
    ) -> None:
        """Say so as the kubelet does: the pod's waiting status and a ``Failed`` event."""
        now = now_rfc3339()
        status = pods.waiting_status(
            container=container,
            reason=pods.CREATE_CONTAINER_CONFIG_ERROR,
            message=message,
            now=now,
            init=container not in spec["containers"],
        )
        self._patch_status(self._pods, namespace, pod_name, status)
        pod = self.api.store.get(self._pods, namespace, pod_name)
        event = pods.failed_event(
            pod, container=container["name"], message=message, node="emulated-node", now=now
        )
        self.api.store.create(self.api.kind("", "v1", "events"), namespace, event, source="kubelet")

    async def _retry_blocked(self) -> None:
        """A Secret or ConfigMap changed: start the pods that no longer miss one."""
        for (namespace, pod_name), job_name in list(self.blocked.items()):
            pod = self.api.store.get(self._pods, namespace, pod_name)
            blocked = pods.blocked_container(self, namespace=namespace, pod_spec=pod["spec"])
            if blocked is None:
                del self.blocked[(namespace, pod_name)]
                await self._start(self.api.store.get(self._jobs, namespace, job_name), pod_name)
            elif blocked[1] != _waiting_message(pod):
                self._cannot_create(namespace, pod_name, *blocked, spec=pod["spec"])

    async def _start(self, job: dict[str, Any], pod_name: str) -> None:
        """Run the pod's containers (its native sidecars first) and say it is Running."""
        meta = job["metadata"]
        namespace = meta["namespace"]
        template = job["spec"]["template"]
        directory = self.workdir / namespace / pod_name
        started_sidecars = []
        for sidecar in pods.sidecars(template["spec"]):
            # Native sidecars start first, without the pod's API credentials (no token).
            side = pods.prepare(
                self,
                namespace=namespace,
                pod_name=pod_name,
                pod_spec=template["spec"],
                directory=directory,
                kubeconfig=None,
                container=sidecar,
            )
            # What each container was given, by name only: the scenarios check the split.
            (directory / f"{side.name}.env-names").write_text("\n".join(sorted(side.env)))
            with (directory / f"{side.name}.log").open("ab") as side_log:
                started_sidecars.append(
                    await asyncio.create_subprocess_exec(
                        *side.command,
                        cwd=side.cwd,
                        env=side.env,
                        stdout=side_log,
                        stderr=asyncio.subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        local = pods.prepare(
            self,
            namespace=namespace,
            pod_name=pod_name,
            pod_spec=template["spec"],
            directory=directory,
            kubeconfig=self.kubeconfig,
            extra_env=self.extra_env,
            command=self.command,
        )
        (directory / f"{local.name}.env-names").write_text("\n".join(sorted(local.env)))
        log = (directory / "container.log").open("ab")
        process = await asyncio.create_subprocess_exec(
            *local.command,
            cwd=local.cwd,
            env=local.env,
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        running = PodProcess(namespace, meta["name"], pod_name, process, directory)
        running.sidecars = started_sidecars
        self.pods[(namespace, pod_name)] = running
        started = now_rfc3339()
        self._patch_status(
            self._pods,
            namespace,
            pod_name,
            {
                "phase": "Running",
                "startTime": started,
                "containerStatuses": [
                    {
                        "name": local.name,
                        "ready": True,
                        "state": {"running": {"startedAt": started}},
                    }
                ],
            },
        )
        job_status = self.api.store.get(self._jobs, namespace, meta["name"]).get("status") or {}
        self._job_status(
            job,
            active=1,
            start=job_status.get("startTime") or started,
            condition=("Suspended", "False", "JobResumed")
            if job_status.get("conditions")
            else None,
        )
        deadline = job["spec"].get("activeDeadlineSeconds")
        if deadline:
            running.deadline_task = asyncio.get_running_loop().create_task(
                self._deadline(running, float(deadline))
            )
        waiter = asyncio.get_running_loop().create_task(self._wait(running, local.name))
        self._waiters.add(waiter)
        waiter.add_done_callback(self._waiters.discard)

    # ----- pods.ObjectSource ------------------------------------------------------------------
    def secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The decoded data of a Secret in the emulator's store (None when missing)."""
        try:
            found = self.api.store.get(self.api.kind("", "v1", "secrets"), namespace, name)
        except ApiError:
            return None
        return pods.secret_data(found)

    def config_map(self, namespace: str, name: str) -> dict[str, str] | None:
        """The data of a ConfigMap in the emulator's store (None when missing)."""
        try:
            found = self.api.store.get(self.api.kind("", "v1", "configmaps"), namespace, name)
        except ApiError:
            return None
        return dict(found.get("data") or {})

    async def _deadline(self, pod: PodProcess, seconds: float) -> None:
        await asyncio.sleep(seconds)
        self._kill(pod, "DeadlineExceeded")

    def _kill(self, pod: PodProcess, reason: str) -> None:
        if pod.process.returncode is None:
            pod.ended_by = pod.ended_by or reason
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pod.process.pid, signal.SIGKILL)

    def evict(self, namespace: str, pod_name: str) -> None:
        """Evict a pod (node pressure): its process dies and the pod says Evicted."""
        self._kill(self.pods[(namespace, pod_name)], "Evicted")

    async def _wait(self, pod: PodProcess, container: str) -> None:
        code = await pod.process.wait()
        for sidecar in pod.sidecars:  # the main container ended: its sidecars are stopped
            with contextlib.suppress(ProcessLookupError):
                os.killpg(sidecar.pid, signal.SIGKILL)
            await sidecar.wait()
        if pod.deadline_task is not None:
            pod.deadline_task.cancel()
        self.pods.pop((pod.namespace, pod.pod), None)
        finished = now_rfc3339()
        status = pods.terminated_status(
            code=code,
            directory=pod.directory,
            container=container,
            ended_by=pod.ended_by,
            finished=finished,
        )
        with contextlib.suppress(ApiError):
            self._patch_status(self._pods, pod.namespace, pod.pod, status)
        if pod.ended_by in ("Deleted", "JobSuspended", "KubeletStopped"):
            return
        try:
            job = self.api.store.get(self._jobs, pod.namespace, pod.job)
        except ApiError:
            return
        if code == 0:
            self._job_status(
                job, active=0, succeeded=1, condition=("Complete", "True", ""), done=finished
            )
        elif pod.ended_by == "DeadlineExceeded":
            self._job_status(
                job,
                active=0,
                failed=1,
                done=None,
                condition=("Failed", "True", "DeadlineExceeded"),
            )
        else:
            self._job_status(
                job,
                active=0,
                failed=1,
                done=None,
                condition=("Failed", "True", "BackoffLimitExceeded"),
            )
        shutil.rmtree(pod.directory / "volumes", ignore_errors=True)

    # ----- status writes -------------------------------------------------------------------
    def _patch_status(self, kind: Any, namespace: str, name: str, status: dict[str, Any]) -> None:
        self.api.store.patch(
            kind, namespace, name, {"status": status}, subresource="status", source="kubelet"
        )

    def _job_status(
        self,
        job: dict[str, Any],
        *,
        active: int,
        succeeded: int = 0,
        failed: int = 0,
        start: str | None = None,
        done: str | None = None,
        condition: tuple[str, str, str] | None = None,
    ) -> None:
        meta = job["metadata"]
        current = self.api.store.get(self._jobs, meta["namespace"], meta["name"])
        status = dict(current.get("status") or {})
        status["active"] = active
        if succeeded:
            status["succeeded"] = succeeded
        if failed:
            status["failed"] = failed
        if start:
            status["startTime"] = start
        if done:
            status["completionTime"] = done
        if condition is not None:
            kind, value, reason = condition
            existing = [c for c in status.get("conditions") or [] if c.get("type") == kind]
            if existing and existing[0].get("status") == value:
                condition = None
        if condition is not None:
            kind, value, reason = condition
            conditions = [c for c in status.get("conditions") or [] if c.get("type") != kind]
            entry = {"type": kind, "status": value, "lastTransitionTime": now_rfc3339()}
            if reason:
                entry["reason"] = reason
            conditions.append(entry)
            status["conditions"] = conditions
        self._patch_status(self._jobs, meta["namespace"], meta["name"], status)


def _waiting_message(pod: dict[str, Any]) -> str | None:
    """The message of the first waiting container of ``pod`` (what the kubelet said last)."""
    status = pod.get("status") or {}
    for container in [
        *(status.get("initContainerStatuses") or []),
        *(status.get("containerStatuses") or []),
    ]:
        waiting = (container.get("state") or {}).get("waiting")
        if waiting:
            return str(waiting.get("message") or "")
    return None
