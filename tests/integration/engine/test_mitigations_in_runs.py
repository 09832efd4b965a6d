"""Known failures fixed deterministically between attempts, recorded on the attempt."""

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from autopack import events, settings
from tests.builders.python_env import make_wheel, project_venv
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario, file_block

pytestmark = pytest.mark.slow


def test_wrong_test_path_is_fixed_by_a_mitigation_without_any_model_diagnosis(
    tmp_path: Path,
) -> None:
    scenario = Scenario(
        tmp_path,
        extra_files={
            "backend/tests/test_api.py": "def test_api() -> None:\n    assert True\n",
        },
    )
    scenario.builder.set(
        "spec.toolchain",
        {"test": "python -m pytest -q -p no:asyncio -p no:kmock tests/test_api.py"},
    )
    scenario.phase("Add reading time", deliverables=["textstats/reading.py"])
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING}, {"text": GOOD_READING}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded", outcome.message
    failed = [e for e in scenario.of_type(events.AttemptFinished) if e.result.outcome == "failed"]
    assert len(failed) == 1
    assert failed[0].result.mitigation == "wrong-working-directory: run the tests from backend/"
    ran = scenario.of_type(events.TestsRan)
    assert ran[-1].outcome.passed == 1
    assert scenario.prompts("doctor") == []


def test_failure_signatures_are_normalized(tmp_path: Path) -> None:
    scenario = Scenario(tmp_path).phase("Add reading time", deliverables=["textstats/reading.py"])
    scenario.builder.budget(maxAttemptsPerPhase=1)
    outcome = scenario.run({"responses": {"builder": [{"text": "no blocks at all"}] * 2}})
    assert outcome.state == "Failed"
    [failed] = [
        e.result.failure
        for e in scenario.of_type(events.AttemptFinished)
        if e.result.outcome == "failed"
    ]
    assert failed is not None
    assert failed.category == "malformed"
    assert failed.signature.text == (
        "unparseable Builder output: no '=== FILE:', '=== EDIT:' or '=== DELETE:' block found"
    )


def test_a_missing_module_is_installed_and_declared_without_any_model_diagnosis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    make_wheel(wheels, "tinydep")
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(wheels))
    # The demo project does not declare tinydep: only allowed_installs lets a mitigation add it.
    config = tmp_path / "config"
    shutil.copytree(settings.config_dir(), config)
    hardening = yaml.safe_load((config / "hardening.yaml").read_text())
    hardening["allowed_installs"]["python"] = ["tinydep"]
    (config / "hardening.yaml").write_text(yaml.safe_dump(hardening))
    monkeypatch.setenv("AUTOPACK_CONFIG_DIR", str(config))
    python = project_venv(tmp_path / "project-venv")
    scenario = Scenario(tmp_path)
    # The project's interpreter lives in pytest's temporary directory, which the sandbox's
    # private /tmp hides (and the install writes there): this test is about the mitigation.
    scenario.sandbox = "none"
    scenario.builder.set(
        "spec.toolchain", {"test": f"{python} -m pytest -q -p no:asyncio -p no:kmock"}
    )
    scenario.phase("Add a scale constant", deliverables=["textstats/scale.py"])
    uses_tinydep = file_block(
        "textstats/scale.py",
        '"""Scale."""\n\nimport tinydep\n\nSCALE = tinydep.VALUE\n',
    ) + file_block(
        "tests/test_scale.py",
        "from textstats.scale import SCALE\n\n\ndef test_scale() -> None:\n"
        "    assert SCALE == 42\n",
    )
    outcome = scenario.run(
        {
            "responses": {
                "builder": [{"text": uses_tinydep}, {"text": uses_tinydep}],
                "auditor": [APPROVE],
            }
        }
    )
    assert outcome.state == "Succeeded", outcome.message
    failed, passed = (e.result for e in scenario.of_type(events.AttemptFinished))
    assert failed.failure is not None
    assert failed.failure.signature.text.startswith("<n> passed")
    assert failed.mitigation is not None
    assert failed.mitigation.startswith(
        "missing-python-module: installed tinydep and declared it in pyproject.toml ("
    )
    assert "pip install --quiet tinydep (allowed by allowed_installs): installed" in (
        failed.mitigation
    )
    assert failed.doctor_decision is None
    assert passed.outcome == "passed"
    assert scenario.prompts("doctor") == []
    assert 'dependencies = [\n    "tinydep",\n]' in scenario.branch_file("pyproject.toml")
    assert scenario.branch_log()[:2] == [
        "autopack: phase 0 Add a scale constant",
        "autopack: missing-python-module in phase 0",
    ]
    installed = subprocess.run(
        [str(python), "-m", "pip", "show", "tinydep"], capture_output=True, text=True, check=False
    )
    assert "Version: 1.0" in installed.stdout
