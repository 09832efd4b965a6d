"""The runner's whole life in a pod: read the run, clone, plan into Phases, execute, report.

Exit codes: 0 succeeded, 1 failed (the report says why: PlanInvalid, PhaseFailed,
BudgetExceeded, HealthBudgetExhausted, ...), 2 waiting for approval. The report also goes to
the termination message, where the operator reads it. A new runner resumes from the pushed
work branch, so it never redoes completed phases.
"""

import logging
import os
from pathlib import Path

from autopack import settings
from autopack.api.report import TERMINATION_LOG, RunnerReport
from autopack import events
from autopack.workspace.git import WorkspaceError
from autopack.engine.wiring import open_local_session
from autopack.store.sink import StoreSink
from autopack.engine.running import RunOutcome
from autopack.llm.scripted import CassetteError
from autopack.planning import PlanInvalidError, PlanUnusableError
from autopack.runner import kube
from autopack.runner.status_sink import KubernetesStatusSink
from autopack.store import Store, StoreUnavailableError

log = logging.getLogger(__name__)


def write_report(report: RunnerReport) -> None:
    """Write the report where Kubernetes reads termination messages."""
    path = Path(os.environ.get("AUTOPACK_TERMINATION_LOG", TERMINATION_LOG))
    try:
        path.write_text(report.encode(), encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the termination message to %s: %s", path, exc)


def _store_sink(
    run_id: str,
    *,
    name: str,
    namespace: str,
    run_spec: dict[str, object],
    repo_url: str,
    ref: str,
    branch: str,
) -> StoreSink | None:
    """A store sink that writes the run row with RunStarted (queued if the database is down)."""
    url = settings.get_settings().database_url
    if not url:
        return None
    row = {
        "name": name,
        "namespace": namespace,
        "source": "kubernetes",
        "repo_url": repo_url,
        "base_ref": ref,
        "push_branch": branch,
        "spec": run_spec,
    }
    try:
        store = Store.open(url)
    except StoreUnavailableError as exc:
        log.warning("run store unavailable, its rows are queued until it answers: %s", exc)
        try:
            store = Store.lazy(url)
        except StoreUnavailableError:
            return None  # an unusable URL: the run proceeds without history
    return StoreSink(store, run_id=run_id, run_row=row)


def run_in_cluster(reference: str) -> int:
    """Execute the run ``NAMESPACE/NAME`` and return the exit code.

    An unexpected error still ends with a report (reason ``RunnerError``), so the operator
    tells users what broke instead of "stopped without a report".
    """
    namespace, name = kube.parse_reference(reference)
    try:
        return _execute(namespace, name)
    except Exception as exc:
        log.exception("the runner failed")
        message = f"{type(exc).__name__}: {exc}"[:1000]
        write_report(RunnerReport(state="Failed", reason="RunnerError", message=message))
        return 1


def _execute(namespace: str, name: str) -> int:
    kube.load_credentials()
    run, body = kube.read_run(namespace, name)
    run_id = str(body["metadata"]["uid"])
    cassette = os.environ.get("AUTOPACK_CASSETTE")
    if not cassette:
        report = RunnerReport(
            state="Failed",
            reason="ProviderUnavailable",
            message="this runner has only the scripted provider: set "
            "AUTOPACK_CASSETTE to a recorded cassette",
        )
        write_report(report)
        return 1
    store_sink = _store_sink(
        run_id,
        name=name,
        namespace=namespace,
        run_spec=run.to_api()["spec"],
        repo_url=run.spec.repo.url,
        ref=run.spec.repo.ref,
        branch=run.push_branch,
    )
    status_sink = KubernetesStatusSink(
        namespace=namespace, run_name=name, patch=kube.patch_phase_status
    )
    sinks = events.FanOut([status_sink, *([store_sink] if store_sink else [])])
    workdir = settings.get_settings().resolved_workdir
    try:
        session = open_local_session(
            run,
            run_id=run_id,
            repo_url=run.spec.repo.url,
            workdir=workdir,
            cassette=Path(cassette),
            emit=sinks.emit,
        )
    except (WorkspaceError, CassetteError) as exc:
        write_report(RunnerReport(state="Failed", reason="CloneFailed", message=str(exc)))
        return 1
    session.start(resumed_phases=len(session.ports.workspace.completed_phases()))
    try:
        plan = session.normalize()
    except (PlanInvalidError, PlanUnusableError) as exc:
        outcome = session.finish(session_failed(str(exc)))
        write_report(RunnerReport(state="Failed", reason="PlanInvalid", message=outcome.message))
        return 1
    for index, definition in enumerate(plan.phases):
        kube.ensure_phase(
            kube.build_phase_object(
                run=run, run_body=body, namespace=namespace, index=index, definition=definition
            )
        )
    outcome = session.execute(approved=kube.approved_phases(namespace, name))
    if store_sink is not None:
        store_sink.flush()
    write_report(
        RunnerReport(
            state=outcome.state,
            reason=outcome.reason,
            message=outcome.message,
            branch=run.push_branch,
            commit=outcome.commit,
        )
    )
    return outcome.exit_code


def session_failed(message: str) -> RunOutcome:
    """A PlanInvalid outcome with the preflight's message."""
    return RunOutcome("Failed", "PlanInvalid", f"PlanInvalid: {message}")
