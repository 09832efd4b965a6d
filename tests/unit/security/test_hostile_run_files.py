"""Malformed and hostile run files: bounded YAML, option-like values, structural refusals."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from autopack.api import loading, run, schema

HEADER = "apiVersion: autopack.dev/v1alpha1\nkind: AutopackRun\n"


def run_file(*, repo: str = "url: ./project", spec: str = "plan: do it", meta: str = "") -> str:
    return f"{HEADER}metadata:\n  name: demo\n{meta}spec:\n  repo: {{{repo}}}\n  {spec}\n"


def errors_of(text: str) -> list[str]:
    loaded, errors = loading.load_documents(text, source="run.yaml")
    assert not loaded or errors == []
    return [str(error) for error in errors]


BOMB = (
    HEADER
    + "metadata:\n  name: bomb\n  labels:\n"
    + "".join(
        f"    {name}: &{name} [{', '.join([f'*{prev}'] * 9) if prev else 'lol'}]\n"
        for prev, name in zip(["", *"abcdefgh"], "abcdefghi", strict=True)
    )
    + "spec:\n  repo: {url: ./x}\n  plan: p\n"
)


def test_a_billion_laughs_file_is_refused_quickly_with_a_clear_error() -> None:
    [error] = errors_of(BOMB)
    assert error.startswith("run.yaml: not valid YAML: line ")
    assert error.endswith(
        "aliases expand to more than 200,000 values (a YAML bomb?); "
        "write the values out or use fewer aliases"
    )


def test_deep_nesting_is_refused_without_a_recursion_error() -> None:
    text = run_file(spec="plan: " + "[" * 10_000 + "]" * 10_000)
    [error] = errors_of(text)
    assert "nested deeper than 64 levels" in error


def test_a_recursive_alias_is_refused() -> None:
    [error] = errors_of(run_file(meta="  labels: &a {x: *a}\n"))
    assert "not valid YAML" in error


def test_a_few_aliases_still_work() -> None:
    text = run_file(spec="plan: &p do it\n  intention: *p")
    assert errors_of(text) == []


@pytest.mark.parametrize(
    ("repo", "reason"),
    [
        ("url: '--upload-pack=touch /tmp/pwned'", "must not begin with '-'"),
        ("url: '-oProxyCommand=x'", "must not begin with '-'"),
        ("url: 'ext::sh -c touch% /tmp/pwned'", "unsupported transport"),
        ("url: 'fd::17'", "unsupported transport"),
        ("url: 'http://example.com/r.git'", "http:// would send credentials in clear text"),
        ("url: 'hg://example.com/r'", "unsupported transport"),
        ("url: 'ssh://-oProxyCommand=x/r'", "is not a repository URL"),
        ("url: ./x, ref: '--orphan'", "must not begin with '-'"),
        ("url: ./x, pushBranch: '-f'", "must not begin with '-'"),
    ],
)
def test_option_like_values_and_unknown_transports_are_refused(repo: str, reason: str) -> None:
    [error] = errors_of(run_file(repo=repo))
    assert reason in error


@pytest.mark.parametrize(
    "url",
    [
        "https://github.com/org/repo.git",
        "ssh://git@github.com/org/repo.git",
        "git@github.com:org/repo.git",
        "git://example.com/repo",
        "file:///srv/git/repo.git",
        "/srv/git/repo.git",
        "./project",
        "../sibling",
    ],
)
def test_the_supported_transports_are_accepted(url: str) -> None:
    assert errors_of(run_file(repo=f"url: '{url}'")) == []


def test_the_crd_patterns_agree_with_the_validators() -> None:
    repo = schema.build_run_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    repo = repo["properties"]["spec"]["properties"]["repo"]["properties"]
    assert repo["url"]["pattern"] == run.REPO_URL_PATTERN
    assert repo["ref"]["pattern"] == run.GIT_REF_PATTERN
    assert repo["pushBranch"]["pattern"] == run.GIT_REF_PATTERN
    for bad in ("--upload-pack=x", "ext::sh", "fd::3", "-x", "a b"):
        assert not re.match(run.REPO_URL_PATTERN, bad), bad
    assert not re.match(run.GIT_REF_PATTERN, "-b")


@pytest.mark.parametrize(
    ("scope", "reason"),
    [
        ("allowedPaths: ['../outside/']", "contains '..'"),
        ("allowedPaths: ['src/../../etc/']", "contains '..'"),
        ("allowedPaths: ['/etc/']", "is absolute"),
        ("readOnlyContext: ['~/.ssh/']", "is absolute"),
        ("allowedPaths: ['.git/hooks/']", "is inside .git/"),
    ],
)
def test_validate_refuses_scopes_outside_the_repository(scope: str, reason: str) -> None:
    spec = f"phases:\n    - title: t\n      goal: g\n      scope: {{{scope}}}"
    [error] = errors_of(run_file(spec=spec))
    assert reason in error


def test_validate_refuses_depending_on_a_later_phase() -> None:
    spec = (
        "phases:\n    - {id: a, title: t, goal: g, dependsOn: [b]}\n"
        "    - {id: b, title: t, goal: g}"
    )
    [error] = errors_of(run_file(spec=spec))
    assert "does not come before it" in error


def test_validate_refuses_a_run_with_only_generate_name() -> None:
    text = f"{HEADER}metadata:\n  generateName: demo-\nspec:\n  repo: {{url: ./x}}\n  plan: p\n"
    [error] = errors_of(text)
    assert "metadata.name: required" in error


@pytest.mark.parametrize("name", ["AUTOPACK_GIT_TOKEN", "ANTHROPIC_API_KEY", "KUBERNETES_PORT"])
def test_toolchain_env_never_names_secrets(name: str) -> None:
    [error] = errors_of(run_file(spec=f"plan: p\n  toolchain: {{env: [{name}]}}"))
    assert "never passed to build and test commands" in error


@pytest.mark.slow
def test_autopack_validate_exits_1_without_a_traceback(tmp_path: Path) -> None:
    for name, text in (("bomb.yaml", BOMB), ("deep.yaml", run_file(spec="plan: " + "[" * 50_000))):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        done = subprocess.run(
            [str(Path(sys.executable).parent / "autopack"), "validate", str(path)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stdout + done.stderr
        assert "not valid YAML" in done.stdout + done.stderr
