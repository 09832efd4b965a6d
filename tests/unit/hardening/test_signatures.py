import pytest

from autopack.hardening.signatures import normalize, signature, similarity


@pytest.mark.parametrize(
    ("one", "two"),
    [
        (
            'File "/tmp/autopack-x1/src/app.py", line 12, in main',
            'File "/tmp/autopack-q9/src/app.py", line 48, in main',
        ),
        (
            "ModuleNotFoundError: No module named 'yaml' at 0x7f3a2c",
            "ModuleNotFoundError: No module named 'yaml' at 0x55d0aa",
        ),
        (
            "tests/test_reading.py:14: AssertionError in 0.21s",
            "tests/test_reading.py:31: AssertionError in 1.5s",
        ),
        (
            "commit 3f9a2b1c failed at 2026-01-01T10:00:00Z",
            "commit a1b2c3d4 failed at 2026-02-03 11:12:13",
        ),
    ],
)
def test_volatile_details_do_not_change_the_signature(one: str, two: str) -> None:
    assert normalize(one) == normalize(two)


def test_different_failures_keep_different_signatures() -> None:
    assert normalize("No module named 'yaml'") != normalize("No module named 'requests'")
    assert normalize("SyntaxError: invalid syntax") != normalize("TypeError: bad operand")


def test_signature_uses_the_first_line_and_its_category() -> None:
    sig = signature("ci", "\n  AssertionError: 3 != 4 at /work/x/y.py:3\nmore detail")
    assert str(sig) == "ci: AssertionError: <n> != <n> at <path>:<n>"


def test_similarity_compares_within_a_category() -> None:
    a = signature("ci", "AssertionError: expected 2 got 1 in test_reading_time")
    b = signature("ci", "AssertionError: expected 3 got 1 in test_reading_time")
    c = signature("apply", "AssertionError: expected 2 got 1 in test_reading_time")
    assert similarity(a, b) == 1.0
    assert similarity(a, c) == 0.0
    d = signature("ci", "NameError: name 'reading_time' is not defined")
    assert similarity(a, d) < 0.6
