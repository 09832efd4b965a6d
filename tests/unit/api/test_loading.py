import pytest
import yaml

from autopack.api import AutopackRun, Phase, loading
from tests.builders.api import a_phase, a_run


def errors_of(text: str | bytes) -> list[str]:
    loaded, errors = loading.load_documents(text, source="run.yaml")
    assert loaded == [] or errors, "expected at least one error"
    return [str(error) for error in errors]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda b: b.unset("spec.repo.url"),
            "run.yaml: document 1: spec.repo.url: required field is missing",
        ),
        (
            lambda b: b.budget(tokens="lots"),
            "run.yaml: document 1: spec.budgets.tokens: must be a valid integer, unable to parse "
            "string as an integer (got 'lots')",
        ),
        (
            lambda b: b.budget(tokens=-5),
            "run.yaml: document 1: spec.budgets.tokens: must be greater than or equal to 1000 "
            "(got -5)",
        ),
        (
            lambda b: b.budget(costUSD=1e9),
            "run.yaml: document 1: spec.budgets.costUSD: must be less than or equal to 10000 "
            "(got 1000000000.0)",
        ),
        (
            lambda b: b.budget(maxAttemptsPerPhase=0),
            "run.yaml: document 1: spec.budgets.maxAttemptsPerPhase: must be greater than or "
            "equal to 1 (got 0)",
        ),
        (
            lambda b: b.set("spec.budget", {"tokens": 1}),
            "run.yaml: document 1: spec.budget: unknown field; did you mean 'budgets'?",
        ),
        (
            lambda b: b.set("spec.phases", []),
            "run.yaml: document 1: spec: give spec.plan (text) or spec.phases (a list); "
            "both are empty",
        ),
        (
            lambda b: b.set("spec.phases", []).plan("   \n"),
            "run.yaml: document 1: spec: give spec.plan (text) or spec.phases (a list); "
            "both are empty",
        ),
        (
            lambda b: b.set("spec.approval.policy", "sometimes"),
            "run.yaml: document 1: spec.approval.policy: must be 'auto', 'risky' or 'always' "
            "(got 'sometimes')",
        ),
        (
            lambda b: b.set("spec.suspend", "maybe"),
            "run.yaml: document 1: spec.suspend: must be a valid boolean, unable to interpret "
            "input (got 'maybe')",
        ),
        (
            lambda b: b.set("spec.repo", "https://example.com/x.git"),
            "run.yaml: document 1: spec.repo: must be a valid dictionary or instance of RepoSpec "
            "(got 'https://example.com/x.git')",
        ),
        (
            lambda b: b.set("metadata.name", "Bad_Name"),
            "run.yaml: document 1: metadata.name: must match pattern",
        ),
        (
            lambda b: b.set("apiVersion", "autopack.dev/v1"),
            "run.yaml: document 1: apiVersion: expected 'autopack.dev/v1alpha1', "
            "got 'autopack.dev/v1'",
        ),
        (
            lambda b: b.set("kind", "Deployment"),
            "run.yaml: document 1: kind: 'Deployment' is not an Autopack kind; expected one of "
            "AutopackRun, Phase",
        ),
    ],
    ids=[
        "missing-repo-url",
        "wrong-type",
        "negative-budget",
        "absurd-budget",
        "zero-attempts",
        "unknown-field",
        "no-plan-no-phases",
        "blank-plan",
        "bad-enum",
        "bad-bool",
        "repo-not-mapping",
        "bad-name",
        "wrong-api-version",
        "foreign-kind",
    ],
)
def test_bad_run_is_reported_with_file_document_path_and_reason(change, expected) -> None:  # type: ignore[no-untyped-def]
    errors = errors_of(change(a_run()).yaml())
    assert any(error.startswith(expected) for error in errors), errors


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "run.yaml: holds no YAML documents; expected an AutopackRun"),
        (b"# only a comment\n", "run.yaml: holds no YAML documents"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "run.yaml: not UTF-8 text (byte 0x89 at offset 0)"),
        (b"spec: [unclosed", "run.yaml: not valid YAML: line 1, column 16"),
        (
            b"kind: AutopackRun\nkind: Phase\n",
            "run.yaml: not valid YAML: line 2, column 1: found duplicate key 'kind'",
        ),
        (b"- just\n- a list\n", "run.yaml: document 1: expected a mapping with apiVersion, kind,"),
        (b"plain words, not yaml mapping", "run.yaml: document 1: expected a mapping"),
    ],
    ids=["empty", "comment-only", "binary", "broken-yaml", "duplicate-key", "list", "scalar"],
)
def test_unusable_file_is_reported_without_crashing(content: bytes, expected: str) -> None:
    errors = errors_of(content)
    assert errors[0].startswith(expected), errors


def test_every_document_of_a_multi_document_file_is_checked() -> None:
    good = a_run("one").yaml()
    bad = a_run("two").budget(tokens=0).yaml()
    phase = yaml.safe_dump(a_phase().to_api())
    loaded, errors = loading.load_documents(
        "\n---\n".join([good, bad, "", phase]), source="multi.yaml"
    )
    assert [(d.document, type(d.resource)) for d in loaded] == [(1, AutopackRun), (4, Phase)]
    assert [str(e) for e in errors] == [
        "multi.yaml: document 2: spec.budgets.tokens: must be greater than or equal to 1000 (got 0)"
    ]


def test_all_errors_of_a_document_are_reported_at_once() -> None:
    doc = a_run().budget(tokens=-1, costUSD=-1).set("spec.colour", "blue").yaml()
    errors = errors_of(doc)
    assert len(errors) == 3


def test_summary_names_phases_repo_branch_and_budget() -> None:
    summary = loading.describe(a_run().obj())
    assert summary == (
        "AutopackRun demo: 1 phase, repo https://example.com/acme/app.git@main -> "
        "autopack/demo, budget 2,000,000 tokens / $10.00"
    )
