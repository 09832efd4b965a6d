"""The local servers' cache model behaves as the providers document (tests rely on it)."""

from autopack.llm.tokens import token_ids
from tests.fakes.llm_servers import CacheModel

LONG = "def f(x):\n    return x\n" * 300  # about 2,400 tokens


def test_anthropic_caches_only_at_breakpoints_past_the_minimum_and_reads_known_prefixes() -> None:
    cache = CacheModel(min_tokens={"small-minimum": 1024, "large-minimum": 4096})
    blocks = [("rules", True), (LONG, True), ("phase", True), ("failure 1", False)]
    first = cache.anthropic_usage("small-minimum", blocks)
    assert first["cache_read_input_tokens"] == 0
    assert first["cache_creation_input_tokens"] > 2000  # through the phase block
    second = cache.anthropic_usage("small-minimum", [*blocks[:3], ("failure 2", False)])
    assert second["cache_read_input_tokens"] == first["cache_creation_input_tokens"]
    assert second["cache_creation_input_tokens"] == 0
    assert second["input_tokens"] == len(token_ids("failure 2"))
    too_short = cache.anthropic_usage("large-minimum", blocks)
    assert too_short["cache_creation_input_tokens"] == 0  # below 4,096: never cached


def test_unmarked_prefixes_are_never_cached_on_anthropic() -> None:
    cache = CacheModel()
    blocks = [(LONG, False), ("tail", False)]
    cache.anthropic_usage("m", blocks)
    again = cache.anthropic_usage("m", blocks)
    assert again["cache_read_input_tokens"] == 0


def test_openai_caches_shared_prefixes_in_128_token_steps_from_1024() -> None:
    cache = CacheModel()
    assert cache.openai_usage("m", LONG + "one") == (len(token_ids(LONG + "one")), 0)
    prompt, cached = cache.openai_usage("m", LONG + "two")
    assert cached % 128 == 0
    assert 1024 <= cached <= prompt
    assert cache.openai_usage("m", "short and new")[1] == 0
