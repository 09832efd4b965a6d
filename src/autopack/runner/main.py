"""The runner's whole life in a pod: read the run, open its session, create Phases, report.

Exit codes: 0 succeeded or waiting for approval (the report says which), 1 failed (the
report says why: PlanInvalid, PhaseFailed, BudgetExceeded, HealthBudgetExhausted,
InternalError, ...). The
report also goes to the termination message, where the operator reads it. A new runner
resumes from the pushed work branch and continues the attempt numbering of the Phases, so it
never redoes completed phases nor rewrites their history. The session is the same one
``autopack run`` uses (:func:`autopack.engine.wiring.open_session`): a cassette when
``AUTOPACK_CASSETTE`` names one, otherwise the run's model profile with real providers.
"""

import hashlib
import logging
import os
from decimal import Decimal
from pathlib import Path

from autopack import events, redaction, settings
from autopack.api import AutopackRun, RunPhase
from autopack.api.conditions import Reason
from autopack.api.report import TERMINATION_LOG, RunnerReport
from autopack.engine.wiring import SessionOptions, open_session
from autopack.events import RunOutcome
from autopack.llm.scripted import CassetteError
from autopack.planning import NormalizedPlan
from autopack.runner import kube
from autopack.runner.reserving import Amount
from autopack.runner.status_sink import KubernetesStatusSink
from autopack.store import Store, StoreUnavailableError, records
from autopack.store.notes import notes_reader
from autopack.store.sink import StoreSink
from autopack.workspace import WorkspaceError, display_url, mounted_credentials

log = logging.getLogger(__name__)

# Set in the agent container of a runner pod: the sandbox container serves commands there.
SANDBOX_SOCKET_ENV = "AUTOPACK_SANDBOX_SOCKET"


def write_report(report: RunnerReport) -> None:
    """Write the report where Kubernetes reads termination messages."""
    path = Path(os.environ.get("AUTOPACK_TERMINATION_LOG", TERMINATION_LOG))
    try:
        path.write_text(report.encode(), encoding="utf-8")
    except OSError as exc:
        log.warning("cannot write the termination message to %s: %s", path, exc)


def report_of(outcome: RunOutcome, *, branch: str | None) -> RunnerReport:
    """The report of a finished session: state, reason and message kept apart."""
    return RunnerReport(
        state=outcome.state.value,
        reason=outcome.reason,
        message=redaction.redact(outcome.message),
        branch=branch,
        commit=outcome.commit,
        pull_request=outcome.pull_request,
    )


def _store_sink(run: AutopackRun, *, run_id: str, namespace: str) -> StoreSink | None:
    """A store sink that writes the run row with RunStarted (queued if the database is down)."""
    url = settings.get_settings().database_url
    if not url:
        return None
    row = {
        "name": run.name,
        "namespace": namespace,
        "source": "kubernetes",
        "repo_url": display_url(run.spec.repo.url),
        "base_ref": run.spec.repo.ref,
        "push_branch": run.push_branch,
        "spec": run.to_api()["spec"],
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


def _record_annotation(store_sink: StoreSink, *, run_id: str, text: str) -> None:
    """Record the ``autopack.dev/note`` annotation as the run's note (once per text)."""
    key = "annotation:" + hashlib.sha256(text.encode()).hexdigest()[:32]
    try:
        with store_sink.store.session() as session:
            records.add_note(
                session, run_id=run_id, text=text, author="kubectl", source="annotation", key=key
            )
    except (StoreUnavailableError, ValueError) as exc:
        log.warning("the note annotation was not recorded: %s", exc)


Spent = tuple[int, Decimal]


def _larger(one: Spent, other: Spent) -> Spent:
    return max(one[0], other[0]), max(one[1], other[1])


def _spent(
    store_sink: StoreSink | None, *, run_id: str, earlier: kube.Recorded
) -> tuple[Spent, dict[int, Spent]]:
    """What the run and each phase spent before this runner (store ledger, or the Phases).

    Both are read when both exist and the larger is used, so a relaunched runner never
    starts below what was really spent.
    """
    recorded, by_phase = earlier.spend(), earlier.phase_spend()
    if store_sink is None:
        return recorded, by_phase
    try:
        with store_sink.store.session() as session:
            ledger = records.run_spend(session, run_id=run_id)
            ledger_by_phase = records.phase_spend(session, run_id=run_id)
    except StoreUnavailableError as exc:
        log.warning("the run's ledger is unavailable, using its Phases' usage: %s", exc)
        return recorded, by_phase
    phases = {
        index: _larger(
            ledger_by_phase.get(index, (0, Decimal(0))), by_phase.get(index, (0, Decimal(0)))
        )
        for index in {*ledger_by_phase, *by_phase}
    }
    return _larger(ledger, recorded), phases


def run_in_cluster(reference: str) -> int:
    """Execute the run ``NAMESPACE/NAME`` and return the exit code.

    An error outside the session (reading the run, the API) still ends with a report
    (reason ``InternalError``), so the operator tells users what broke.
    """
    namespace, name = kube.parse_reference(reference)
    try:
        return _execute(namespace, name)
    except Exception as exc:
        log.exception("the runner failed")
        message = redaction.redact(f"{type(exc).__name__}: {exc}")
        write_report(RunnerReport(state="Failed", reason=Reason.INTERNAL_ERROR, message=message))
        return 1


def _missing_git_credentials(run: AutopackRun, namespace: str) -> str | None:
    """What is wrong with ``spec.repo.credentialsSecret`` as mounted (None: nothing)."""
    secret = run.spec.repo.credentials_secret
    if not secret or mounted_credentials() is not False:
        return None
    return (
        f"spec.repo.credentialsSecret names Secret {secret!r}, but namespace {namespace!r} has "
        "no such Secret, or it holds none of the keys token, password or ssh-privatekey"
    )


def _execute(namespace: str, name: str) -> int:
    kube.load_credentials()
    run, body = kube.read_run(namespace, name)
    missing = _missing_git_credentials(run, namespace)
    if missing is not None:
        write_report(RunnerReport(state="Failed", reason=Reason.CLONE_FAILED, message=missing))
        return 1
    run_id = str(body["metadata"]["uid"])
    store_sink = _store_sink(run, run_id=run_id, namespace=namespace)
    # What earlier runners of this run recorded on its Phases: this runner adds to it.
    earlier = kube.recorded(namespace, name, run_id)
    budgets = run.spec.budgets
    status_sink = KubernetesStatusSink(
        namespace=namespace,
        run_name=name,
        patch=kube.patch_phase_status,
        spent=earlier.usage,
        announce=lambda type, reason, message: kube.post_run_event(
            body, type=type, reason=reason, message=message
        ),
        # While no store holds every call, the Phases are the ledger: phases hold reservations.
        budget=Amount(budgets.tokens, Decimal(str(budgets.cost_usd))),
        durable=(lambda: not store_sink.pending) if store_sink else None,
        unrecorded=earlier.unrecorded,
        planned=earlier.planning,
    )
    # The store first: the status sink then knows whether it took the event's call.
    sinks = events.FanOut([*([store_sink] if store_sink else []), status_sink])
    cassette = os.environ.get("AUTOPACK_CASSETTE")
    socket = os.environ.get(SANDBOX_SOCKET_ENV)
    if socket:
        # The sandbox container (another user, same group) writes into what the agent clones.
        os.umask(0o002)
    stored_notes = notes_reader(store_sink.store, run_id=run_id) if store_sink else list

    def notes() -> list[str]:
        # The annotation is read fresh and recorded in the store once (keyed by its text).
        try:
            annotated = kube.run_note(namespace, name)
        except Exception as exc:  # a note is advice: an API hiccup must not stop the run
            log.warning("cannot read the run's note annotation: %s", exc)
            annotated = []
        if annotated and store_sink is not None:
            _record_annotation(store_sink, run_id=run_id, text=annotated[0])
        return list(dict.fromkeys([*stored_notes(), *annotated]))

    spent, spent_by_phase = _spent(store_sink, run_id=run_id, earlier=earlier)
    options = SessionOptions(
        repo_url=run.spec.repo.url,
        workdir=settings.get_settings().resolved_workdir,
        cassette=Path(cassette) if cassette else None,
        previous_attempts=kube.attempts_made(namespace, name, run_id),
        notes=notes,
        spent=spent,
        spent_by_phase=spent_by_phase,
        # A reservation that could not be written stops model calls until it is.
        before_model_call=status_sink.settle,
        sandbox_socket=Path(socket) if socket else None,
    )
    try:
        session = open_session(run, run_id=run_id, options=options, emit=sinks.emit)
    except (WorkspaceError, CassetteError) as exc:
        write_report(RunnerReport(state="Failed", reason=Reason.CLONE_FAILED, message=str(exc)))
        return 1

    def create_phases(plan: NormalizedPlan) -> None:
        for index, definition in enumerate(plan.phases):
            kube.ensure_phase(
                kube.build_phase_object(
                    run=run, run_body=body, namespace=namespace, index=index, definition=definition
                )
            )
        status_sink.phases_created()

    session.start()
    outcome = session.execute(
        approved=kube.approved_phases(namespace, name, run_id), on_plan=create_phases
    )
    status_sink.flush()
    if store_sink is not None:
        store_sink.flush()
    write_report(report_of(outcome, branch=run.push_branch))
    # Waiting for approval is a clean end for the pod (its report says why): the Job succeeds,
    # so approval waits raise no failed-Job alerts. `autopack run` still exits 2 then.
    return 0 if outcome.state == RunPhase.AWAITING_APPROVAL else outcome.exit_code
