"""Routing as data: chains escalate on failed attempts, outages only reach same-tier fallbacks."""

from pathlib import Path

import pytest
import yaml

from autopack import settings
from autopack.llm.routing import load_models_config, route

CONFIG = load_models_config()


def test_failed_attempts_escalate_along_the_chain_and_fallbacks_stay_at_the_same_tier() -> None:
    first = route(CONFIG, profile="default", role="builder", complexity="low", failures=0)
    later = route(CONFIG, profile="default", role="builder", complexity="low", failures=3)
    assert first == ["claude-haiku", "gpt-4.1-mini"]
    assert later == ["claude-opus", "gpt-4.1"]


def test_an_openai_profile_falls_back_to_anthropic() -> None:
    assert route(CONFIG, profile="openai", role="auditor", complexity="medium", failures=0) == [
        "gpt-4.1",
        "claude-sonnet",
    ]


def test_quirks_are_read_from_models_yaml() -> None:
    reasoning = CONFIG.models["o4-mini"]
    assert reasoning.max_tokens_param == "max_completion_tokens"
    assert CONFIG.models["claude-haiku"].min_cache_tokens == 4096
    assert all(entry.streaming for entry in CONFIG.models.values())
    assert CONFIG.retries.max_retry_after_seconds == 120
    assert (CONFIG.timeouts.idle_seconds, CONFIG.timeouts.total_seconds) == (60, 600)


def test_a_fallback_naming_an_unknown_model_is_refused(tmp_path: Path) -> None:
    data = yaml.safe_load((settings.config_dir() / "models.yaml").read_text())
    data["models"]["claude-sonnet"]["fallbacks"] = ["gpt-9"]
    path = tmp_path / "models.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ValueError, match=r"claude-sonnet.fallbacks names unknown model 'gpt-9'"):
        load_models_config(path)


def test_call_limits_can_be_overridden_from_the_environment() -> None:
    config = load_models_config(
        environ={
            "AUTOPACK_MODEL_IDLE_TIMEOUT_SECONDS": "15",
            "AUTOPACK_MODEL_TIMEOUT_SECONDS": "900",
            "AUTOPACK_MODEL_MAX_RETRY_AFTER_SECONDS": "30",
        }
    )
    assert (config.timeouts.idle_seconds, config.timeouts.total_seconds) == (15, 900)
    assert config.retries.max_retry_after_seconds == 30
    assert config.retries.max_attempts == CONFIG.retries.max_attempts  # the rest stays


def test_a_malformed_override_is_named() -> None:
    with pytest.raises(ValueError, match="AUTOPACK_MODEL_TIMEOUT_SECONDS='ten'"):
        load_models_config(environ={"AUTOPACK_MODEL_TIMEOUT_SECONDS": "ten"})
