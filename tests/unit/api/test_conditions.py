from datetime import UTC, datetime, timedelta

from autopack.api import Condition, conditions

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = T0 + timedelta(minutes=5)


def test_new_condition_is_added_and_reported_as_change() -> None:
    items: list[Condition] = []
    changed = conditions.set_condition(
        items, type="Ready", status="False", reason="Running", message="1/3", now=T0
    )
    assert changed
    assert items[0].type == "Ready"
    assert items[0].last_transition_time == T0


def test_same_condition_again_is_not_a_change() -> None:
    items: list[Condition] = []
    conditions.set_condition(items, type="Ready", status="False", reason="Running", now=T0)
    assert not conditions.set_condition(
        items, type="Ready", status="False", reason="Running", now=T1
    )
    assert items[0].last_transition_time == T0


def test_transition_time_moves_only_when_status_changes() -> None:
    items: list[Condition] = []
    conditions.set_condition(items, type="Succeeded", status="Unknown", reason="Running", now=T0)
    assert conditions.set_condition(
        items, type="Succeeded", status="Unknown", reason="Planning", message="cloning", now=T1
    )
    assert items[0].last_transition_time == T0
    assert items[0].reason == "Planning"
    assert conditions.set_condition(
        items, type="Succeeded", status="True", reason="RunSucceeded", now=T1
    )
    assert items[0].last_transition_time == T1


def test_observed_generation_update_is_a_change() -> None:
    items: list[Condition] = []
    conditions.set_condition(
        items, type="Ready", status="True", reason="Done", now=T0, observed_generation=1
    )
    assert conditions.set_condition(
        items, type="Ready", status="True", reason="Done", now=T0, observed_generation=2
    )
    assert items[0].observed_generation == 2


def test_lookup_and_removal() -> None:
    items: list[Condition] = []
    conditions.set_condition(items, type="Stalled", status="True", reason="PlanInvalid", now=T0)
    conditions.set_condition(items, type="Ready", status="False", reason="Failed", now=T0)
    assert conditions.is_condition_true(items, "Stalled")
    assert not conditions.is_condition_true(items, "Ready")
    assert not conditions.is_condition_true(items, "Reconciling")
    assert conditions.remove_condition(items, "Stalled")
    assert not conditions.remove_condition(items, "Stalled")
    assert [c.type for c in items] == ["Ready"]


def test_condition_serialises_in_metav1_shape() -> None:
    items: list[Condition] = []
    conditions.set_condition(
        items, type="Ready", status="True", reason="RunSucceeded", now=T0, observed_generation=3
    )
    assert items[0].to_api() == {
        "type": "Ready",
        "status": "True",
        "observedGeneration": 3,
        "lastTransitionTime": "2026-01-01T00:00:00Z",
        "reason": "RunSucceeded",
        "message": "",
    }


def test_reasons_are_camel_case_identifiers() -> None:
    reasons = [str(reason) for reason in conditions.Reason]
    assert "InternalError" in reasons
    for reason in reasons:
        assert reason[0].isupper(), reason
        assert reason.isalnum(), reason
