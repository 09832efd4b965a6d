"""The few forge endpoints a run needs: find the work branch's open request, then open or update it.

One request per work branch: a re-run, a resumed run or a retried run updates the request it
opened instead of opening another. The forge is told by ``spec.repo.pullRequest`` or guessed
from the repository's host; the token is the run's git token (never logged: errors are
redacted and carry only the forge's status and message).
"""

import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from autopack import redaction
from autopack.api.run import ForgeName, PullRequestSpec

TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class ForgeError(RuntimeError):
    """The forge refused or could not be reached; the message says which request and why."""


@dataclass(frozen=True)
class PullRequest:
    """An open request for the run's branch."""

    url: str
    number: int
    created: bool


class Forge(Protocol):
    """Opens or updates the request of one head branch."""

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        """The branch's open request, updated, or a new one."""


_SCP = re.compile(r"^[\w.-]+@([\w.-]+):(.+)$")


def _host_and_path(repo_url: str) -> tuple[str, str]:
    """The repository's host and path (``owner/name``) from an https, ssh or scp-like URL."""
    scp = _SCP.match(repo_url)
    if scp:
        host, path = scp.group(1), scp.group(2)
    else:
        parts = urllib.parse.urlsplit(repo_url)
        host, path = parts.hostname or "", parts.path
    path = path.strip("/").removesuffix(".git")
    return host.lower(), path


def forge_for(
    spec: PullRequestSpec,
    *,
    repo_url: str,
    token: str | None,
    client: httpx.Client | None = None,
) -> Forge:
    """The forge client for a run's repository; ForgeError when it cannot be told or reached."""
    host, path = _host_and_path(repo_url)
    provider: ForgeName | None = spec.provider
    if provider is None:
        if host == "github.com" or host.endswith(".github.com"):
            provider = "github"
        elif "gitlab" in host:
            provider = "gitlab"
        else:
            raise ForgeError(
                f"cannot tell which forge hosts {host or repo_url!r}: set "
                "spec.repo.pullRequest.provider (github, gitlab or gitea) and apiURL"
            )
    repository = spec.repository or path
    if not repository or "/" not in repository:
        raise ForgeError(
            f"cannot read owner/name from {repo_url!r}: set spec.repo.pullRequest.repository"
        )
    if not token:
        raise ForgeError(
            "a pull request needs a token with API access: put it in the git credentials "
            "(spec.repo.credentialsSecret key 'token', or AUTOPACK_GIT_TOKEN)"
        )
    redaction.register(token)
    defaults = {
        "github": "https://api.github.com",
        "gitlab": f"https://{host}/api/v4",
        "gitea": f"https://{host}/api/v1",
    }
    api = (spec.api_url or defaults[provider]).rstrip("/")
    http = client or httpx.Client(timeout=TIMEOUT)
    kinds: dict[ForgeName, type[_Forge]] = {"github": GitHub, "gitlab": GitLab, "gitea": Gitea}
    return kinds[provider](http=http, api=api, repository=repository, token=token)


@dataclass
class _Forge:
    http: httpx.Client
    api: str
    repository: str
    token: str

    def _headers(self) -> dict[str, str]:
        raise NotImplementedError

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        """The branch's open request, updated, or a new one."""
        raise NotImplementedError

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        url = f"{self.api}{path}"
        try:
            response = self.http.request(method, url, headers=self._headers(), **kwargs)
        except httpx.HTTPError as exc:
            message = f"{method} {url}: {type(exc).__name__}: {exc}"
            raise ForgeError(redaction.redact(message)) from None
        if response.status_code >= 400:
            detail = response.text[:300].replace("\n", " ")
            raise ForgeError(
                redaction.redact(f"{method} {url}: HTTP {response.status_code}: {detail}")
            )
        return response.json() if response.content else None


class GitHub(_Forge):
    """GitHub's REST API (pulls)."""

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        """Update the branch's open pull request, or open one."""
        owner = self.repository.split("/", 1)[0]
        pulls = f"/repos/{self.repository}/pulls"
        found = self._call("GET", pulls, params={"head": f"{owner}:{head}", "state": "open"})
        if found:
            number = int(found[0]["number"])
            updated = self._call("PATCH", f"{pulls}/{number}", json={"title": title, "body": body})
            return PullRequest(str(updated["html_url"]), number, created=False)
        data = {"title": title, "head": head, "base": base, "body": body, "draft": draft}
        created = self._call("POST", pulls, json=data)
        return PullRequest(str(created["html_url"]), int(created["number"]), created=True)


class GitLab(_Forge):
    """GitLab's REST API v4 (merge requests)."""

    def _headers(self) -> dict[str, str]:
        return {"PRIVATE-TOKEN": self.token}

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        """Update the branch's open merge request, or open one."""
        project = urllib.parse.quote(self.repository, safe="")
        requests = f"/projects/{project}/merge_requests"
        title = f"Draft: {title}" if draft else title
        found = self._call(
            "GET",
            requests,
            params={"source_branch": head, "target_branch": base, "state": "opened"},
        )
        if found:
            iid = int(found[0]["iid"])
            updated = self._call(
                "PUT", f"{requests}/{iid}", json={"title": title, "description": body}
            )
            return PullRequest(str(updated["web_url"]), iid, created=False)
        data = {"source_branch": head, "target_branch": base, "title": title, "description": body}
        created = self._call("POST", requests, json=data)
        return PullRequest(str(created["web_url"]), int(created["iid"]), created=True)


class Gitea(_Forge):
    """Gitea's (and Forgejo's) REST API v1 (pulls)."""

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"token {self.token}"}

    def open_or_update(
        self, *, head: str, base: str, title: str, body: str, draft: bool
    ) -> PullRequest:
        """Update the branch's open pull request, or open one."""
        pulls = f"/repos/{self.repository}/pulls"
        title = f"WIP: {title}" if draft else title
        found = [
            pull
            for pull in self._call("GET", pulls, params={"state": "open"}) or []
            if (pull.get("head") or {}).get("ref") == head
            and (pull.get("base") or {}).get("ref") == base
        ]
        if found:
            number = int(found[0]["number"])
            updated = self._call("PATCH", f"{pulls}/{number}", json={"title": title, "body": body})
            return PullRequest(str(updated["html_url"]), number, created=False)
        data = {"title": title, "head": head, "base": base, "body": body}
        created = self._call("POST", pulls, json=data)
        return PullRequest(str(created["html_url"]), int(created["number"]), created=True)
