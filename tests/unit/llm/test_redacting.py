"""Keys never leave the model layer in an error, a record or a printed line."""

import pytest

from autopack.llm import errors
from autopack.llm.routed import api_key


def test_a_key_read_for_a_provider_is_masked_in_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "plainsecretvalue123")
    assert api_key("openai") == "plainsecretvalue123"
    error = errors.AuthenticationFailedError("bad key plainsecretvalue123 (HTTP 401)")
    assert "plainsecretvalue123" not in str(error)


def test_key_shaped_strings_are_masked_even_when_never_configured() -> None:
    error = errors.ServerError("upstream said: sk-ant-api03-abcdefghijklmnop0123 rejected")
    assert "abcdefghijklmnop0123" not in str(error)
