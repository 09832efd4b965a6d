"""Print JSON figures for model calls (issue 16: model calls you can trust with money).

Every figure comes from real calls: the official ``anthropic`` and ``openai`` SDKs stream from
the local servers of ``tests/fakes/llm_servers.py`` (the providers' wire formats, a cache model
that honours breakpoints and the minimum cacheable prefix) through ``RoutedModels``.

- Prompt caching on the demo (``examples/demo``): the Builder's calls of the demo run (phase 1
  fails once, then passes; phase 2 passes), answered with the demo cassette's answers, sent
  once with the cache layout (instructions, repository context, phase — each ending a
  breakpoint — then the last failure) and once with the previous layout (one breakpoint on the
  system prompt; the failure-driven context inside the user message). Priced from
  ``config/pricing.yaml``. Targets, on attempts after a phase's first: input at least 40%
  cheaper, and at least 70% of input tokens read from cache.
  For OpenAI, whose prefix cache is automatic, the previous layout already kept a phase's
  attempts on one prefix, so the figure against "no cache at all" is printed too.
- A 30-second outage of the primary provider with a same-tier fallback configured: the demo's
  sequence of calls, 5 s of work between calls, on a clock where waits cost no real time. The
  figure is the time the outage adds to the calls (target: under 10 s).

Run: .venv/bin/python benchmarks/models.py
"""

import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the local provider servers live with the tests

from autopack.agents import building  # noqa: E402
from autopack.agents.contexting import ContextSelector  # noqa: E402
from autopack.api import ModelChains, PhaseDefinition, loading  # noqa: E402
from autopack.edits import FORMAT_INSTRUCTIONS  # noqa: E402
from autopack.llm.pricing import PriceTable, load_prices  # noqa: E402
from autopack.llm.routed import RoutedModels  # noqa: E402
from autopack.llm.routing import ModelsConfig, load_models_config  # noqa: E402
from autopack.llm.types import CallRecord, Prompt, RawUsage  # noqa: E402
from tests.fakes.llm_servers import Answer, CacheModel, FakeLlmServer, llm_server  # noqa: E402

DEMO = ROOT / "examples" / "demo"
CONTEXT_TOKENS = 24_000
# Label -> model alias. Haiku 4.5's minimum cacheable prefix (4,096 tokens) is longer than the
# demo's whole stable prefix, so it shows what a too-short prefix gets: nothing cached.
MODELS = {"anthropic": "claude-sonnet", "openai": "gpt-4.1", "anthropic-haiku": "claude-haiku"}


@dataclass(frozen=True)
class BuilderCall:
    """One Builder call of the demo run."""

    phase: PhaseDefinition
    attempt: int
    feedback: list[str]
    answer: str


def demo_calls() -> list[BuilderCall]:
    """The demo run's Builder calls: phase 1 twice (the first answer has a bug), phase 2 once."""
    run = loading.parse_run(yaml.safe_load((DEMO / "run.yaml").read_text()), source="demo")
    phases = list(run.spec.phases)
    tape: Any = yaml.safe_load((DEMO / "cassette.yaml").read_text())
    answers = [entry["text"] for entry in tape["responses"]["builder"]]
    hint = tape["responses"]["doctor"][0]["text"]
    failure = [
        "New test failure: tests/test_reading.py::test_empty_text_takes_no_time",
        "Test output (end):\nassert reading_time('') == 0\nE   assert 1 == 0",
        f"Doctor's hint: {json.loads(hint)['hint']}",
    ]
    return [
        BuilderCall(phases[0], 1, [], answers[0]),
        BuilderCall(phases[0], 2, failure, answers[1]),
        BuilderCall(phases[1], 1, [], answers[2]),
    ]


def cached_layout(call: BuilderCall, selector: ContextSelector, intention: str) -> Prompt:
    """The cache layout, as the engine builds it (``engine/steps.py``): the phase's context
    rendered without the feedback, the files the failure brings in after the last breakpoint."""
    context = selector.render(phase=call.phase, feedback=[], budget_tokens=CONTEXT_TOKENS)
    related = selector.render_related(
        phase=call.phase, feedback=call.feedback, budget_tokens=CONTEXT_TOKENS // 4
    )
    return building.build_prompt(
        edit_format=FORMAT_INSTRUCTIONS,
        phase=call.phase,
        context=context,
        feedback=call.feedback,
        intention=intention,
        extra_context=related,
    )


def previous_layout(call: BuilderCall, selector: ContextSelector, intention: str) -> Prompt:
    """The layout before issue 16: one breakpoint on the system prompt, context chosen with the
    feedback inside one user message."""
    context = selector.render(
        phase=call.phase, feedback=call.feedback, budget_tokens=CONTEXT_TOKENS
    )
    user = building.build_user_prompt(
        phase=call.phase, context=context, feedback=call.feedback, intention=intention
    )
    system = building.build_system_prompt(edit_format=FORMAT_INSTRUCTIONS)
    return Prompt.plain(system, [("user", user)])


@contextmanager
def provider_env(server: FakeLlmServer) -> Iterator[None]:
    """Point the SDK factory at a local server with a throwaway key."""
    names = (
        ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL")
        if server.provider == "anthropic"
        else ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    )
    saved = {name: os.environ.get(name) for name in names}
    os.environ[names[0]] = "sk-benchmark-local-0000000000"
    os.environ[names[1]] = server.base_url
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def routed(
    config: ModelsConfig, prices: PriceTable, records: list[CallRecord], **kw: Any
) -> RoutedModels:
    return RoutedModels(
        config=config,
        prices=prices,
        profile="default",
        run="benchmark",
        run_tokens=10_000_000,
        run_cost=Decimal(100),
        record=records.append,
        **kw,
    )


def input_cost(prices: PriceTable, model: str, usage: RawUsage) -> Decimal:
    """What the input of a call cost (output priced at zero)."""
    return prices.cost(
        model,
        RawUsage(
            input_tokens=usage.input_tokens,
            output_tokens=0,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_tokens=usage.cache_write_tokens,
        ),
    )


def replay(label: str, layout: Any) -> list[dict[str, Any]]:
    """Send the demo's Builder calls with ``layout``; return per-call usage and cost."""
    config = load_models_config()
    prices = load_prices()
    alias = MODELS[label]
    entry = config.models[alias]
    provider = entry.provider
    overrides = ModelChains.model_validate({"builder": [alias]})
    calls = demo_calls()
    run = loading.parse_run(yaml.safe_load((DEMO / "run.yaml").read_text()), source="demo")
    intention = run.spec.intention or ""
    selector = ContextSelector(DEMO / "project")
    cache = CacheModel(min_tokens={m.name: m.min_cache_tokens for m in config.models.values()})
    rows: list[dict[str, Any]] = []
    with llm_server(provider, cache=cache) as server, provider_env(server):  # type: ignore[arg-type]
        server.script += [Answer(call.answer) for call in calls]
        records: list[CallRecord] = []
        models = routed(config, prices, records, overrides=overrides)
        for call in calls:
            models.complete(
                role="builder",
                phase=call.phase,
                phase_index=0 if call.phase is calls[0].phase else 1,
                attempt=call.attempt,
                failures=call.attempt - 1,
                prompt=layout(call, selector, intention),
                max_tokens=4096,
            )
        models.close()
    for call, record in zip(calls, records, strict=True):
        usage = record.usage or RawUsage(0, 0)
        rows.append(
            {
                "phase": call.phase.title,
                "attempt": call.attempt,
                "input": usage.input_tokens or 0,
                "cache_read": usage.cache_read_tokens or 0,
                "cache_write": usage.cache_write_tokens or 0,
                "output": usage.output_tokens or 0,
                "input_cost_usd": float(input_cost(prices, entry.name, usage)),
                "input_cost_usd_uncached": float(
                    input_cost(prices, entry.name, RawUsage(usage.prompt_total, 0))
                ),
                "cost_usd": record.cost_usd,
            }
        )
    return rows


def caching_figures() -> dict[str, Any]:
    figures: dict[str, Any] = {}
    for label in MODELS:
        cached = replay(label, cached_layout)
        previous = replay(label, previous_layout)

        def later(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return [row for row in rows if row["attempt"] > 1]

        def total(rows: list[dict[str, Any]], key: str) -> float:
            return sum(float(row[key]) for row in rows)

        later_cached, later_previous = later(cached), later(previous)
        later_input = sum(r["input"] + r["cache_read"] + r["cache_write"] for r in later_cached)
        entry = load_models_config().models[MODELS[label]]
        figures[label] = {
            "model": entry.name,
            "min_cache_tokens": entry.min_cache_tokens,
            "builder_calls": cached,
            "previous_layout_calls": previous,
            "input_cost_usd_later_attempts": {
                "cache_layout": round(total(later_cached, "input_cost_usd"), 6),
                "previous_layout": round(total(later_previous, "input_cost_usd"), 6),
                "cheaper_share": round(
                    1
                    - total(later_cached, "input_cost_usd")
                    / max(total(later_previous, "input_cost_usd"), 1e-12),
                    3,
                ),
                "no_cache_at_all": round(total(later_cached, "input_cost_usd_uncached"), 6),
                "cheaper_share_than_no_cache": round(
                    1
                    - total(later_cached, "input_cost_usd")
                    / max(total(later_cached, "input_cost_usd_uncached"), 1e-12),
                    3,
                ),
            },
            "cache_read_share_later_attempts": round(
                total(later_cached, "cache_read") / max(later_input, 1), 3
            ),
            "run_cost_usd": {
                "cache_layout": round(total(cached, "cost_usd"), 6),
                "previous_layout": round(total(previous, "cost_usd"), 6),
            },
        }
    return figures


class HybridClock:
    """Real monotonic time plus waited time: waits cost nothing, requests cost what they cost."""

    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.offset

    def sleep(self, seconds: float) -> None:
        self.offset += seconds


def call_sequence(*, outage_seconds: float) -> dict[str, Any]:
    """The demo's calls (planner-free: builder, auditor, builder, doctor...) through an outage."""
    config = load_models_config()
    prices = load_prices()
    clock = HybridClock()
    roles = ["builder", "doctor", "builder", "auditor", "builder", "auditor"]
    work_between_calls = 5.0  # tests, applying edits: the outage overlaps real work
    records: list[CallRecord] = []
    waits: list[float] = []
    with (
        llm_server("anthropic", clock=clock) as anthropic,
        llm_server("openai", clock=clock) as openai,
        provider_env(anthropic),
        provider_env(openai),
    ):
        started = clock()
        anthropic.outage_until = started + outage_seconds if outage_seconds else None
        models = routed(
            config,
            prices,
            records,
            sleep=clock.sleep,
            clock=clock,
            on_wait=lambda wait: waits.append(wait.seconds),
        )
        spent_in_calls = 0.0
        for role in roles:
            began = clock()
            models.complete(
                role=role,
                phase=None,
                phase_index=None,
                attempt=1,
                failures=0,
                system="You are a careful engineer.",
                messages=[("user", "x " * 3000)],
                max_tokens=1024,
            )
            spent_in_calls += clock() - began
            clock.sleep(work_between_calls)
        models.close()
    return {
        "seconds_in_calls": round(spent_in_calls, 3),
        "retry_waits_seconds": [round(w, 3) for w in waits],
        "http_tries": len(records),
        "failed_tries": sum(1 for r in records if r.outcome == "error"),
        "providers": [r.provider for r in records if r.outcome != "error"],
        "anthropic_requests": len(anthropic.requests),
        "openai_requests": len(openai.requests),
    }


def outage_figures() -> dict[str, Any]:
    calm = call_sequence(outage_seconds=0)
    outage = call_sequence(outage_seconds=30)
    return {
        "outage_seconds": 30,
        "without_outage": calm,
        "with_outage_and_fallback": outage,
        "time_the_outage_costs_seconds": round(
            outage["seconds_in_calls"] - calm["seconds_in_calls"], 3
        ),
    }


def main() -> None:
    caching = caching_figures()
    outage = outage_figures()
    summary = {
        provider: {
            "input_cheaper_on_later_attempts": figures["input_cost_usd_later_attempts"][
                "cheaper_share"
            ],
            "input_cheaper_on_later_attempts_than_no_cache": figures[
                "input_cost_usd_later_attempts"
            ]["cheaper_share_than_no_cache"],
            "cache_read_share_on_later_attempts": figures["cache_read_share_later_attempts"],
        }
        for provider, figures in caching.items()
    }
    print(
        json.dumps(
            {
                "summary": {
                    **summary,
                    "outage_costs_seconds": outage["time_the_outage_costs_seconds"],
                    "targets": {
                        "input_cheaper_on_later_attempts": ">= 0.40",
                        "cache_read_share_on_later_attempts": ">= 0.70",
                        "outage_costs_seconds": "< 10",
                    },
                },
                "caching": caching,
                "outage": outage,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
