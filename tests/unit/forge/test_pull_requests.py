import pytest

from autopack.api.run import ForgeName, PullRequestSpec
from autopack.forge import ForgeError, forge_for
from tests.fakes.forge_server import forge_server

TOKEN = "glpat-" + "x" * 24


@pytest.mark.parametrize(
    ("provider", "api_path"), [("github", ""), ("gitea", "/api/v1"), ("gitlab", "/api/v4")]
)
def test_a_request_is_opened_once_then_updated(provider: ForgeName, api_path: str) -> None:
    with forge_server(TOKEN) as (url, state):
        spec = PullRequestSpec(provider=provider, api_url=url + api_path, repository="acme/stats")
        forge = forge_for(spec, repo_url="https://forge.test/acme/stats.git", token=TOKEN)
        first = forge.open_or_update(
            head="autopack/demo", base="main", title="t1", body="b1", draft=False
        )
        again = forge.open_or_update(
            head="autopack/demo", base="main", title="t2", body="b2", draft=False
        )
    assert first.created
    assert not again.created
    assert again.number == first.number
    assert again.url == first.url
    assert len(state.pulls) == 1
    [pull] = state.pulls.values()
    assert pull["title"] == "t2"
    assert state.unauthorized == 0


def test_the_forge_is_guessed_from_the_host_and_a_missing_one_is_explained() -> None:
    spec = PullRequestSpec()
    with pytest.raises(ForgeError, match=r"set spec.repo.pullRequest.provider"):
        forge_for(spec, repo_url="https://git.example.org/acme/stats.git", token=TOKEN)
    with pytest.raises(ForgeError, match=r"needs a token"):
        forge_for(spec, repo_url="git@github.com:acme/stats.git", token=None)


def test_a_refusal_names_the_call_and_never_the_token() -> None:
    with forge_server("another-token-value") as (url, _):
        spec = PullRequestSpec(provider="github", api_url=url, repository="acme/stats")
        forge = forge_for(spec, repo_url="https://github.com/acme/stats", token=TOKEN)
        with pytest.raises(ForgeError) as refused:
            forge.open_or_update(head="h", base="main", title="t", body="b", draft=False)
    assert "HTTP 401" in str(refused.value)
    assert TOKEN not in str(refused.value)
