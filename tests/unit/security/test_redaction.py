"""The one redactor: known secret values in every spelling, and credential shapes."""

import base64

import pytest

from autopack import redaction

KEY = "sk-ant-api03-Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE"


def test_known_values_are_removed_in_plain_url_quoted_and_base64_spellings() -> None:
    secret = "p@ss/word+with spaces!"
    redactor = redaction.Redactor([secret])
    text = " | ".join(
        [
            secret,
            "p%40ss%2Fword%2Bwith%20spaces%21",
            base64.b64encode(secret.encode()).decode(),
        ]
    )
    assert redactor.redact(text) == "*** | *** | ***"


def test_short_values_are_not_treated_as_secrets() -> None:
    redactor = redaction.Redactor(["true", "1234"])
    assert redactor.redact("true 1234") == "true 1234"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"key={KEY}", "key=sk-***"),
        ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789", "token ghp_***"),
        ("github_pat_11ABCDEFG0123456789_abcdefghijklmnop", "github_pat_***"),
        ("aws AKIAIOSFODNN7EXAMPLE here", "aws AKIA*** here"),
        ("Authorization: Basic eC1hY2Nlc3MtdG9rZW46c2VjcmV0", "Authorization: ***"),
        ("authorization=Bearer abc.def.ghi-jkl", "authorization=***"),
        ("curl -H 'Bearer abcdefghijklmnop'", "curl -H 'Bearer ***'"),
        ("https://user:hunter2@example.com/r.git", "https://***@example.com/r.git"),
        ("https://ghp_x@github.com/o/r", "https://***@github.com/o/r"),
        (
            "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk\n-----END OPENSSH PRIVATE KEY-----",
            "-----BEGIN OPENSSH PRIVATE KEY-----***-----END OPENSSH PRIVATE KEY-----",
        ),
        (
            "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW06c2EifQ.c2lnbmF0dXJlLXNpZw",
            "eyJ***",
        ),
    ],
)
def test_credential_shapes_are_removed(text: str, expected: str) -> None:
    assert redaction.Redactor().redact(text) == expected


def test_ordinary_text_and_code_are_left_alone() -> None:
    text = "def test_skip():\n    assert task-runner == 'ok'  # see https://example.com/docs\n"
    assert redaction.Redactor().redact(text) == text


def test_the_environment_default_knows_keys_tokens_and_url_passwords() -> None:
    env = {
        "ANTHROPIC_API_KEY": KEY,
        "AUTOPACK_GIT_TOKEN": "plain-token-value-123",
        "AUTOPACK_DATABASE_URL": "postgresql://autopack:db-password-42@db/autopack",
        "HOME": "/home/someone",
        "PATH": "/usr/bin:/bin",
    }
    redactor = redaction.reset_default(env)
    try:
        text = "plain-token-value-123 db-password-42 /home/someone /usr/bin"
        assert redaction.redact(text) == "*** *** /home/someone /usr/bin"
        redaction.register("registered-later-secret")
        assert redaction.redact("x registered-later-secret") == "x ***"
        assert redactor.known >= 3
    finally:
        redaction.reset_default()


def test_structures_are_walked() -> None:
    redactor = redaction.Redactor(["value-to-hide-1"])
    data = {"a": ["value-to-hide-1", 3], "b": ("value-to-hide-1",), "c": None}
    assert redactor.redact_data(data) == {"a": ["***", 3], "b": ("***",), "c": None}


def test_a_secret_containing_another_is_removed_whole() -> None:
    redactor = redaction.Redactor(["abcdefgh", "abcdefghijklmnop"])
    assert redactor.redact("abcdefghijklmnop") == "***"
