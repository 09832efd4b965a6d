"""A whole run against a local server speaking Anthropic's wire format: escalation and cost."""

from pathlib import Path

import pytest

from autopack import events
from tests.builders.scenario import GOOD_READING, Scenario, file_block
from tests.builders.wire import Reply, anthropic_message, wire_server

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
    with wire_server() as server:
        server.replies += [
            Reply(200, anthropic_message(BROKEN, input_tokens=2000, output_tokens=300)),
            Reply(200, anthropic_message(DOCTOR_RETRY, input_tokens=800, output_tokens=40)),
            Reply(200, anthropic_message(BROKEN, input_tokens=2100, output_tokens=300)),
            Reply(
                200,
                anthropic_message(
                    "Leave counting alone; add reading.py only.", input_tokens=500, output_tokens=20
                ),
            ),
            Reply(200, anthropic_message(GOOD_READING, input_tokens=2200, output_tokens=280)),
            Reply(
                200,
                anthropic_message(
                    "VERDICT: approved\n- fine",
                    input_tokens=900,
                    output_tokens=10,
                    cache_read=None,
                    cache_write=None,
                ),
            ),
        ]
        monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-local-test")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
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
    costs = [round(e.cost_usd, 6) for e in scenario.of_type(events.ModelCalled)]
    # haiku: 2000*1 + 300*5 + 900*0.10 + 50*1.25 = 3652.5 per 1M -> 0.003652 (half-even)
    assert costs[0] == 0.003652
    assert all(cost > 0 for cost in costs)
