import pydantic
import pytest

from autopack.memory import MAX_ANCHOR_BYTES, IntentionAnchor, build_anchor
from tests.builders.api import RunBuilder, a_run

INTENTION = """\
Goal: add JWT authentication to the REST API so users log in with a token.

## Constraints
- keep the existing /health endpoint public
- passwords are hashed
  with bcrypt

**Non-goals:**
* a mobile app
* rewriting the frontend in React

Deliverables:
1. src/app/auth.py
2. tests/test_auth.py
"""


def size(anchor: IntentionAnchor) -> int:
    return len(anchor.render().encode("utf-8"))


def test_intention_sections_become_goal_constraints_non_goals_and_deliverables() -> None:
    spec = a_run().set("spec.intention", INTENTION).phase("Auth").obj().spec

    anchor = build_anchor(spec)

    assert anchor.source == "intention"
    assert anchor.goal == "add JWT authentication to the REST API so users log in with a token."
    assert anchor.constraints == (
        "keep the existing /health endpoint public",
        "passwords are hashed with bcrypt",
    )
    assert anchor.non_goals == ("a mobile app", "rewriting the frontend in React")
    assert anchor.deliverables == ("src/app/auth.py", "tests/test_auth.py")
    assert not anchor.truncated
    assert anchor.render() == (
        "Goal: add JWT authentication to the REST API so users log in with a token.\n"
        "Constraints:\n"
        "- keep the existing /health endpoint public\n"
        "- passwords are hashed with bcrypt\n"
        "Non-goals:\n"
        "- a mobile app\n"
        "- rewriting the frontend in React\n"
        "Key deliverables:\n"
        "- src/app/auth.py\n"
        "- tests/test_auth.py"
    )


def test_plain_intention_text_is_the_goal_and_phases_supply_the_deliverables() -> None:
    spec = (
        RunBuilder()
        .set("spec.intention", "A command-line todo app\nthat syncs with CalDAV.")
        .phase("Core", deliverables=["src/todo/core.py"])
        .phase("Sync", deliverables=["src/todo/caldav.py", "src/todo/core.py"])
        .obj()
        .spec
    )

    anchor = build_anchor(spec)

    assert anchor.goal == "A command-line todo app that syncs with CalDAV."
    assert anchor.deliverables == ("src/todo/core.py", "src/todo/caldav.py")
    assert anchor.constraints == ()


def test_without_intention_the_plan_title_and_opening_paragraph_are_the_goal() -> None:
    plan = (
        "# Shop checkout\n"
        "Let customers pay by card without leaving the site.\n\n"
        "## Add payments [complexity:high] [paths:services/pay/]\n"
        "- card payments through Stripe\n\n"
        "## Out of scope\n"
        "- PayPal\n"
    )
    spec = a_run().plan(plan).obj().spec

    anchor = build_anchor(spec)

    assert anchor.source == "plan"
    assert anchor.goal == "Shop checkout. Let customers pay by card without leaving the site."
    assert anchor.non_goals == ("PayPal",)
    assert "Stripe" not in anchor.render()  # phase details are not intention


def test_messy_notes_are_the_goal_and_normalized_phases_can_be_passed_in() -> None:
    notes = "we need auth somehow, maybe JWT? also fix the flaky tests and write docs"
    spec = RunBuilder().plan(notes).obj().spec
    normalized = RunBuilder().phase("Auth", deliverables=["src/auth.py"]).obj().spec.phases

    anchor = build_anchor(spec, phases=normalized)

    assert anchor.goal == notes
    assert anchor.deliverables == ("src/auth.py",)


def test_structured_phases_alone_give_a_goal_from_titles_and_goals() -> None:
    spec = (
        RunBuilder()
        .phase("Parser", goal="Parse CSV invoices", deliverables=["src/parse.py"])
        .phase("Report", goal="", deliverables=["src/report.py"])
        .obj()
        .spec
    )

    anchor = build_anchor(spec)

    assert anchor.source == "phases"
    assert anchor.goal == "Parser: Parse CSV invoices; Report"
    assert anchor.deliverables == ("src/parse.py", "src/report.py")


def test_inline_plan_tags_and_control_characters_never_reach_the_anchor() -> None:
    spec = (
        a_run()
        .set("spec.intention", "Goal: ship\x00 the\x1b[31m CLI [paths:src/]\u200b")
        .phase("x")
    )

    anchor = build_anchor(spec.obj().spec)

    assert anchor.goal == "ship the [31m CLI"


@pytest.mark.parametrize(
    "intention",
    [
        pytest.param("x" * 8192, id="one-huge-word"),
        pytest.param("Goal: " + "é" * 4000, id="multibyte-goal"),
        pytest.param("Goal: 🚀" + "🚀" * 2000, id="four-byte-characters"),
        pytest.param(
            "Constraints:\n" + "".join(f"- rule {i} " + "y" * 300 + "\n" for i in range(25)),
            id="many-long-constraints",
        ),
        pytest.param(
            "Goal: g\nNon-goals:\n"
            + "- n\n" * 2000
            + "Deliverables:\n"
            + "".join(f"- src/m{i}.py\n" for i in range(1000)),
            id="thousands-of-items",
        ),
    ],
)
def test_hostile_long_intentions_are_cut_to_two_kilobytes(intention: str) -> None:
    spec = a_run().set("spec.intention", intention[:8192]).phase("x").obj().spec

    anchor = build_anchor(spec)

    assert size(anchor) <= MAX_ANCHOR_BYTES
    assert anchor.truncated
    anchor.render().encode("utf-8").decode("utf-8")  # never cuts a character in half


def test_a_huge_plan_with_fifty_phases_of_a_hundred_deliverables_still_fits() -> None:
    builder = RunBuilder().plan("# " + "Big " * 3000 + "\n\n" + "word " * 10000)
    for index in range(50):
        builder.phase(
            f"Phase {index}", deliverables=[f"src/pkg{index}/mod{j}.py" for j in range(100)]
        )

    anchor = build_anchor(builder.obj().spec)

    assert size(anchor) <= MAX_ANCHOR_BYTES
    assert anchor.truncated
    assert anchor.deliverables[0] == "src/pkg0/mod0.py"


def test_every_section_keeps_some_items_when_all_are_long() -> None:
    long_items = "".join(f"- item {i} " + "z" * 190 + "\n" for i in range(8))
    intention = (
        f"Goal: {'g' * 590}\nConstraints:\n{long_items}Non-goals:\n{long_items}"
        f"Deliverables:\n{long_items}"
    )
    spec = a_run().set("spec.intention", intention).phase("x").obj().spec

    anchor = build_anchor(spec)

    assert size(anchor) <= MAX_ANCHOR_BYTES
    assert anchor.constraints
    assert anchor.non_goals
    assert len(anchor.constraints) >= len(anchor.deliverables)


def test_an_oversized_anchor_cannot_be_constructed_directly() -> None:
    with pytest.raises(pydantic.ValidationError, match="over the 2048-byte limit"):
        IntentionAnchor(goal="g" * 3000, source="intention")


def test_building_is_deterministic() -> None:
    spec = a_run().set("spec.intention", INTENTION).phase("Auth").obj().spec

    assert build_anchor(spec) == build_anchor(spec)
