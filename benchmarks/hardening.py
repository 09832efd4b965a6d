"""Print JSON: on shipped failure scenarios, the share of failures resolved without a Doctor call
and the model tokens that avoided (issue: failure hardening).

The scenarios are real runs (real git repositories, real pytest) with the scripted provider:
a missing Python module (installed from a local wheel into the project's own virtualenv and
declared by a mitigation), a wrong test path (fixed by a mitigation), a scope mistake (fed back
by a mitigation), and a plain logic error (needs the Doctor). Run: .venv/bin/python benchmarks/hardening.py
"""

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autopack import events, settings
from tests.builders.python_env import make_wheel, project_venv
from tests.builders.scenario import APPROVE, GOOD_READING, Scenario, file_block

DOCTOR = {"text": '{"decision": "retry_with_hint", "confidence": 0.9, "hint": "fix it"}'}
BROKEN = GOOD_READING + file_block(
    "tests/test_counting.py",
    "from textstats import word_count\n\ndef test_counts_words():\n    assert word_count('a b') == 3\n",
)


def missing_module(tmp: Path) -> Scenario:
    (tmp / "wheels").mkdir()
    make_wheel(tmp / "wheels", "tinydep")
    python = project_venv(tmp / "project-venv")
    scenario = Scenario(tmp)
    scenario.builder.set(
        "spec.toolchain", {"test": f"{python} -m pytest -q -p no:asyncio -p no:kmock"}
    )
    scenario.phase("Add a scale constant", deliverables=["textstats/scale.py"])
    uses = file_block(
        "textstats/scale.py", "import tinydep\n\nSCALE = tinydep.VALUE\n"
    ) + file_block(
        "tests/test_scale.py",
        "from textstats.scale import SCALE\n\ndef test_scale():\n    assert SCALE\n",
    )
    # The demo project does not declare tinydep: only allowed_installs lets a mitigation add it.
    config = tmp / "config"
    shutil.copytree(settings.config_dir(), config)
    hardening = yaml.safe_load((config / "hardening.yaml").read_text())
    hardening["allowed_installs"]["python"] = ["tinydep"]
    (config / "hardening.yaml").write_text(yaml.safe_dump(hardening))
    names = ("PIP_NO_INDEX", "PIP_FIND_LINKS", "AUTOPACK_CONFIG_DIR")
    saved = {key: os.environ.get(key) for key in names}
    os.environ.update(
        PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp / "wheels"), AUTOPACK_CONFIG_DIR=str(config)
    )
    try:
        scenario.run({"responses": {"builder": [{"text": uses}] * 2, "auditor": [APPROVE]}})
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return scenario


def wrong_test_path(tmp: Path) -> Scenario:
    scenario = Scenario(
        tmp, extra_files={"backend/tests/test_api.py": "def test_api():\n    pass\n"}
    )
    scenario.builder.set(
        "spec.toolchain",
        {"test": "python -m pytest -q -p no:asyncio -p no:kmock tests/test_api.py"},
    )
    scenario.phase("Add reading time", deliverables=["textstats/reading.py"])
    scenario.run({"responses": {"builder": [{"text": GOOD_READING}] * 2, "auditor": [APPROVE]}})
    return scenario


def scope_mistake(tmp: Path) -> Scenario:
    scenario = Scenario(tmp).phase("Add reading time", deliverables=["textstats/reading.py"])
    outside = file_block("scripts/tool.py", "x = 1")
    scenario.run(
        {
            "responses": {
                "builder": [{"text": GOOD_READING + outside}, {"text": GOOD_READING}],
                "auditor": [APPROVE],
            }
        }
    )
    return scenario


def logic_error(tmp: Path) -> Scenario:
    scenario = Scenario(tmp).phase("Add reading time", deliverables=["textstats/reading.py"])
    scenario.run(
        {
            "responses": {
                "builder": [{"text": BROKEN}, {"text": GOOD_READING}],
                "doctor": [DOCTOR],
                "auditor": [APPROVE],
            }
        }
    )
    return scenario


def main() -> None:
    failures = resolved_without_doctor = doctor_calls = tokens_avoided = 0
    per_scenario = {}
    for name, build in (
        ("missing_module", missing_module),
        ("wrong_test_path", wrong_test_path),
        ("scope_mistake", scope_mistake),
        ("logic_error", logic_error),
    ):
        with tempfile.TemporaryDirectory() as scratch:
            scenario = build(Path(scratch))
        failed = [
            e.result
            for e in scenario.events
            if isinstance(e, events.AttemptFinished) and e.result.outcome == "failed"
        ]
        [finished] = [e for e in scenario.events if isinstance(e, events.RunFinished)]
        failures += len(failed)
        resolved_without_doctor += sum(1 for e in failed if e.mitigation and not e.doctor_decision)
        doctor_calls += finished.doctor_calls
        tokens_avoided += finished.doctor_tokens_avoided
        per_scenario[name] = {
            "state": str(finished.outcome.state),
            "failures": len(failed),
            "mitigations": [e.mitigation for e in failed if e.mitigation],
            "doctor_calls": finished.doctor_calls,
        }
    print(
        json.dumps(
            {
                "scenarios": per_scenario,
                "failures": failures,
                "resolved_without_doctor": resolved_without_doctor,
                "share_without_doctor": round(resolved_without_doctor / max(failures, 1), 2),
                "doctor_calls": doctor_calls,
                "doctor_tokens_avoided_estimate": tokens_avoided,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
