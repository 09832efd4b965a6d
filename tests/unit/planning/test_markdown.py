from autopack.planning import load_planning_config, parse_markdown_plan

CONFIG = load_planning_config().markdown


def parse(text: str):  # type: ignore[no-untyped-def]
    return parse_markdown_plan(text, known_tags=CONFIG.known_tags, tag_aliases=CONFIG.tag_aliases)


def test_headings_with_tags_become_phases_without_the_planner() -> None:
    plan = parse(
        "# Shop plan\n"
        "Context nobody needs to act on.\n\n"
        "## Add JWT auth [complexity:high] [category:feature] [paths:services/auth/,tests/]\n"
        "Issue signed tokens on login.\n"
        "- tokens expire after one hour\n"
        "- a bad signature gives 401\n\n"
        "## Document the API [category:docs] [read_only:services/]\n"
        "### Deliverables\n"
        "- docs/auth.md\n"
        "### Acceptance criteria\n"
        "- every endpoint has an example\n"
    )
    assert plan.structured
    assert [p.title for p in plan.phases] == ["Add JWT auth", "Document the API"]
    auth, docs = plan.phases
    assert auth.tags == {
        "complexity": ["high"],
        "category": ["feature"],
        "paths": ["services/auth/", "tests/"],
    }
    assert auth.goal == "Issue signed tokens on login."
    assert auth.criteria == ["tokens expire after one hour", "a bad signature gives 401"]
    assert docs.deliverables == ["docs/auth.md"]
    assert docs.criteria == ["every endpoint has an example"]
    assert docs.tags["read_only"] == ["services/"]


def test_bullets_with_indented_criteria_become_phases() -> None:
    plan = parse(
        "- Add login: users sign in with a password [paths:services/auth/]\n"
        "  - wrong password is refused\n"
        "    - and logged\n"
        "- Fix invoices [category:fix] [validation:pytest -q services/billing; ruff check .]\n"
    )
    assert plan.structured
    login, invoices = plan.phases
    assert (login.title, login.goal) == ("Add login", "users sign in with a password")
    assert login.criteria == ["wrong password is refused", "and logged"]
    assert invoices.tags["validation"] == ["pytest -q services/billing", "ruff check ."]


def test_special_bullets_set_deliverables_and_validation() -> None:
    plan = parse(
        "## Totals [complexity:low]\n"
        "- Deliverables: `services/billing/billing/totals.py`, "
        "services/billing/tests/test_totals.py\n"
        "- Validation: `python -m pytest -q services/billing`\n"
        "- totals include tax\n"
    )
    phase = plan.phases[0]
    assert phase.deliverables == [
        "services/billing/billing/totals.py",
        "services/billing/tests/test_totals.py",
    ]
    assert phase.validation == ["python -m pytest -q services/billing"]
    assert phase.criteria == ["totals include tax"]


def test_messy_notes_are_not_structured_and_say_why() -> None:
    plan = parse("we need auth somehow, maybe JWT? also fix the flaky tests and write docs")
    assert not plan.structured
    assert plan.phases == []
    assert plan.reason == "no headings or bullet lists name phases"


def test_untagged_bullets_need_the_planner() -> None:
    plan = parse("- auth\n- flaky tests\n- docs\n")
    assert not plan.structured
    assert plan.reason.startswith("3 of 3 phases have no tags or acceptance criteria")


def test_unknown_tags_are_warned_about_with_their_line() -> None:
    plan = parse("- Add auth [paths:src/] [colour:blue]\n")
    assert plan.structured
    assert plan.warnings == [
        "line 1: unknown tag [colour:blue]; known tags: complexity, category, paths, "
        "read_only, deliverables, validation, depends_on, id"
    ]


def test_tag_aliases_are_understood() -> None:
    plan = parse("- Add auth [path:src/] [readonly:docs/] [after:setup]\n")
    assert plan.phases[0].tags == {
        "paths": ["src/"],
        "read_only": ["docs/"],
        "depends_on": ["setup"],
    }


def test_code_spans_and_fences_do_not_create_phases() -> None:
    plan = parse(
        "## Setup [complexity:low]\n```\n- not a phase\n## nor this\n```\n- real criterion\n"
    )
    assert [p.title for p in plan.phases] == ["Setup"]
    assert plan.phases[0].criteria == ["real criterion"]
