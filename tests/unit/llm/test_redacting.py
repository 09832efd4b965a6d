"""Keys never leave the model layer in an error, a record or a printed line."""

import pytest

from autopack.llm import errors
from autopack.llm.redacting import redact


def test_a_key_from_the_environment_and_key_shapes_are_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "plainsecretvalue123")
    text = redact("bad key plainsecretvalue123; also sk-ant-abcdefghijklmnop0123 seen")
    assert "plainsecretvalue123" not in text
    assert "abcdefghijklmnop0123" not in text


def test_an_error_that_echoes_the_key_is_stored_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-api03-very-secret-key-000")
    error = errors.AuthenticationFailedError("invalid x-api-key: sk-ant-api03-very-secret-key-000")
    assert "very-secret" not in str(error)
