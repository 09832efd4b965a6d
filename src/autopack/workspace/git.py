"""The run's git checkout: clone, work branch, savepoints, phase commits, push, resume.

Uses the real git CLI with argument lists only (never a shell string). Credentials come from
the environment (``AUTOPACK_GIT_TOKEN``, optional ``AUTOPACK_GIT_USERNAME``) or a mounted
secret directory (``AUTOPACK_GIT_CREDENTIALS_DIR`` with ``token`` / ``username`` /
``password`` files); they reach git as an HTTP header through ``GIT_CONFIG_*`` variables, so
they are never written to ``.git/config``, remotes, logs or error messages.
"""

import base64
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

# Commit trailers the engine writes and the workspace reads back (resume, approval, rollback).
PHASE_TRAILER = "Autopack-Phase"
PENDING_TRAILER = "Autopack-Pending-Approval"
MITIGATION_TRAILER = "Autopack-Mitigation"
RUN_TRAILER = "Autopack-Run"  # the run's identity (its uid), so no run mistakes another's work

_AUTHOR = ("Autopack", "autopack@users.noreply.autopack.dev")
_USERINFO = re.compile(r"(?<=://)[^/@\s]+@")


class WorkspaceError(RuntimeError):
    """A git operation failed; the message names the operation and git's own words."""


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove URL userinfo and any known secret from ``text``."""
    cleaned = _USERINFO.sub("***@", text)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, "***")
    return cleaned


def credentials_from_environment(env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """Return (username, secret) from the environment or a mounted secret, or None."""
    source = os.environ if env is None else env
    directory = source.get("AUTOPACK_GIT_CREDENTIALS_DIR")
    if directory:
        base = Path(directory)

        def read(name: str) -> str:
            path = base / name
            return path.read_text(encoding="utf-8").strip() if path.is_file() else ""

        secret = read("token") or read("password")
        if secret:
            return read("username") or "x-access-token", secret
    token = source.get("AUTOPACK_GIT_TOKEN", "")
    if token:
        return source.get("AUTOPACK_GIT_USERNAME", "x-access-token"), token
    return None


class GitWorkspace:
    """A clone of the run's repository on its work branch."""

    def __init__(
        self,
        root: Path,
        *,
        branch: str,
        credentials: tuple[str, str] | None = None,
        run_id: str | None = None,
    ) -> None:
        """Wrap an existing checkout; use :meth:`clone` to make one."""
        self.root = root
        self.branch = branch
        self._credentials = credentials
        self.run_id = run_id

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_CONFIG_")}
        env.update(
            {
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_AUTHOR_NAME": _AUTHOR[0],
                "GIT_AUTHOR_EMAIL": _AUTHOR[1],
                "GIT_COMMITTER_NAME": _AUTHOR[0],
                "GIT_COMMITTER_EMAIL": _AUTHOR[1],
            }
        )
        if self._credentials is not None:
            user, secret = self._credentials
            token = base64.b64encode(f"{user}:{secret}".encode()).decode()
            env.update(
                {
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "http.extraHeader",
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {token}",
                }
            )
        return env

    def _secrets(self) -> list[str]:
        if self._credentials is None:
            return []
        user, secret = self._credentials
        return [secret, base64.b64encode(f"{user}:{secret}".encode()).decode()]

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        """Run git with ``args`` in the workspace; return stdout."""
        done = subprocess.run(
            ["git", *args],
            cwd=cwd or self.root,
            env=self._env(),
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=600,
        )
        if check and done.returncode != 0:
            detail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            # git's first "fatal:" / "error:" line says what went wrong; later lines are advice.
            causes = [line for line in detail if line.startswith(("fatal:", "error:"))]
            message = (causes or detail[-1:] or [f"exit code {done.returncode}"])[0]
            raise WorkspaceError(redact(f"git {args[0]} failed: {message}", self._secrets()))
        return done.stdout

    @classmethod
    def clone(
        cls,
        url: str,
        *,
        ref: str,
        dest: Path,
        branch: str,
        credentials: tuple[str, str] | None = None,
        run_id: str | None = None,
    ) -> "GitWorkspace":
        """Clone ``url`` into ``dest`` and check out ``branch``.

        The remote branch is continued when it holds this run's commits (``run_id``); a branch
        left by another run of the same name is not this run's work, so it starts from ``ref``.
        """
        dest.parent.mkdir(parents=True, exist_ok=True)
        workspace = cls(dest, branch=branch, credentials=credentials, run_id=run_id)
        if (dest / ".git").is_dir():
            workspace.git("fetch", "--quiet", "origin")
        else:
            try:
                workspace.git("clone", "--quiet", "--no-checkout", url, str(dest), cwd=dest.parent)
            except WorkspaceError as exc:
                raise WorkspaceError(
                    f"cannot clone repository {redact(url)}: {str(exc).split(': ', 1)[-1]}"
                ) from None
        remote_branch = workspace.git(
            "ls-remote", "--heads", "origin", f"refs/heads/{branch}"
        ).strip()
        if remote_branch and workspace._holds_this_run(f"origin/{branch}"):
            workspace.git("checkout", "--quiet", "-B", branch, f"origin/{branch}")
        else:
            base = workspace._resolve(ref)
            workspace.git("checkout", "--quiet", "-B", branch, base)
        workspace.git("reset", "--quiet", "--hard")
        workspace.git("clean", "-fdq")
        return workspace

    def _holds_this_run(self, rev: str) -> bool:
        """Whether ``rev``'s history has a commit of this run (any, without a run identity)."""
        if self.run_id is None:
            return True
        runs = self.git("log", f"--format=%(trailers:key={RUN_TRAILER},valueonly)", rev, "--")
        return self.run_id in {line.strip() for line in runs.splitlines()}

    def _resolve(self, ref: str) -> str:
        for candidate in (f"origin/{ref}", ref):
            done = self.git(
                "rev-parse", "--verify", "--quiet", f"{candidate}^{{commit}}", check=False
            ).strip()
            if done:
                return done
        raise WorkspaceError(f"ref {ref!r} does not exist in the repository; check spec.repo.ref")

    def head(self) -> str:
        """Return the current commit."""
        return self.git("rev-parse", "HEAD").strip()

    def rollback(self, to: str) -> None:
        """Discard every change since ``to`` (tracked and untracked)."""
        self.git("reset", "--quiet", "--hard", to)
        self.git("clean", "-fdq")

    def diff(self, since: str) -> str:
        """Return the diff of the working tree (new files included) against ``since``."""
        self.git("add", "--all", "--intent-to-add")
        return self.git("diff", since, "--")

    def commit(self, message: str) -> str:
        """Commit every change, signed with the run's identity trailer; return the new commit."""
        if self.run_id is not None:
            message = f"{message.rstrip()}\n{RUN_TRAILER}: {self.run_id}"
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "-m", message)
        return self.head()

    def push(self) -> None:
        """Push the work branch (the branch is Autopack's own, so a lease is enough)."""
        self.git(
            "push", "--quiet", "--force-with-lease", "origin", f"HEAD:refs/heads/{self.branch}"
        )

    def _trailers(
        self, name: str, *, rev: str = "HEAD", limit: int | None = None
    ) -> dict[int, str]:
        """Value of trailer ``name`` -> commit, for this run's commits (newest first wins).

        With a ``run_id`` only commits carrying ``Autopack-Run: <run_id>`` count, so a run
        never takes another run's commits (an earlier run of the same name) for its own.
        """
        log = self.git(
            "log",
            *(["-n", str(limit)] if limit else []),
            f"--format=%H%x00%(trailers:key={name},valueonly)%x00"
            f"%(trailers:key={RUN_TRAILER},valueonly)%x1e",
            rev,
            "--",
        )
        found: dict[int, str] = {}
        for entry in log.split("\x1e"):
            commit, _, rest = entry.strip().partition("\x00")
            value, _, run = rest.partition("\x00")
            if self.run_id is not None and run.strip() != self.run_id:
                continue
            if commit and value.strip().isdigit():
                found.setdefault(int(value.strip()), commit)
        return found

    def completed_phases(self) -> dict[int, str]:
        """Phase index -> commit, from this run's ``Autopack-Phase`` trailers on the branch."""
        return self._trailers(PHASE_TRAILER)

    def pending_approval(self) -> int | None:
        """Index of the phase whose change waits for approval as the branch's last commit."""
        pending = self._trailers(PENDING_TRAILER, limit=1)
        return next(iter(pending), None)

    def run_base(self) -> str:
        """Return the commit the run started from: the parent of its oldest Autopack commit.

        Autopack's commits are the phase, pending-approval and mitigation commits (trailers).
        """
        log = self.git(
            "log",
            "--first-parent",
            f"--format=%H%x00%P%x00%(trailers:key={PHASE_TRAILER},valueonly)"
            f"%(trailers:key={PENDING_TRAILER},valueonly)"
            f"%(trailers:key={MITIGATION_TRAILER},valueonly)%x1e",
            "HEAD",
        )
        base = self.head()
        for entry in log.split("\x1e"):
            fields = entry.strip().split("\x00")
            if len(fields) < 3 or not fields[2].strip():
                break
            parents = fields[1].split()
            if not parents:
                break
            base = parents[0]
        return base

    def rollback_run(self) -> str | None:
        """Reset the work branch to where the run began; return the branch keeping the old work.

        Nothing is lost: the discarded commits are pushed to ``<branch>-rolled-back`` first.
        None when the run had committed nothing.
        """
        head = self.head()
        base = self.run_base()
        if base == head:
            return None
        backup = f"{self.branch}-rolled-back"
        self.git("push", "--quiet", "--force", "origin", f"{head}:refs/heads/{backup}")
        self.rollback(base)
        self.push()
        return backup

    def set_aside_pending(self) -> str:
        """Take the pending-approval commit off the branch, leaving a clean tree; return it.

        The baseline is then measured at the commit before the change, so the change's own
        test failures count as new when it is gated (:meth:`restore_pending`).
        """
        pending = self.head()
        self.rollback("HEAD~1")
        return pending

    def restore_pending(self, commit: str) -> None:
        """Put a set-aside pending change back into the working tree, uncommitted."""
        self.git("cherry-pick", "--no-commit", commit)
        self.git("reset", "--quiet")
