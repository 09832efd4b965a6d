"""Intention memory inside real runs: recall in prompts, drift recorded, blocking by config."""

import shutil
from pathlib import Path

import pytest
import yaml

from autopack import events, settings
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario

pytestmark = pytest.mark.slow


def reading_scenario(tmp_path: Path) -> Scenario:
    scenario = Scenario(tmp_path)
    scenario.builder.set(
        "spec.intention",
        "Goal: a tiny text statistics library: word counts "
        "and reading time.\nNon-goals: a web interface",
    )
    return scenario.phase("Add reading time", deliverables=["textstats/reading.py::reading_time"])


def test_drift_is_checked_and_memory_reaches_the_prompts(tmp_path: Path) -> None:
    scenario = reading_scenario(tmp_path)
    outcome = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert outcome.state == "Succeeded"
    [drift] = [e.outcome for e in scenario.of_type(events.DriftChecked)]
    assert drift.provider in ("minilm", "hashing-lexical")
    assert drift.lexical == (drift.provider == "hashing-lexical")
    assert not drift.blocks
    assert "a tiny text statistics library" in scenario.prompts("builder")[0]
    assert "a tiny text statistics library" in scenario.prompts("auditor")[0]


def test_tagged_markdown_runs_without_a_planner_call(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path)
    scenario.builder.plan(
        "## Add reading time [complexity:low] [paths:textstats/,tests/]\n"
        "- Deliverables: textstats/reading.py\n- empty text takes 0 minutes\n"
    )
    outcome = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert outcome.state == "Succeeded"
    [ready] = scenario.of_type(events.PlanReady)
    assert (ready.source, ready.model_calls) == ("markdown", 0)
    assert scenario.prompts("planner") == []


def test_blocking_drift_mode_stops_an_off_goal_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "config"
    shutil.copytree(settings.config_dir(), config)
    memory = yaml.safe_load((config / "memory.yaml").read_text())
    memory["drift"]["mode"] = "blocking"
    memory["drift"]["thresholds"] = {name: 0.99 for name in memory["drift"]["thresholds"]}
    (config / "memory.yaml").write_text(yaml.safe_dump(memory))
    monkeypatch.setenv("AUTOPACK_CONFIG_DIR", str(config))
    scenario = reading_scenario(tmp_path)
    scenario.builder.budget(maxAttemptsPerPhase=1)
    outcome = scenario.run(
        {"responses": {"builder": [{"text": GOOD_READING}], "auditor": [APPROVE]}}
    )
    assert outcome.state == "Failed"
    assert "goal drift" in (outcome.results[0].failure or "")
    assert scenario.of_type(events.DriftChecked)[0].outcome.blocks
