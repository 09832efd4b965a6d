"""Prompts laid out for provider caches: stable blocks first, the attempt's failure last."""

from autopack.agents import auditing, building, planning
from autopack.api import PhaseDefinition

PHASE = PhaseDefinition(
    title="Add slugify",
    goal="Add a slugify() helper",
    deliverables=["src/text.py::slugify"],
    scope={"allowedPaths": ["src/", "tests/"]},
)


def builder(feedback: list[str], extra: str = "") -> list[tuple[str, bool]]:
    prompt = building.build_prompt(
        edit_format="=== FILE: path",
        phase=PHASE,
        context="## Repository map\nsrc/text.py: def title()",
        feedback=feedback,
        intention="a tiny text library",
        extra_context=extra,
    )
    assert prompt.breakpoints() <= 4
    return [(b.text, b.cache) for b in prompt.system] + [
        (b.text, b.cache) for m in prompt.messages for b in m.blocks
    ]


def cached_prefix(blocks: list[tuple[str, bool]]) -> list[str]:
    last = max(i for i, (_, cache) in enumerate(blocks) if cache)
    return [text for text, _ in blocks[: last + 1]]


def test_attempts_of_a_phase_share_everything_up_to_the_last_breakpoint() -> None:
    first = builder([])
    second = builder(["New test failure: test_slugify"], extra="--- tests/test_text.py\n...")
    assert cached_prefix(first) == cached_prefix(second)
    assert "test_slugify" in second[-1][0]
    assert "tests/test_text.py" in second[-1][0]
    assert not second[-1][1]  # the failure is never part of the cached prefix


def test_order_is_instructions_then_repository_then_phase() -> None:
    texts = [text for text, _ in builder([])]
    assert texts[0].startswith("You are the Builder")
    assert texts[1].startswith("# Repository")
    assert texts[2].startswith("# Phase: Add slugify")


def test_the_plain_string_prompts_still_work() -> None:
    user = building.build_user_prompt(phase=PHASE, context="ctx", feedback=["x failed"])
    assert "x failed" in user
    assert building.build_system_prompt(edit_format="F").endswith("F")


def test_auditor_and_planner_keep_their_stable_parts_in_front() -> None:
    audit = auditing.build_audit_layout(phase=PHASE, diff="+x", test_summary="3 passed")
    assert audit.messages[0].blocks[0].cache
    assert "+x" in audit.messages[0].blocks[-1].text
    plan = planning.build_planner_layout(plan_text="notes", repository_files=["a.py"])
    again = plan.then([("assistant", "{}"), ("user", "did not validate")])
    assert again.messages[0] == plan.messages[0]
