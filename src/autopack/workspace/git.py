"""The run's git checkout: clone, work branch, savepoints, phase commits, push, resume.

Uses the real git CLI with argument lists only (never a shell string), and ``--`` (or
``--end-of-options``) between options and arguments. The repository is untrusted: every git
command runs with hooks, fsmonitor, repository-defined filters, external diff and textconv
drivers, askpass programs, replace refs, excludes files and submodule recursion disabled, and
``.git/config``, ``.git/hooks``, ``.git/info``, ``.git/index``, HEAD and the work branch are put
back as Autopack left them before each command (a test could have rewritten them to hide its
changes from ``git status`` or to put content into the next commit or push; see
:mod:`autopack.workspace.hygiene`).
Credentials come from the environment, a mounted secret directory or the clone
URL (see :mod:`autopack.workspace.credentials`) and reach git as an HTTP header scoped to the
remote's URL through ``GIT_CONFIG_*`` variables, so they are never written to ``.git/config``,
remotes, logs or error messages.
"""

import base64
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from autopack import redaction
from autopack.workspace import hygiene, refs, trailers
from autopack.workspace.credentials import (
    Credentials,
    display_url,
    split_credentials,
    ssh_command_from_environment,
)

_AUTHOR = ("Autopack", "autopack@users.noreply.autopack.dev")

# ssh's own explanations, kept in front of git's generic message.
_SSH_REASONS = (
    "Host key verification failed",
    "Permission denied",
    "ssh:",
    "No ED25519",
    "Load key",
)

# Configuration every git command gets, whatever the repository's own config says.
SAFE_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "core.untrackedCache=false",
    "core.sshCommand=ssh",
    "core.askPass=",
    # A command could write ~/.config/git/ignore (read by default) to hide the files it made.
    "core.excludesFile=/dev/null",
    # refs/replace/ would make git read a command's content for HEAD's: restoring would
    # write it and the commit would include it.
    "core.useReplaceRefs=false",
    "diff.external=",
    "submodule.recurse=false",
    "fetch.recurseSubmodules=false",
    "push.recurseSubmodules=no",
    "protocol.ext.allow=never",
    "gc.auto=0",
    "maintenance.auto=false",
)

_STATUS = ("status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all")


class WorkspaceError(RuntimeError):
    """A git operation failed; the message names the operation and git's own words."""


def redact(text: str, secrets: Sequence[str] = ()) -> str:
    """Remove URL userinfo, any known secret and credential-shaped strings from ``text``."""
    cleaned = redaction.redact(text)
    for secret in secrets:
        if secret:
            cleaned = cleaned.replace(secret, redaction.MASK)
    return cleaned


def _safe_environment() -> dict[str, str]:
    """The runner's environment without secrets and without injected git configuration."""
    return {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("GIT_CONFIG_")
        and (name == "SSH_AUTH_SOCK" or not redaction.is_secret_name(name))
    }


class GitWorkspace:
    """A clone of the run's repository on its work branch."""

    def __init__(
        self,
        root: Path,
        *,
        branch: str,
        credentials: Credentials | None = None,
        remote_url: str | None = None,
        run_id: str | None = None,
    ) -> None:
        """Wrap an existing checkout; use :meth:`clone` to make one.

        ``remote_url`` (credentials removed) scopes the credentials header and is where pushes
        go, whatever ``.git/config`` says by then.
        """
        self.root = root
        self.branch = branch
        self.run_id = run_id
        self._credentials = credentials
        self.remote_url = remote_url
        self._git_state: hygiene.GitState | None = None
        self._trailer_cache: tuple[str, tuple[dict[int, str], int | None]] | None = None
        self.restored: list[str] = []
        """``.git`` paths put back since the last :meth:`discard_side_effects`."""
        if credentials is not None:
            redaction.register(credentials[1])
            redaction.register(self._header_token())

    def _header_token(self) -> str:
        user, secret = self._credentials or ("", "")
        return base64.b64encode(f"{user}:{secret}".encode()).decode()

    def _env(self) -> dict[str, str]:
        env = _safe_environment()
        env.update(
            {
                "GIT_TERMINAL_PROMPT": "0",
                "GIT_ATTR_NOSYSTEM": "1",
                "GIT_LITERAL_PATHSPECS": "1",
                "GIT_AUTHOR_NAME": _AUTHOR[0],
                "GIT_AUTHOR_EMAIL": _AUTHOR[1],
                "GIT_COMMITTER_NAME": _AUTHOR[0],
                "GIT_COMMITTER_EMAIL": _AUTHOR[1],
            }
        )
        ssh = ssh_command_from_environment()
        if ssh is not None:
            env["GIT_SSH_COMMAND"] = ssh
        if self._credentials is not None:
            scope = f"http.{self.remote_url}.extraHeader" if self.remote_url else "http.extraHeader"
            env.update(
                {
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": scope,
                    "GIT_CONFIG_VALUE_0": f"Authorization: Basic {self._header_token()}",
                }
            )
        return env

    def _secrets(self) -> list[str]:
        if self._credentials is None:
            return []
        return [self._credentials[1], self._header_token()]

    def _git_dir(self) -> Path:
        return self.root / ".git"

    def _guard(self) -> None:
        """Put ``.git`` config, hooks, info, index, HEAD and branch back as Autopack left them."""
        if self._git_state is not None and self._git_dir().is_dir():
            self.restored += hygiene.restore_git(self._git_dir(), self._git_state)

    def _remember(self) -> None:
        git_dir = self._git_dir()
        if git_dir.is_dir() and not git_dir.is_symlink():
            hygiene.protect(git_dir)
            self._git_state = hygiene.capture(git_dir)

    def git(self, *args: str, cwd: Path | None = None, check: bool = True) -> str:
        """Run git with ``args`` in the workspace (hooks, filters, fsmonitor off); return stdout."""
        self._guard()
        options = [item for setting in SAFE_CONFIG for item in ("-c", setting)]
        done = subprocess.run(
            ["git", *options, *args],
            cwd=cwd or self.root,
            env=self._env(),
            capture_output=True,
            text=True,
            errors="replace",
            check=False,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        self._remember()
        if check and done.returncode != 0:
            detail = [line for line in (done.stderr or done.stdout).splitlines() if line.strip()]
            # git's first "fatal:" / "error:" line says what went wrong; later lines are advice.
            causes = [line for line in detail if line.startswith(("fatal:", "error:"))]
            message = (causes or detail[-1:] or [f"exit code {done.returncode}"])[0]
            # ssh says why before git's generic "Could not read from remote repository".
            ssh = [line for line in detail if line.startswith(_SSH_REASONS)]
            if ssh:
                message = f"{ssh[0].strip()} ({message})"
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
        credentials: Credentials | None = None,
        run_id: str | None = None,
    ) -> "GitWorkspace":
        """Clone ``url`` into ``dest`` and check out ``branch``.

        The remote branch is continued when it holds this run's commits (``run_id``); a branch
        left by another run of the same name is not this run's work, so it starts from ``ref``.
        Credentials in ``url`` are taken out of it and used like ``AUTOPACK_GIT_TOKEN``
        (``credentials``, when given, win). Submodules are never cloned or updated.
        """
        clean_url, from_url = split_credentials(url)
        dest.parent.mkdir(parents=True, exist_ok=True)
        workspace = cls(
            dest,
            branch=branch,
            credentials=credentials or from_url,
            remote_url=clean_url,
            run_id=run_id,
        )
        reused = (dest / ".git").is_dir()
        if reused:
            workspace._remember()
            workspace.git("remote", "set-url", "origin", clean_url)
            workspace.git("fetch", "--quiet", "--no-recurse-submodules", "origin")
        else:
            try:
                workspace.git(
                    "clone",
                    "--quiet",
                    "--no-checkout",
                    "--no-recurse-submodules",
                    "--",
                    clean_url,
                    str(dest),
                    cwd=dest.parent,
                )
            except WorkspaceError as exc:
                raise WorkspaceError(
                    f"cannot clone repository {display_url(url)}: {str(exc).split(': ', 1)[-1]}"
                ) from None
        workspace._remember()
        remote_branch: str | None
        if reused:  # fetch keeps remote-tracking branches the remote has deleted: ask it
            remote_branch = workspace.git(
                "ls-remote", "--heads", "--", "origin", f"refs/heads/{branch}"
            ).strip()
        else:  # the clone has just copied every branch the remote has (into packed-refs)
            remote_branch = refs.ref(workspace._git_dir(), f"refs/remotes/origin/{branch}")
            if remote_branch is None:
                remote_branch = workspace.git(
                    "rev-parse",
                    "--verify",
                    "--quiet",
                    "--end-of-options",
                    f"refs/remotes/origin/{branch}",
                    check=False,
                ).strip()
        if remote_branch and workspace._holds_this_run(f"origin/{branch}"):
            workspace.git("checkout", "--quiet", "-B", branch, f"origin/{branch}", "--")
        else:
            base = workspace._resolve(ref)
            workspace.git("checkout", "--quiet", "-B", branch, base, "--")
        if reused:  # a fresh clone's checkout is already exactly the commit, with nothing else
            # An index left by an earlier process may hide changes (flags, stat data): rebuild it
            # (remembered as gone, or the guard would put it back).
            hygiene.remove(workspace._git_dir() / "index")
            workspace._remember()
            workspace.git("reset", "--quiet", "--hard")
            workspace.git("clean", "-fdq")
        return workspace

    def _holds_this_run(self, rev: str) -> bool:
        """Whether ``rev``'s history has a commit of this run (any, without a run identity)."""
        if self.run_id is None:
            return True
        runs = self.git(
            "log",
            f"--format=%(trailers:key={trailers.RUN_TRAILER},valueonly)",
            "--end-of-options",
            rev,
            "--",
        )
        return self.run_id in {line.strip() for line in runs.splitlines()}

    def _resolve(self, ref: str) -> str:
        for candidate in (f"origin/{ref}", ref):
            done = self.git(
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                f"{candidate}^{{commit}}",
                check=False,
            ).strip()
            if done:
                return done
        raise WorkspaceError(f"ref {ref!r} does not exist in the repository; check spec.repo.ref")

    def head(self) -> str:
        """Return the current commit.

        Read from ``.git`` when HEAD names a branch with a loose ref or a commit (what
        Autopack's own checkouts and commits leave): a file read instead of a git process,
        asked once per attempt and once per commit. Anything else (a packed ref, reftable, a
        repository git would look for elsewhere) is git's to answer.
        """
        self._guard()  # HEAD as Autopack left it, not where a command's commit moved it
        return self._loose_head() or self.git("rev-parse", "HEAD").strip()

    def _loose_head(self) -> str | None:
        return refs.loose_head(self._git_dir())

    def rollback(self, to: str) -> None:
        """Discard every change since ``to`` (tracked and untracked)."""
        if to.startswith("-"):
            raise WorkspaceError(f"refusing to reset to {to!r}: not a commit")
        # git reset (2.39) rejects --end-of-options; the check above keeps `to` an argument.
        self.git("reset", "--quiet", "--hard", to, "--")
        self.git("clean", "-fdq")

    def diff(self, since: str) -> str:
        """Return the diff of the working tree (new files included) against ``since``."""
        self.git("add", "--all", "--intent-to-add")
        return self.git("diff", "--no-ext-diff", "--no-textconv", "--end-of-options", since, "--")

    @property
    def token(self) -> str | None:
        """The git secret this workspace pushes with (a forge API accepts the same token)."""
        return self._credentials[1] if self._credentials else None

    def changed_files(self) -> list[str]:
        """Paths changed in the working tree since HEAD (tracked or new)."""
        return [change.path for change in hygiene.parse_status(self.git(*_STATUS))]

    def snapshot(self, paths: Iterable[str]) -> dict[str, bytes | None]:
        """The current bytes of ``paths`` (None: absent), to pass to :meth:`discard_side_effects`.

        Taken right after the governed apply, it lets the commit hold exactly what the apply
        wrote even when a later command rewrote an accepted file.
        """
        return {path: hygiene.read_file(self.root, path) for path in paths}

    def discard_side_effects(
        self, accepted: Iterable[str] | Mapping[str, bytes | None]
    ) -> list[str]:
        """Take back every change since HEAD that is not an accepted edit; return what it was.

        ``accepted`` are the paths the governed apply (and a successful mitigation) changed, or
        a :meth:`snapshot` of them. Other modified or deleted tracked files are restored from
        HEAD, new files and directories removed (ignored ones stay: they are never committed),
        accepted files a command rewrote are put back to their snapshot, and ``.git`` changes
        (hooks, config, attributes, exclude file, index, HEAD and branch) are undone first, so
        ``git status`` sees every change. The result names each path, for the report.
        """
        keep = hygiene.normalize_accepted(accepted)
        self._guard()
        discarded, self.restored = list(self.restored), []
        listed = self.git(*_STATUS)
        if hygiene.has_staged_changes(listed):  # unstage them: each change is then the tree's
            self.git("reset", "--quiet")
            listed = self.git(*_STATUS)
        status = hygiene.parse_status(listed)
        tracked = [c.path for c in status if c.path not in keep and c.tracked]
        for start in range(0, len(tracked), 500):
            self.git("checkout", "--quiet", "HEAD", "--", *tracked[start : start + 500])
        discarded += tracked
        # Untracked files after the tracked ones: a restored .gitignore may reveal more (with
        # nothing restored, the status just read still holds).
        if tracked:
            status = hygiene.parse_status(self.git(*_STATUS))
        for change in status:
            if change.path not in keep and not change.tracked:
                hygiene.remove_new(self.root, change.path)
                discarded.append(change.path)
        for path, data in keep.items():
            if data is ... or hygiene.read_file(self.root, path) == data:
                continue
            target = self.root / path
            hygiene.remove(target)
            if isinstance(data, bytes):
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
            discarded.append(f"{path} (changed after the governed apply)")
        return sorted(dict.fromkeys(discarded))

    def commit(self, message: str, *, paths: Iterable[str] | None = None) -> str:
        """Commit the changes to ``paths`` (default: every change); return the new commit.

        The message is signed with the run's identity trailer. Call
        :meth:`discard_side_effects` first: then every change left is a governed one.
        """
        if self.run_id is not None:
            message = f"{message.rstrip()}\n{trailers.RUN_TRAILER}: {self.run_id}"
        if paths is None:
            self.git("add", "--all")
        else:
            chosen = sorted(hygiene.normalize_accepted(paths))
            self.git("reset", "--quiet")
            for start in range(0, len(chosen), 500):
                self.git("add", "--all", "--", *chosen[start : start + 500])
        self.git("commit", "--quiet", "--no-verify", "--allow-empty", "-m", message)
        return self.head()

    def push(self) -> None:
        """Push the work branch (the branch is Autopack's own, so a lease is enough)."""
        self.git(
            "push",
            "--quiet",
            "--no-verify",
            "--no-recurse-submodules",
            "--force-with-lease",
            "--",
            "origin",
            f"HEAD:refs/heads/{self.branch}",
        )

    def completed_phases(self) -> dict[int, str]:
        """Phase index -> commit, from this run's ``Autopack-Phase`` trailers on the branch."""
        return dict(self._run_trailers()[0])

    def pending_approval(self) -> int | None:
        """Index of the phase whose change waits for approval as the branch's last commit."""
        return self._run_trailers()[1]

    def _run_trailers(self) -> tuple[dict[int, str], int | None]:
        """Completed phases and the pending phase, from one ``git log`` per commit at HEAD.

        History below a commit never changes, so the answer is kept for the HEAD it was read
        at (the run's start and its phase loop both ask) when HEAD is read from ``.git``. With
        a ``run_id`` only commits carrying ``Autopack-Run: <run_id>`` count, so a run never
        takes another run's commits (an earlier run of the same name) for its own.
        """
        self._guard()
        head = self._loose_head()
        if head is not None and self._trailer_cache is not None and self._trailer_cache[0] == head:
            return self._trailer_cache[1]
        log = self.git("log", trailers.RUN_LOG_FORMAT, "--end-of-options", "HEAD", "--")
        completed, pending = trailers.run_record(log, run_id=self.run_id)
        if head is not None:
            self._trailer_cache = (head, (completed, pending))
        return completed, pending

    def run_base(self) -> str:
        """Return the commit the run started from: the parent of its oldest Autopack commit.

        Autopack's commits are the phase, pending-approval and mitigation commits (trailers).
        """
        log = self.git("log", "--first-parent", trailers.BASE_LOG_FORMAT, "HEAD", "--")
        return trailers.run_base(log, head=self.head())

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
        self.git(
            "push",
            "--quiet",
            "--no-verify",
            "--force",
            "--",
            "origin",
            f"{head}:refs/heads/{backup}",
        )
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
        self.git("cherry-pick", "--no-commit", "--end-of-options", commit)
        self.git("reset", "--quiet")
