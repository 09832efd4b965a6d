"""What a person should do about a run, per reason: the hint ``kubectl describe`` shows.

A failed run's reason says what went wrong and its message the details; the hint says what to
do next, with the commands to copy. Hints are data keyed by :class:`conditions.Reason`, kept
apart from reasons and messages, and filled in with the run's names by :func:`hint_for`.
"""

from collections.abc import Mapping
from typing import Final

from autopack.api.conditions import Reason

RETRY: Final = (
    "kubectl -n {namespace} annotate apr {run} autopack.dev/retry=$(date +%s) --overwrite"
)
"""The command that retries a run's failed phases (any new token works)."""

LOGS: Final = "kubectl -n {namespace} logs job/{job} -c agent"
"""The command that shows the runner's log."""

PHASES: Final = "kubectl -n {namespace} describe aph -l autopack.dev/run={run}"
"""The command that shows the run's phases with their failures, CI deltas and audits."""

_HINTS: Final[Mapping[str, str]] = {
    Reason.BUDGET_EXCEEDED: (
        "Raise spec.budgets.costUSD or spec.budgets.tokens (see status.budget; spend so far "
        "is kept), then retry: " + RETRY
    ),
    Reason.PLAN_INVALID: (
        "Fix spec.plan or spec.phases as the message says (autopack validate checks a run "
        "file locally), then retry: " + RETRY
    ),
    Reason.PROVIDER_ERROR: (
        "Check the model keys and base URLs in the Secret named by spec.models.credentialsSecret "
        "(ANTHROPIC_API_KEY, OPENAI_API_KEY, ...), that the runner reaches the provider (the "
        "chart's networkPolicy.endpoints) and the provider's status, then retry: " + RETRY
    ),
    Reason.CLONE_FAILED: (
        "Check spec.repo.url and spec.repo.ref, the git credentials in the Secret named by "
        "spec.repo.credentialsSecret (token, or ssh-privatekey and known_hosts) and that the "
        "runner reaches the remote (the chart's networkPolicy.endpoints), then retry: " + RETRY
    ),
    Reason.INTERNAL_ERROR: (
        "A bug in Autopack: file an issue with the message and the runner's log (" + LOGS + "); "
        "a retry may get past it: " + RETRY
    ),
    Reason.PHASE_FAILED: (
        "Read the failed phase's failure, CI delta and audit (" + PHASES + "); narrow its scope "
        "or acceptance criteria, or raise spec.budgets.maxAttemptsPerPhase, then retry: " + RETRY
    ),
    Reason.HEALTH_BUDGET_EXHAUSTED: (
        "Too many failures for spec.budgets.maxFailuresPerRun: read the phases' failures ("
        + PHASES
        + "), fix the plan or the repository (or raise the limit), then retry: "
        + RETRY
    ),
    Reason.DOCTOR_MARKED_FATAL: (
        "The Doctor found the failure unrecoverable for the reason in the message: fix that in "
        "the repository or the plan, then retry: " + RETRY
    ),
    Reason.ROLLBACK_REQUESTED: (
        "The phase's changes were rolled back for the reason in the message: revise that "
        "phase in the plan, then retry: " + RETRY
    ),
    Reason.DEADLINE_EXCEEDED: (
        "The runner ran out of time: raise spec.budgets.activeDeadlineSeconds (completed "
        "phases are kept on the work branch), then retry: " + RETRY
    ),
    Reason.OOM_KILLED: (
        "The runner ran out of memory on every launch: raise "
        "spec.runner.resources.limits.memory, then retry: " + RETRY
    ),
    Reason.EVICTED: (
        "The node evicted the runner pod on every launch (resource pressure or a drain): check "
        "the node's events and spec.runner.resources, then retry: " + RETRY
    ),
    Reason.BACKOFF_LIMIT_EXCEEDED: (
        "The runner stopped without a report: read its log (" + LOGS + ") and its events "
        "(kubectl -n {namespace} describe job {job}), then retry: " + RETRY
    ),
    Reason.RUNNER_SECRET_MISSING: (
        "Create the Secret (and key) the message names in namespace {namespace}: the chart "
        "creates its devPostgres Secret in the release namespace and in each namespace of "
        "runner.namespaces (add {namespace} there and upgrade the release); a Secret you name "
        "(secrets.database.existingSecret, memory.qdrant.apiKeySecret) must exist in every "
        "namespace runs execute in. Then retry: " + RETRY
    ),
    Reason.RUNNER_CANNOT_START: (
        "The kubelet could not start the runner for the reason in the message. A Secret or key "
        "not found: create the one the message names in namespace {namespace} (a run names "
        "its own in spec.models.credentialsSecret): kubectl -n {namespace} create secret "
        "generic NAME --from-literal=KEY=VALUE. An image that cannot be pulled: fix "
        "spec.runner.image (or the chart's image.runner) and the pull access. Job {job} is "
        "kept, suspended, for inspection (kubectl -n {namespace} describe job {job}). Then "
        "retry: " + RETRY
    ),
    Reason.AWAITING_APPROVAL: (
        "Review the waiting phase (kubectl -n {namespace} describe aph {phase}) and approve it: "
        "kubectl -n {namespace} patch aph {phase} --type merge -p "
        '\'{{"spec":{{"approved":true}}}}\''
    ),
}

_DEFAULT: Final = "Read the message and the runner's log (" + LOGS + "), then retry: " + RETRY


def hint_for(
    reason: str, *, run: str, namespace: str, job: str | None = None, phase: str | None = None
) -> str:
    """Return what to do about ``run`` stopped for ``reason``, with its names filled in.

    An unknown reason gets the general advice: read the message and the log, then retry.
    """
    template = _HINTS.get(reason, _DEFAULT)
    return template.format(
        run=run,
        namespace=namespace,
        job=job or f"<{run}'s runner Job, status.jobName>",
        phase=phase or "<the waiting phase, status.currentPhase>",
    )


def has_hint(reason: str) -> bool:
    """Whether ``reason`` has a hint of its own (not only the general advice)."""
    return reason in _HINTS
