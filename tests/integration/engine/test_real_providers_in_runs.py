"""A whole run against a local server speaking Anthropic's wire format: escalation and cost."""

from decimal import Decimal
from pathlib import Path

import pytest

from autopack import events
from autopack.llm.tokens import token_ids
from tests.builders.scenario import GOOD_READING, Scenario, file_block
from tests.fakes.llm_servers import Answer, llm_server

pytestmark = pytest.mark.slow

DOCTOR_RETRY = '{"decision": "retry_with_hint", "confidence": 0.9, "hint": "do not edit counting"}'
BROKEN = GOOD_READING + file_block(
    "tests/test_counting.py",
    "from textstats import word_count\n\n\ndef test_counts_words() -> None:\n"
    "    assert word_count('one two') == 3\n",
)


def test_builder_escalates_to_the_next_model_after_two_failures(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scenario = Scenario(tmp_path).phase(
        "Add reading time", complexity="low", deliverables=["textstats/reading.py"]
    )
    scenario.builder.budget(maxAttemptsPerPhase=3)
    with llm_server("anthropic") as server:  # streams, as the real API does
        server.script += [
            Answer(BROKEN),
            Answer(DOCTOR_RETRY),
            Answer(BROKEN),
            Answer("Leave counting alone; add reading.py only."),
            Answer(GOOD_READING),
            Answer("VERDICT: approved\n- fine"),
        ]
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-local-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.base_url)
        outcome = scenario.run(None)
    assert outcome.state == "Succeeded", outcome.message
    models_used = [request["body"]["model"] for request in server.requests]
    assert models_used == [
        "claude-haiku-4-5",  # builder
        "claude-haiku-4-5",  # doctor, cheap model first
        "claude-haiku-4-5",  # builder again
        "claude-sonnet-4-6",  # planner: the same failure twice means replan
        "claude-sonnet-4-6",  # builder escalated after two failures
        "claude-sonnet-4-6",  # the Auditor escalates with the phase's failures too
    ]
    started = scenario.of_type(events.AttemptStarted)
    assert started[2].escalation == (
        "builder claude-haiku-4-5 -> claude-sonnet-4-6 after 2 failures"
    )
    calls = [e.call for e in scenario.of_type(events.ModelCalled)]
    assert [(call.model, call.outcome) for call in calls] == [
        (model, "ok") for model in models_used
    ]
    # The server reports usage from the tokenizer (the output is the answer's tokens); the
    # first call is priced at haiku's rates per 1M: input 1, output 5, cache read 0.10, write 1.25.
    usage = calls[0].usage
    assert usage is not None
    assert usage.output_tokens == len(token_ids(BROKEN))
    assert (usage.input_tokens or 0) > 0
    expected = (
        Decimal(usage.input_tokens or 0) * Decimal("1")
        + Decimal(usage.output_tokens or 0) * Decimal("5")
        + Decimal(usage.cache_read_tokens or 0) * Decimal("0.10")
        + Decimal(usage.cache_write_tokens or 0) * Decimal("1.25")
    ) / Decimal(1_000_000)
    assert round(calls[0].cost_usd, 6) == float(expected.quantize(Decimal("0.000001")))
    assert all(call.cost_usd > 0 for call in calls)
