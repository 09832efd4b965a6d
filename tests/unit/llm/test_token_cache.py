"""The tokenizer's parsed table cache: same encoding as tiktoken's own, damage tolerated."""

from pathlib import Path

import pytest
import tiktoken

from autopack.llm import tokens


@pytest.fixture
def cache_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    return tmp_path / "autopack"


def _cache_file(cache_home: Path) -> Path:
    return cache_home / f"tiktoken-{tokens._DATA_SHA256}.ranks"


def test_cached_encoding_is_tiktokens_own(cache_home: Path) -> None:
    reference = tiktoken.get_encoding(tokens.ENCODING)
    for attempt in ("writes the cache", "reads it"):
        tokens._load.cache_clear()
        encoding = tokens._load()
        assert _cache_file(cache_home).is_file(), attempt
        assert encoding.name == reference.name
        assert encoding._pat_str == reference._pat_str
        assert encoding._special_tokens == reference._special_tokens
        assert encoding._mergeable_ranks == reference._mergeable_ranks
        text = "def f(x):\n    return x  # 1234 héllo <|endoftext|>\n"
        assert encoding.encode_ordinary(text) == reference.encode_ordinary(text)
    tokens._load.cache_clear()


def test_a_damaged_cache_is_parsed_again_and_replaced(cache_home: Path) -> None:
    cache_home.mkdir(parents=True)
    for damage in (
        b"",
        b"\x00garbage",
        tokens._MAGIC + (100256).to_bytes(4, "little") + b"\x01\x00" * 100256,
    ):
        _cache_file(cache_home).write_bytes(damage)
        ranks = tokens._cached_ranks()
        assert ranks is not None
        assert len(ranks) == 100256
        assert tokens._unpack(_cache_file(cache_home).read_bytes(), 100256) == ranks


def test_an_unwritable_cache_directory_still_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    ranks = tokens._cached_ranks()
    assert ranks is not None
    assert len(ranks) == 100256


def test_a_changed_data_file_is_left_to_tiktoken(
    cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tokens, "_DATA_SHA256", "0" * 64)
    assert tokens._cached_ranks() is None
    assert not cache_home.exists()
