"""The demo run against real providers' wire formats: a model that answers like the cassette, and
the real-provider scenario that the control-plane tests and ``make e2e`` (kind) both run.

:class:`DemoModel` is a responder for :class:`tests.fakes.llm_servers.FakeLlmServer`: it reads
who is asking (Builder, Auditor, Doctor, Planner) and for which phase from the request itself, and gives
the demo cassette's answer for it. Choosing by content, not by order, keeps a relaunched runner
(which asks again for the phase it was killed in) on script. The server reports usage as the
provider would (the offline tokenizer and its cache model), so a test can price every answer
independently of the product and compare with ``status.usage``.
"""

import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from tests.cluster.harness import ClusterUser
from tests.fakes.llm_servers import Answer, FakeLlmServer, Fault, Provider, Step

REPO = Path(__file__).resolve().parents[2]
CASSETTE = yaml.safe_load((REPO / "examples" / "demo" / "cassette.yaml").read_text())
PRICES = yaml.safe_load((REPO / "config" / "pricing.yaml").read_text())["models"]
SECOND_PHASE = "Phase: Add a command-line entry point"
DEMO_PHASES = yaml.safe_load((REPO / "examples" / "demo" / "run.yaml").read_text())["spec"][
    "phases"
]
PLANNED_DEMO = json.dumps(
    {
        "phases": [
            {
                "title": phase["title"],
                "goal": phase["goal"],
                "deliverables": phase["deliverables"],
                "allowedPaths": phase["scope"]["allowedPaths"],
                "acceptanceCriteria": phase.get("acceptanceCriteria", []),
                "complexity": phase["complexity"],
                "category": phase["category"],
            }
            for phase in DEMO_PHASES
        ]
    }
)
"""The Planner's answer for notes that ask for the demo's two phases."""

PROFILES: dict[Provider, str] = {"anthropic": "default", "openai": "openai"}
"""The config/models.yaml profile whose models all speak this provider's wire format."""
KEY_VARIABLES: dict[Provider, tuple[str, str]] = {
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
}


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(item.get("text", "")) for item in value if isinstance(item, dict)]
    return []


def request_text(body: dict[str, Any]) -> str:
    """Everything a request says (system and messages), in order, for either wire format."""
    parts = _texts(body.get("system"))
    for message in body.get("messages") or []:
        parts += _texts(message.get("content"))
    return "\n".join(parts)


def role_of(body: dict[str, Any]) -> str:
    """builder, auditor, doctor or planner, from the role statement of the system prompt."""
    text = request_text(body)
    for role in ("builder", "auditor", "doctor", "planner"):
        if f"You are the {role.capitalize()}" in text:
            return role
    raise AssertionError(f"a request from an unknown role: {text[:200]!r}")


@dataclass
class DemoModel:
    """Answers as the demo cassette does, chosen by role and phase rather than by call order.

    ``buggy_first``: the Builder's first call for phase 0 gets the cassette's bug (the tests
    catch it, the Doctor gives a hint, the Builder tries again); every later one the fix. ``hold``: a predicate on (role,
    phase, body) naming one call to keep in flight, unanswered, until the server stops (the
    runner is killed meanwhile); ``held`` is set when it arrives.
    """

    buggy_first: bool = False
    hold: Callable[[str, int, dict[str, Any]], bool] | None = None
    held: threading.Event = field(default_factory=threading.Event)
    stopping: threading.Event | None = None
    asked: list[tuple[str, int]] = field(default_factory=list)

    def __call__(self, body: dict[str, Any]) -> Step | None:
        role = role_of(body)
        text = request_text(body)
        phase = 1 if SECOND_PHASE in text else 0
        self.asked.append((role, phase))
        if self.hold is not None and not self.held.is_set() and self.hold(role, phase, body):
            self.held.set()
            assert self.stopping is not None, "a held call needs the server's stopping event"
            self.stopping.wait()
            return Fault(cut_after_events=0)
        answers = CASSETTE["responses"]
        if role == "builder":
            if phase == 1:
                return Answer(answers["builder"][2]["text"])
            buggy = self.buggy_first and ("builder", 0) not in self.asked[:-1]
            return Answer(answers["builder"][0 if buggy else 1]["text"])
        if role == "auditor":
            return Answer(answers["auditor"][phase]["text"])
        if role == "doctor":
            return Answer(answers["doctor"][0]["text"])
        if role == "planner":
            return Answer(PLANNED_DEMO)
        raise AssertionError(f"the demo run has no {role} call (phase {phase})")

    def serve(self, server: FakeLlmServer) -> FakeLlmServer:
        """Make ``server`` answer through this model; return it."""
        server.responder = self
        self.stopping = server.stopping
        return server


@dataclass(frozen=True)
class Spend:
    """Usage in the shape of ``status.usage``, summed over answers."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    llm_calls: int = 0

    @property
    def tokens(self) -> int:
        """Every billed token."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_read_tokens
            + self.cache_write_tokens
        )

    @classmethod
    def of_status(cls, usage: dict[str, Any]) -> "Spend":
        """What ``status.usage`` of a run or Phase says."""
        return cls(
            input_tokens=int(usage.get("inputTokens", 0)),
            output_tokens=int(usage.get("outputTokens", 0)),
            cache_read_tokens=int(usage.get("cacheReadTokens", 0)),
            cache_write_tokens=int(usage.get("cacheWriteTokens", 0)),
            cost_usd=Decimal(str(usage.get("costUSD", 0))).quantize(Decimal("0.000001")),
            llm_calls=int(usage.get("llmCalls", 0)),
        )


def reported_spend(server: FakeLlmServer) -> Spend:
    """What the server's answers cost, from the usage it reported and config/pricing.yaml.

    Anthropic reports input without cache reads and writes; OpenAI's prompt tokens include the
    cached ones. Each call is priced to the micro-dollar, as a provider's invoice line is.
    """
    total = Spend()
    for answer in server.answered:
        usage, price = answer["usage"], PRICES[answer["model"]]
        if server.provider == "anthropic":
            cached, written = usage["cache_read_input_tokens"], usage["cache_creation_input_tokens"]
            fresh, output = usage["input_tokens"], usage["output_tokens"]
        else:
            cached, written = usage["prompt_tokens_details"]["cached_tokens"], 0
            fresh, output = usage["prompt_tokens"] - cached, usage["completion_tokens"]
        dollars = (
            fresh * Decimal(str(price["input"]))
            + output * Decimal(str(price["output"]))
            + cached * Decimal(str(price.get("cache_read", 0)))
            + written * Decimal(str(price.get("cache_write", 0)))
        ) / Decimal(1_000_000)
        total = Spend(
            input_tokens=total.input_tokens + fresh,
            output_tokens=total.output_tokens + output,
            cache_read_tokens=total.cache_read_tokens + cached,
            cache_write_tokens=total.cache_write_tokens + written,
            cost_usd=total.cost_usd + dollars.quantize(Decimal("0.000001")),
            llm_calls=total.llm_calls + 1,
        )
    return total


def model_keys_secret(
    cluster: ClusterUser, *, provider: Provider, base_url: str, name: str = "model-keys"
) -> str:
    """Create Secret ``name`` with a fresh key for ``provider`` and its base URL; return the key."""
    key_variable, url_variable = KEY_VARIABLES[provider]
    key = f"sk-test-{secrets.token_hex(12)}"
    cluster.kubectl(
        "create",
        "secret",
        "generic",
        name,
        f"--from-literal={key_variable}={key}",
        f"--from-literal={url_variable}={base_url}",
    )
    return key


def sent_key(request: dict[str, Any]) -> str:
    """The API key a request carried (``x-api-key``, or a bearer token as the SDKs now send)."""
    headers = {name.lower(): value for name, value in request["headers"].items()}
    return str(headers.get("x-api-key") or headers.get("authorization", "")).removeprefix("Bearer ")


def run_succeeds_with_a_real_provider(
    cluster: ClusterUser,
    *,
    server: FakeLlmServer,
    base_url: str,
    manifest: Callable[..., Path],
    name: str,
    timeout: float = 900,
) -> dict[str, Any]:
    """Apply the demo run with ``server``'s provider profile and keys from a Secret; check it.

    ``base_url`` is the server as the runner pods reach it. The operator must be running.
    Checks what a user would: the run Succeeded, the server saw the Secret's key on every
    request, ``status.usage`` is exactly what the server reported, and the key appears nowhere
    in the run's status, Phases, events or ``kubectl describe``. Returns the run's status.
    """
    provider = server.provider
    key = model_keys_secret(cluster, provider=provider, base_url=base_url)
    run = manifest(
        name=name, models={"profile": PROFILES[provider], "credentialsSecret": "model-keys"}
    )
    cluster.kubectl("apply", "-f", str(run))
    cluster.wait_for(
        f"{name} to finish",
        lambda: cluster.run_status(name).get("phase") in ("Succeeded", "Failed"),
        timeout=timeout,
    )
    status = cluster.run_status(name)
    assert status["phase"] == "Succeeded", status
    assert status["progress"] == "2/2", status

    assert server.requests, "the runner never called the model server"
    keys = {sent_key(request) for request in server.requests}
    assert keys == {key}, f"the server saw keys {keys}, not the Secret's"
    models = {request["body"]["model"] for request in server.requests}
    assert models <= set(PRICES), models

    expected = reported_spend(server)
    assert expected.llm_calls >= 4, server.answered  # a Builder and an Auditor call per phase
    recorded = Spend.of_status(status["usage"])
    assert recorded == expected, f"status.usage {recorded} != reported {expected}"

    shown = "\n".join(
        [
            json.dumps(status),
            cluster.kubectl("get", "aph", "-o", "json"),
            cluster.kubectl("get", "events", "-o", "json"),
            cluster.kubectl("describe", "autopackrun", name),
        ]
    )
    assert key not in shown, "the model key leaked into the run's status, Phases or events"
    return status
