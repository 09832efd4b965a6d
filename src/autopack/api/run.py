"""The ``AutopackRun`` custom resource: a repository, a plan, budgets and the run's live status.

These models are the source of truth for the CRD schema (see :mod:`autopack.api.schema`) and
for ``autopack validate``; the operator, the runner and local runs all parse run files with them.
"""

import re
from typing import Annotated, Literal, Self

from pydantic import AfterValidator, Field, model_validator

from autopack.api import constants
from autopack.api.common import (
    ApiModel,
    Command,
    K8sName,
    ObjectMeta,
    PathPattern,
    ShortText,
)
from autopack.api.phase import PhaseDefinition
from autopack.api.runstatus import AutopackRunStatus

# No leading "-" (git would read an option), no whitespace or control characters, none of the
# characters git forbids in ref names. RE2-compatible: the CRD schema uses the same pattern.
GIT_REF_PATTERN = r"^[^\s\x00-\x1f\x7f~^:?*\[\\-][^\s\x00-\x1f\x7f~^:?*\[\\]*$"

# The transports a run may use: https://, ssh:// (also git+ssh://, ssh+git://), git://, file://,
# scp-like [user@]host:path, and local paths. Never "-..." (an option), never a remote helper
# ("ext::", "fd::", "<helper>://"), never http:// (credentials in clear text). RE2-compatible.
_URL_CHAR = r"[^\s\x00-\x1f\x7f]"
REPO_URL_PATTERN = (
    r"^(?:"
    rf"(?:https|ssh|git|file|git\+ssh|ssh\+git)://[^\s\x00-\x1f\x7f-]{_URL_CHAR}*"
    r"|(?:[A-Za-z0-9._~][A-Za-z0-9._~-]*@)?[A-Za-z0-9][A-Za-z0-9.-]*:"
    rf"(?:[^\s\x00-\x1f\x7f:/]|/[^\s\x00-\x1f\x7f/]){_URL_CHAR}*"
    r"|[A-Za-z0-9._/~][^\s\x00-\x1f\x7f:]*"
    r")$"
)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")


def check_repo_url(url: str) -> str:
    """Refuse option-like URLs and transports other than https, ssh, git and local paths."""
    if url.startswith("-"):
        raise ValueError(
            "must not begin with '-' (git would read it as an option); give a repository URL"
        )
    scheme = _SCHEME.match(url)
    if scheme and scheme.group(1).lower() == "http":
        raise ValueError("http:// would send credentials in clear text; use https://")
    if "::" in url.split("/", 1)[0] or (
        scheme
        and scheme.group(1).lower() not in ("https", "ssh", "git", "file", "git+ssh", "ssh+git")
    ):
        raise ValueError(
            "unsupported transport; use https://, ssh://, git://, file://, git@host:path or a "
            "local path"
        )
    if not re.match(REPO_URL_PATTERN, url):
        raise ValueError(
            "is not a repository URL: use https://, ssh://, git://, file://, git@host:path or a "
            "local path, without spaces or control characters"
        )
    return url


def check_git_ref(ref: str) -> str:
    """Refuse ref names git would read as an option or that git forbids."""
    if ref.startswith("-"):
        raise ValueError("must not begin with '-' (git would read it as an option)")
    if not re.match(GIT_REF_PATTERN, ref):
        raise ValueError(
            "is not a valid git ref name (no spaces, control characters or any of ~ ^ : ? * [ \\)"
        )
    return ref


GitRef = Annotated[
    str,
    Field(min_length=1, max_length=255, json_schema_extra={"pattern": GIT_REF_PATTERN}),
    AfterValidator(check_git_ref),
]

RepoUrl = Annotated[
    str,
    Field(min_length=1, max_length=2048, json_schema_extra={"pattern": REPO_URL_PATTERN}),
    AfterValidator(check_repo_url),
]


ForgeName = Literal["github", "gitlab", "gitea"]


class PullRequestSpec(ApiModel):
    """Where and how the run's result is offered for review."""

    provider: ForgeName | None = None
    """github, gitlab or gitea (Forgejo too); detected from the repository host when unset."""

    api_url: Annotated[str, Field(max_length=512, pattern=r"^https?://[^\s]+$")] | None = Field(
        None, alias="apiURL"
    )
    """The forge's API root (default: api.github.com, or https://HOST/api/v4 or /api/v1)."""

    repository: (
        Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")]
        | None
    ) = None
    """owner/name (GitLab: the project path); read from the repository URL when unset."""

    base: GitRef | None = None
    """Branch the request targets (default: spec.repo.ref)."""

    draft: bool = False
    """Open the request as a draft."""

    link: Annotated[str, Field(max_length=512)] | None = None
    """A link to the run shown in the description (e.g. the dashboard's run page)."""


class RepoSpec(ApiModel):
    """The git repository a run works on and where it pushes the result."""

    url: RepoUrl
    """Clone URL: https://, ssh://, git://, file://, git@host:path or a local path (local runs)."""

    ref: GitRef = "main"
    """Branch, tag or commit the run starts from."""

    push_branch: GitRef | None = None
    """Branch the work is pushed to after each phase; defaults to autopack/<run name>."""

    credentials_secret: K8sName | None = None
    """Secret with git credentials (keys: token, or username and password, or ssh-privatekey)."""

    pull_request: PullRequestSpec | None = None
    """Open or update a pull (merge) request from the work branch when the run succeeds."""


def path_problem(path: str) -> str | None:
    """Why a repository-relative path from a run file is unusable, or None."""
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        return "contains a control character"
    if path.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", path):
        return "is absolute; use a path relative to the repository root"
    parts = path.replace("\\", "/").split("/")
    if ".." in parts:
        return "contains '..'; paths must stay inside the repository"
    if any(part.lower() == ".git" for part in parts):
        return "is inside .git/, which is never editable"
    return None


# Variables never passed to untrusted commands, whatever a run names (the sandbox enforces it).
FORBIDDEN_ENV_PATTERN = (
    r"^(?:AUTOPACK_.*|KUBERNETES_.*|GIT_.*|SSH_AUTH_SOCK|.*_API_KEY|ANTHROPIC_.*|OPENAI_.*"
    r"|AWS_SECRET_ACCESS_KEY|AWS_SESSION_TOKEN|LD_PRELOAD|LD_LIBRARY_PATH|BASH_ENV|ENV)$"
)


def check_env_name(name: str) -> str:
    """Refuse variables that must never reach build and test commands."""
    if re.match(FORBIDDEN_ENV_PATTERN, name):
        raise ValueError(
            f"{name} is never passed to build and test commands (Autopack's settings, "
            "credentials and the cluster's variables stay with Autopack)"
        )
    return name


EnvName = Annotated[
    str,
    Field(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$"),
    AfterValidator(check_env_name),
]

ToolchainName = Literal["python", "node", "go", "rust", "java"]


class ToolchainSpec(ApiModel):
    """Overrides of the detected toolchain; unset commands are detected from the repository."""

    name: ToolchainName | None = None
    """Force this toolchain instead of detecting it: python, node, go, rust or java."""

    working_dir: PathPattern | None = None
    """Directory inside the repository the commands run in (default: the repository root)."""

    install: Command | None = None
    """Command that installs dependencies."""

    build: Command | None = None
    """Command that builds the project."""

    test: Command | None = None
    """Command that runs the project's tests."""

    env: Annotated[list[EnvName], Field(max_length=50)] = Field(default_factory=list)
    """Runner variables the build and test commands also get (never Autopack's or secrets)."""

    network: bool = False
    """Let build and test commands use the network (default: no network in the sandbox)."""


class RunBudgets(ApiModel):
    """Hard limits for the whole run; a model call that could exceed them is not made."""

    tokens: Annotated[int, Field(ge=1_000, le=1_000_000_000)] = 2_000_000
    """Maximum model tokens (input plus output) for the run."""

    cost_usd: Annotated[float, Field(gt=0, le=10_000)] = Field(10.0, alias="costUSD")
    """Maximum model cost in US dollars for the run."""

    max_attempts_per_phase: Annotated[int, Field(ge=1, le=20)] = 4
    """Builder attempts allowed per phase before it fails."""

    max_failures_per_run: Annotated[int, Field(ge=1, le=500)] = 25
    """Failures of any kind allowed before the run stops (the health budget)."""

    active_deadline_seconds: Annotated[int, Field(ge=60, le=7 * 24 * 3600)] = 6 * 3600
    """Wall-clock limit of one runner Job, in seconds."""


Role = Literal["planner", "builder", "auditor", "doctor"]


class ModelChains(ApiModel):
    """Explicit model chains per role; each list is tried in order, escalating on failure."""

    planner: Annotated[list[ShortText], Field(max_length=10)] = Field(default_factory=list)
    """Models for plan normalization."""

    builder: Annotated[list[ShortText], Field(max_length=10)] = Field(default_factory=list)
    """Models that write the edits."""

    auditor: Annotated[list[ShortText], Field(max_length=10)] = Field(default_factory=list)
    """Models that review the edits."""

    doctor: Annotated[list[ShortText], Field(max_length=10)] = Field(default_factory=list)
    """Models that diagnose failures."""


class ModelsSpec(ApiModel):
    """Which models the run uses and where their credentials are."""

    profile: Annotated[str, Field(min_length=1, max_length=63)] = "default"
    """Profile name from config/models.yaml."""

    chains: ModelChains | None = None
    """Explicit chains per role, overriding the profile's."""

    credentials_secret: K8sName | None = None
    """Secret with provider keys (ANTHROPIC_API_KEY, OPENAI_API_KEY, ...)."""


ApprovalPolicy = Literal["auto", "risky", "always"]


class ApprovalSpec(ApiModel):
    """When a phase must wait for a person before its change is kept."""

    policy: ApprovalPolicy = "risky"
    """auto: never wait; risky: wait on large deletions or protected paths; always: every phase."""

    deletion_threshold_lines: Annotated[int, Field(ge=0, le=1_000_000)] = 200
    """Net deleted lines above which a change is risky."""

    protected_paths: Annotated[list[PathPattern], Field(max_length=100)] = Field(
        default_factory=list
    )
    """Extra paths the models may never change (added to the built-in list)."""


class Toleration(ApiModel):
    """A Kubernetes toleration for the runner pod."""

    key: Annotated[str, Field(max_length=316)] | None = None
    """Taint key the toleration applies to."""

    operator: Literal["Exists", "Equal"] | None = None
    """Exists or Equal."""

    value: Annotated[str, Field(max_length=256)] | None = None
    """Taint value to match."""

    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    """Taint effect to match."""

    toleration_seconds: int | None = None
    """How long a NoExecute taint is tolerated."""


class ResourceRequirements(ApiModel):
    """CPU and memory for the runner pod, as Kubernetes quantities."""

    requests: dict[str, Annotated[str, Field(max_length=64)]] = Field(default_factory=dict)
    """Minimum resources, such as cpu: 500m, memory: 1Gi."""

    limits: dict[str, Annotated[str, Field(max_length=64)]] = Field(default_factory=dict)
    """Maximum resources."""


class RunnerSpec(ApiModel):
    """How the runner pod is scheduled."""

    image: Annotated[str, Field(max_length=512)] | None = None
    """Runner image (default from the operator's configuration)."""

    resources: ResourceRequirements = Field(default_factory=ResourceRequirements)
    """Resources of the runner container."""

    service_account_name: K8sName | None = None
    """Service account of the runner pod (default from the operator's configuration)."""

    node_selector: dict[str, Annotated[str, Field(max_length=256)]] = Field(default_factory=dict)
    """Node labels the runner pod must match."""

    tolerations: Annotated[list[Toleration], Field(max_length=20)] = Field(default_factory=list)
    """Tolerations of the runner pod."""

    queue_name: Annotated[str, Field(max_length=63)] | None = None
    """Kueue LocalQueue; when set, Kueue admits the runner Job."""


class AutopackRunSpec(ApiModel):
    """Desired state of an AutopackRun."""

    repo: RepoSpec
    """Repository to work on."""

    plan: Annotated[str, Field(max_length=65536)] = ""
    """Plan as free text or markdown; normalized into phases by the planner."""

    phases: Annotated[list[PhaseDefinition], Field(max_length=50)] = Field(default_factory=list)
    """Structured phases; used as given when present."""

    intention: Annotated[str, Field(max_length=8192)] = ""
    """The project's intention (goal, constraints, non-goals) every phase is checked against."""

    toolchain: ToolchainSpec = Field(default_factory=ToolchainSpec)
    """Overrides of the detected install, build and test commands."""

    budgets: RunBudgets = Field(default_factory=RunBudgets)
    """Hard limits for the run."""

    models: ModelsSpec = Field(default_factory=ModelsSpec)
    """Model profile and credentials."""

    approval: ApprovalSpec = Field(default_factory=ApprovalSpec)
    """When phases wait for a person."""

    suspend: bool = False
    """Set to true to stop the runner; set back to false to resume."""

    runner: RunnerSpec = Field(default_factory=RunnerSpec)
    """Scheduling of the runner pod."""

    ttl_seconds_after_finished: Annotated[int, Field(ge=0, le=365 * 24 * 3600)] | None = None
    """Delete the run this many seconds after it finished (unset: keep it)."""

    @model_validator(mode="after")
    def _check_plan_and_phases(self) -> Self:
        if not self.plan.strip() and not self.phases:
            raise ValueError("give spec.plan (text) or spec.phases (a list); both are empty")
        ids = [phase.id for phase in self.phases if phase.id]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            raise ValueError(f"phase ids must be unique; repeated: {', '.join(duplicates)}")
        positions = {str(index): index for index in range(len(self.phases))}
        positions.update({phase.id: index for index, phase in enumerate(self.phases) if phase.id})
        for index, phase in enumerate(self.phases):
            unknown = [dep for dep in phase.depends_on if dep not in positions]
            if unknown:
                raise ValueError(
                    f"phases[{index}].dependsOn names unknown phase ids: {', '.join(unknown)}"
                )
            later = [dep for dep in phase.depends_on if positions[dep] >= index]
            if later:
                raise ValueError(
                    f"phases[{index}].dependsOn names {', '.join(later)}, which does not come "
                    "before it; phases run in order, so a phase can depend only on earlier ones"
                )
            for field, entries in (
                ("allowedPaths", phase.scope.allowed_paths),
                ("readOnlyContext", phase.scope.read_only_context),
            ):
                for entry in entries:
                    problem = path_problem(entry)
                    if problem:
                        raise ValueError(f"phases[{index}].scope.{field}: {entry!r} {problem}")
        if self.repo.push_branch is not None and self.repo.push_branch == self.repo.ref:
            raise ValueError(
                "spec.repo.pushBranch must differ from spec.repo.ref "
                "(the base is never overwritten)"
            )
        return self


class AutopackRun(ApiModel):
    """An autonomous coding run: a repository, a plan and budgets, executed by one runner Job."""

    api_version: Literal["autopack.dev/v1alpha1"] = "autopack.dev/v1alpha1"
    """API version: autopack.dev/v1alpha1."""

    kind: Literal["AutopackRun"] = constants.RUN_KIND
    """Kind: AutopackRun."""

    metadata: ObjectMeta = Field(default_factory=ObjectMeta)
    """Standard object metadata."""

    spec: AutopackRunSpec
    """Desired state of the run."""

    status: AutopackRunStatus | None = None
    """Observed state of the run."""

    @model_validator(mode="after")
    def _check_name(self) -> Self:
        name = self.metadata.name
        if not name and not self.metadata.generate_name:
            raise ValueError("metadata.name is required")
        if name and len(name) > constants.MAX_RUN_NAME_LENGTH:
            raise ValueError(
                f"metadata.name must be at most {constants.MAX_RUN_NAME_LENGTH} characters "
                f"(it has {len(name)}) so that child names such as <name>-runner-1 stay valid"
            )
        return self

    @property
    def name(self) -> str:
        """Return the run's name (``metadata.name``)."""
        return self.metadata.name or ""

    @property
    def push_branch(self) -> str:
        """Return the branch the run pushes to."""
        return self.spec.repo.push_branch or constants.default_push_branch(self.name)
