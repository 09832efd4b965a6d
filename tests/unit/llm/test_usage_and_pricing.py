"""One normalized usage form for both providers, priced from pricing.yaml."""

from decimal import Decimal
from types import SimpleNamespace

from autopack.llm import anthropic_provider, openai_provider
from autopack.llm.pricing import load_prices
from autopack.llm.types import RawUsage

PRICES = load_prices()


def test_openai_cached_tokens_are_taken_out_of_input_and_counted_once() -> None:
    reported = SimpleNamespace(
        prompt_tokens=1000,
        completion_tokens=50,
        prompt_tokens_details=SimpleNamespace(cached_tokens=800),
        completion_tokens_details=SimpleNamespace(reasoning_tokens=20),
    )
    usage = openai_provider.normalized_usage(reported)
    assert usage == RawUsage(200, 50, cache_read_tokens=800, reasoning_tokens=20)
    assert usage.total == 1050  # not 1850
    # hand-computed: 200*2 + 50*8 + 800*0.5 = 400+400+400 = 1200 per 1M
    assert PRICES.cost("gpt-4.1", usage) == Decimal("0.001200")


def test_openai_without_cache_details_leaves_cache_reads_null() -> None:
    reported = SimpleNamespace(prompt_tokens=10, completion_tokens=5)
    usage = openai_provider.normalized_usage(reported)
    assert (usage.input_tokens, usage.cache_read_tokens) == (10, None)


def test_anthropic_usage_keeps_input_cache_write_cache_read_and_output_apart() -> None:
    reported = SimpleNamespace(
        input_tokens=100,
        output_tokens=20,
        cache_read_input_tokens=900,
        cache_creation_input_tokens=50,
    )
    usage = anthropic_provider.normalized_usage(reported)
    assert usage == RawUsage(100, 20, cache_read_tokens=900, cache_write_tokens=50)
    assert usage.total == 1070
    # hand-computed: 100*3 + 20*15 + 900*0.30 + 50*3.75 = 300+300+270+187.5 = 1057.5 per 1M
    assert PRICES.cost("claude-sonnet-4-6", usage) == Decimal("0.001058")
