"""Result delivery: open or update a pull (merge) request on GitHub, GitLab or Gitea/Forgejo."""

from autopack.forge.pullrequests import ForgeError, PullRequest, forge_for
from autopack.forge.summary import describe_run

__all__ = ["ForgeError", "PullRequest", "describe_run", "forge_for"]
