"""Names that must be spelled the same everywhere: API group, kinds, labels, annotations.

Kept in one module so that the CRDs, the operator, the runner and the CLI can never disagree
about a string that Kubernetes users also type by hand.
"""

from typing import Final

GROUP: Final = "autopack.dev"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"

RUN_KIND: Final = "AutopackRun"
RUN_PLURAL: Final = "autopackruns"
RUN_SINGULAR: Final = "autopackrun"
RUN_SHORT_NAMES: Final = ("apr",)

PHASE_KIND: Final = "Phase"
PHASE_PLURAL: Final = "phases"
PHASE_SINGULAR: Final = "phase"
PHASE_SHORT_NAMES: Final = ("aph",)

CATEGORY: Final = "autopack"

# Labels set on every child object so users and the operator can select them.
LABEL_RUN: Final = f"{GROUP}/run"
LABEL_PHASE_INDEX: Final = f"{GROUP}/phase-index"
LABEL_COMPONENT: Final = f"{GROUP}/component"
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE: Final = "autopack"
LABEL_KUEUE_QUEUE: Final = "kueue.x-k8s.io/queue-name"

# Annotations users write (retry) or that the operator keeps (progress, launches).
ANNOTATION_RETRY: Final = f"{GROUP}/retry"
# A person's note to the run's next prompts (kubectl annotate apr NAME autopack.dev/note=...).
ANNOTATION_NOTE: Final = f"{GROUP}/note"
ANNOTATION_RETRY_HANDLED: Final = f"{GROUP}/retry-handled"
ANNOTATION_RUNNER_LAUNCHES: Final = f"{GROUP}/runner-launches"
KOPF_PROGRESS_PREFIX: Final = f"kopf.{GROUP}"

FIELD_MANAGER: Final = "autopack"

# A run's name is used inside child names such as ``<run>-runner-<n>`` and ``<run>-p<NN>``,
# which must stay valid DNS-1123 labels (at most 63 characters).
MAX_RUN_NAME_LENGTH: Final = 45
DNS1123_LABEL_PATTERN: Final = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN_PATTERN: Final = (
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)


def default_push_branch(run_name: str) -> str:
    """Return the work branch a run pushes to when ``spec.repo.pushBranch`` is not set."""
    return f"autopack/{run_name}"


def phase_object_name(run_name: str, index: int) -> str:
    """Return the deterministic name of the ``Phase`` object for phase ``index`` of a run."""
    return f"{run_name}-p{index:02d}"


def runner_job_name(run_name: str, launch: int) -> str:
    """Return the deterministic name of the runner Job for the ``launch``-th launch of a run."""
    return f"{run_name}-runner-{launch}"
