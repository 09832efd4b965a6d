import pytest

from autopack.api import AutopackRun, ResourceInvalidError, common, constants, loading, phase, run
from tests.builders.api import a_phase, a_run


def test_minimal_run_gets_documented_defaults() -> None:
    run = a_run().obj()
    assert run.spec.repo.ref == "main"
    assert run.push_branch == "autopack/demo"
    assert run.spec.budgets.tokens == 2_000_000
    assert run.spec.budgets.max_attempts_per_phase == 4
    assert run.spec.approval.policy == "risky"
    assert run.spec.models.profile == "default"
    assert run.spec.phases[0].complexity == "medium"
    assert run.status is None


def test_camel_case_round_trip_keeps_cost_usd_spelling() -> None:
    run = a_run().budget(costUSD=2.5).obj()
    data = run.to_api()
    assert data["spec"]["budgets"]["costUSD"] == 2.5
    assert "maxAttemptsPerPhase" in data["spec"]["budgets"]
    assert AutopackRun.model_validate(data, by_alias=True) == run


def test_snake_case_field_names_are_rejected_in_run_files() -> None:
    doc = a_run().budget(max_attempts_per_phase=3).dict()
    with pytest.raises(ResourceInvalidError) as caught:
        loading.parse_run(doc, source="run.yaml")
    assert "spec.budgets.max_attempts_per_phase: unknown field" in str(caught.value)
    assert "did you mean 'maxAttemptsPerPhase'?" in str(caught.value)


def test_push_branch_equal_to_base_is_refused() -> None:
    doc = a_run().set("spec.repo.pushBranch", "main").dict()
    with pytest.raises(ResourceInvalidError, match=r"pushBranch must differ from spec.repo.ref"):
        loading.parse_run(doc, source="run.yaml")


def test_depends_on_must_name_known_phases() -> None:
    doc = a_run().phase("Second", id="second", dependsOn=["first"]).dict()
    with pytest.raises(ResourceInvalidError, match=r"dependsOn names unknown phase ids: first"):
        loading.parse_run(doc, source="run.yaml")


def test_duplicate_phase_ids_are_refused() -> None:
    doc = a_run().phase("B", id="same").phase("C", id="same").dict()
    with pytest.raises(ResourceInvalidError, match=r"phase ids must be unique; repeated: same"):
        loading.parse_run(doc, source="run.yaml")


def test_long_run_name_is_refused_because_child_names_would_overflow() -> None:
    doc = a_run("a" * 46).dict()
    with pytest.raises(ResourceInvalidError, match=r"at most 45 characters"):
        loading.parse_run(doc, source="run.yaml")


def test_child_names_are_deterministic() -> None:
    assert constants.phase_object_name("demo", 3) == "demo-p03"
    assert constants.runner_job_name("demo", 2) == "demo-runner-2"


def test_phase_object_carries_run_and_index() -> None:
    phase = a_phase("demo", 2, approved=True)
    assert phase.metadata.name == "demo-p02"
    assert phase.spec.index == 2
    assert phase.spec.approved
    assert phase.to_api()["spec"]["runName"] == "demo"


def test_every_api_field_is_documented() -> None:
    undocumented = [
        f"{model.__name__}.{name}"
        for module in (common, phase, run)
        for model in vars(module).values()
        if isinstance(model, type) and issubclass(model, common.ApiModel)
        for name, field in model.model_fields.items()
        if not field.description
    ]
    assert undocumented == []
