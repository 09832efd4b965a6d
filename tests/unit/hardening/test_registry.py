from pathlib import Path

import pytest
import yaml

from autopack.hardening.registry import find_mitigation, load_hardening_config

CONFIG = load_hardening_config()


@pytest.mark.parametrize(
    ("category", "message", "rule", "groups"),
    [
        (
            "ci",
            "E   ModuleNotFoundError: No module named 'yaml'",
            "missing-python-module",
            {"module": "yaml"},
        ),
        (
            "ci",
            "Error: Cannot find module 'left-pad'\nRequire stack:",
            "missing-node-module",
            {"module": "left-pad"},
        ),
        (
            "ci",
            "ERROR: file or directory not found: tests/unit",
            "wrong-working-directory",
            {"path": "tests/unit"},
        ),
        ("ci", "no tests ran in 0.01s", "test-discovery", {}),
        ("apply", "src/x.py is outside the allowed paths (allowed: lib/)", "scope-mismatch", {}),
        (
            "validation",
            "/bin/sh: 1: scripts/check.sh: Permission denied",
            "script-permission",
            {"path": "scripts/check.sh"},
        ),
    ],
)
def test_known_failures_find_their_mitigation(
    category: str, message: str, rule: str, groups: dict[str, str]
) -> None:
    match = find_mitigation(CONFIG, category=category, message=message)
    assert match is not None
    assert match.rule.name == rule
    assert match.groups == groups


def test_unknown_failure_has_no_mitigation() -> None:
    assert find_mitigation(CONFIG, category="ci", message="AssertionError: 1 != 2") is None


def test_category_must_match() -> None:
    message = "ModuleNotFoundError: No module named 'yaml'"
    assert find_mitigation(CONFIG, category="audit", message=message) is None


def test_tried_rules_can_be_excluded() -> None:
    message = "ModuleNotFoundError: No module named 'yaml'"
    excluded = frozenset({"missing-python-module"})
    assert find_mitigation(CONFIG, category="ci", message=message, exclude=excluded) is None


def test_a_new_pattern_needs_only_configuration(tmp_path: Path) -> None:
    data = yaml.safe_load(Path(__file__).parents[3].joinpath("config/hardening.yaml").read_text())
    data["mitigations"].append(
        {
            "name": "forbidden-directory",
            "priority": 5,
            "categories": ["apply"],
            "pattern": "refused: (?P<path>vendor/\\S+)",
            "action": "feed_scope",
        }
    )
    custom = tmp_path / "hardening.yaml"
    custom.write_text(yaml.safe_dump(data))
    match = find_mitigation(
        load_hardening_config(custom), category="apply", message="refused: vendor/lib.py"
    )
    assert match is not None
    assert (match.rule.name, match.rule.action, match.groups) == (
        "forbidden-directory",
        "feed_scope",
        {"path": "vendor/lib.py"},
    )


def test_a_broken_pattern_is_rejected_when_loading(tmp_path: Path) -> None:
    custom = tmp_path / "hardening.yaml"
    custom.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "mitigations": [
                    {
                        "name": "x",
                        "priority": 1,
                        "categories": ["ci"],
                        "pattern": "(unclosed",
                        "action": "feed_scope",
                    }
                ],
            }
        )
    )
    with pytest.raises(ValueError, match="pattern does not compile"):
        load_hardening_config(custom)
