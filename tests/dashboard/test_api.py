"""The JSON API and the pages over a store built row by row, on SQLite and PostgreSQL."""

import re
from decimal import Decimal

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from autopack.dashboard import DashboardConfig, create_app
from autopack.store import Store, models, records
from tests.dashboard.builders import T0, add_call, add_run, days


def client(store: Store, **config: object) -> TestClient:
    return TestClient(create_app(store, DashboardConfig(**config)))  # type: ignore[arg-type]


def test_runs_are_listed_newest_first_with_progress_and_paged(store: Store) -> None:
    with store.session() as session:
        for n in range(7):
            add_run(
                session,
                f"run-{n}",
                created=T0 + days(n),
                phases=("Complete", "Complete" if n % 2 else "Building", "Queued"),
            )
    page = client(store).get("/api/v1/runs", params={"limit": 3, "offset": 2}).json()
    assert page["total"] == 7
    assert [item["name"] for item in page["items"]] == ["run-4", "run-3", "run-2"]
    assert [item["progress"] for item in page["items"]] == ["1/3", "2/3", "1/3"]


def test_runs_filter_by_state_namespace_and_repository(store: Store) -> None:
    with store.session() as session:
        add_run(session, "a", namespace="team-a", state="Failed")
        add_run(session, "b", namespace="team-a", state="Succeeded", repo="https://x/b.git")
        add_run(session, "c", namespace="team-b", state="Failed", repo="https://x/b.git")
    api = client(store)

    def names(**params: str) -> list[str]:
        items = api.get("/api/v1/runs", params=params).json()["items"]
        return sorted(item["name"] for item in items)

    assert names(state="Failed") == ["a", "c"]
    assert names(namespace="team-a") == ["a", "b"]
    assert names(repository="https://x/b.git", state="Failed") == ["c"]
    page = api.get("/api/v1/runs").json()
    assert page["namespaces"] == ["team-a", "team-b"]
    assert page["states"] == ["Failed", "Succeeded"]
    html = api.get("/", params={"state": "Failed"}).text
    assert ">a</a>" in html
    assert ">b</a>" not in html


def test_usage_totals_equal_the_ledger_by_day_week_and_month(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r")
        add_call(session, "r", at=T0, tokens=(1000, 3000, 500, 200), cost="0.012345")
        add_call(session, "r", at=T0 + days(1), role="auditor", cost="0.002000")
        add_call(
            session,
            "r",
            at=T0 + days(8),
            provider="openai",
            model="gpt-5",
            role="doctor",
            tokens=(4000, 1000, 0, 50),
            cost="0.100001",
        )
        add_call(session, "r", at=T0 + days(40), cost="1.000000")
        ledger = session.execute(
            select(func.sum(models.LlmCall.cost_usd), func.sum(models.LlmCall.input_tokens))
        ).one()
    api = client(store)
    for period, buckets in (
        ("day", ["2026-11-02", "2026-11-03", "2026-11-10", "2026-12-12"]),
        ("week", ["2026-11-02", "2026-11-09", "2026-12-07"]),
        ("month", ["2026-11", "2026-12"]),
    ):
        report = api.get("/api/v1/usage", params={"period": period}).json()
        assert [row["key"] for row in report["by_period"]] == buckets
        assert Decimal(report["total"]["cost_usd"]) == ledger[0]
        assert report["total"]["input_tokens"] == ledger[1]
        assert sum(Decimal(row["usage"]["cost_usd"]) for row in report["by_period"]) == ledger[0]
    report = api.get("/api/v1/usage").json()
    assert {row["key"] for row in report["by_role"]} == {"builder", "auditor", "doctor"}
    assert [row["key"] for row in report["by_provider"]] == ["anthropic", "openai"]
    # Anthropic's input excludes the cache, OpenAI's includes it: 4000 read of 11500 input.
    assert report["cache_share"] == pytest.approx(4000 / (3000 + 3500 + 4000 + 1000))
    page = api.get("/usage", params={"period": "week"}).text
    assert 'data-cost="1.114346"' in page
    assert page.count("<svg") == 5


def test_run_page_shows_failed_attempt_doctor_tests_and_calls(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r", name="demo", phases=("Complete",))
        phase = records.find_phase(session, run_id="r", index=0)
        assert phase is not None
        failed = records.upsert_attempt(session, phase_id=phase.id, number=1)
        failed.outcome = "failed"
        failed.failure_category = "ci"
        failed.failure_signature = "newly failing: tests.test_x::test_y"
        failed.failure_detail = "New test failure: tests.test_x::test_y\nDoctor's hint: keep ceil"
        failed.doctor_decision = "retry_with_hint (confidence 0.85)"
        passed = records.upsert_attempt(session, phase_id=phase.id, number=2)
        passed.outcome = "passed"
        session.add_all(
            [
                models.CiResult(run_id="r", kind="baseline", command="pytest", passed=30),
                models.CiResult(
                    run_id="r",
                    phase_id=phase.id,
                    attempt_id=failed.id,
                    kind="attempt",
                    command="pytest",
                    passed=33,
                    failed=1,
                    new_failures=["tests.test_x::test_y"],
                ),
            ]
        )
        add_call(session, "r", phase_id=phase.id, attempt_id=failed.id, role="doctor")
        records.record_event(
            session,
            run_id="r",
            type="EditsApplied",
            phase_id=phase.id,
            data={"index": 0, "attempt": 1, "files": ["x.py"], "refusals": ["'/etc' refused"]},
        )
        records.record_event(
            session,
            run_id="r",
            type="AuditDone",
            data={"index": 0, "attempt": 2, "verdict": "approved", "summary": "fine"},
        )
    detail = client(store).get("/api/v1/runs/demo").json()
    first, second = detail["phases"][0]["attempts"]
    assert first["doctor_hint"] == "keep ceil"
    assert first["tests_before"]["passed"] == 30
    assert first["tests_after"]["new_failures"] == ["tests.test_x::test_y"]
    assert first["diff_files"] == ["x.py"]
    assert first["refusals"] == ["'/etc' refused"]
    assert [call["role"] for call in first["calls"]] == ["doctor"]
    assert second["audit_verdict"] == "approved"
    page = client(store).get("/runs/r").text
    assert "retry_with_hint (confidence 0.85)" in page
    assert "keep ceil" in page
    assert "EditsApplied" in page


def test_notes_are_refused_unless_enabled(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r", name="demo")
    refused = client(store).post("/api/v1/runs/demo/notes", json={"text": "hi"})
    assert refused.status_code == 403
    assert "--allow-notes" in refused.json()["detail"]
    assert 'name="text"' not in client(store).get("/runs/r").text


def test_notes_from_the_form_and_the_api_are_recorded_and_shown(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r", name="demo")
    api = client(store, allow_notes=True)
    assert 'name="text"' in api.get("/runs/r").text
    posted = api.post("/api/v1/runs/demo/notes", json={"text": "use stdlib only", "author": "ann"})
    assert posted.status_code == 201
    form = api.post("/runs/r/notes", data={"text": "  and keep it typed "}, follow_redirects=False)
    assert (form.status_code, form.headers["location"]) == (303, "/runs/r#notes")
    cross = api.post(
        "/runs/r/notes", data={"text": "x"}, headers={"origin": "https://evil.example"}
    )
    assert cross.status_code == 403
    assert api.post("/api/v1/runs/demo/notes", json={"text": ""}).status_code == 422
    with store.session() as session:
        notes = records.notes_for_run(session, run_id="r")
        assert [(n.text, n.source) for n in notes] == [
            ("use stdlib only", "dashboard"),
            ("and keep it typed", "dashboard"),
        ]
        after = records.notes_for_run(session, run_id="r", after_id=notes[0].id)
        assert [n.text for n in after] == ["and keep it typed"]
    assert "use stdlib only" in api.get("/runs/r").text


def test_a_note_with_a_key_is_recorded_once(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r")
        first = records.add_note(session, run_id="r", text="x", source="annotation", key="k1")
        again = records.add_note(session, run_id="r", text="x", source="annotation", key="k1")
        assert first.id == again.id
        assert len(records.notes_for_run(session, run_id="r")) == 1


def test_hardening_counts_failures_mitigations_and_doctor_calls(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r", phases=("Complete", "Failed"))
        phases = [records.find_phase(session, run_id="r", index=i) for i in (0, 1)]
        outcomes = [
            (0, 1, "failed", "sig-a", "pip install x"),
            (0, 2, "passed", None, None),
            (1, 1, "failed", "sig-a", "pip install x"),
            (1, 2, "failed", "sig-b", None),
        ]
        for index, number, outcome, signature, mitigation in outcomes:
            phase = phases[index]
            assert phase is not None
            attempt = records.upsert_attempt(session, phase_id=phase.id, number=number)
            attempt.outcome = outcome
            attempt.failure_signature = signature
            attempt.mitigation = mitigation
        add_call(session, "r", role="doctor")
        records.record_event(
            session,
            run_id="r",
            type="RunFinished",
            data={"doctor_calls_avoided": 2, "doctor_tokens_avoided": 2400},
        )
    view = client(store).get("/api/v1/hardening").json()
    assert view["failed_attempts"] == 3
    assert view["mitigated"] == 2
    assert view["resolved_by_mitigation"] == 1
    assert view["doctor_calls"] == 1
    assert (view["doctor_calls_avoided"], view["doctor_tokens_avoided"]) == (2, 2400)
    assert [(s["signature"], s["failures"]) for s in view["signatures"]] == [
        ("sig-a", 2),
        ("sig-b", 1),
    ]


def test_models_page_shows_the_profile_chains_and_prices(store: Store) -> None:
    api = client(store)
    view = api.get("/api/v1/models").json()
    assert [route["role"] for route in view["routes"]] == [
        "planner",
        "builder",
        "auditor",
        "doctor",
    ]
    assert all(route["low"] for route in view["routes"])
    assert view["models"]
    assert api.get("/api/v1/models", params={"profile": "nope"}).status_code == 404
    assert "Model chains per role" in api.get("/models").text


def test_api_is_versioned_and_described_by_openapi(store: Store) -> None:
    spec = client(store).get("/api/v1/openapi.json").json()
    assert {
        "/api/v1/runs",
        "/api/v1/runs/{run_ref}",
        "/api/v1/runs/{run_ref}/events",
        "/api/v1/runs/{run_ref}/notes",
        "/api/v1/usage",
        "/api/v1/models",
        "/api/v1/hardening",
    } <= set(spec["paths"])
    assert client(store).get("/api/v1/runs", params={"limit": 501}).status_code == 422


def test_every_asset_is_served_by_the_app(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r")
    api = client(store)
    for path in ("/", "/runs/r", "/usage", "/models", "/hardening"):
        page = api.get(path)
        assert page.status_code == 200, path
        assert "default-src 'self'" in page.headers["content-security-policy"]
        for asset in re.findall(r'(?:src|href)="([^"]+)"', page.text):
            assert not asset.startswith(("http:", "https:", "//")), (path, asset)
            if asset.startswith("/static/"):
                assert api.get(asset).status_code == 200, asset


def test_unknown_run_is_a_404_page_and_json(store: Store) -> None:
    api = client(store)
    assert api.get("/api/v1/runs/nope").status_code == 404
    page = api.get("/runs/nope", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert "no run with id or name &#39;nope&#39;" in page.text


def test_daily_rollup_follows_inserts_updates_and_deletes(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r")
        add_run(session, "gone")
        add_call(session, "r", tokens=(10, 1, 2, 3), cost="0.100000")
        changed = add_call(session, "r", at=T0 + days(1), role="doctor")
        add_call(session, "gone", cost="5.000000")
    with store.session() as session:
        changed.input_tokens = 7
        session.merge(changed)
    with store.session() as session:
        gone = session.get_one(models.Run, "gone")
        session.delete(gone)
    with store.session() as session:
        ledger = session.execute(
            select(
                models.LlmCall.provider,
                models.LlmCall.model,
                models.LlmCall.role,
                func.sum(models.LlmCall.input_tokens),
                func.sum(models.LlmCall.cost_usd),
                func.count(),
            ).group_by(models.LlmCall.provider, models.LlmCall.model, models.LlmCall.role)
        ).all()
        rollup = session.execute(
            select(
                models.UsageDaily.provider,
                models.UsageDaily.model,
                models.UsageDaily.role,
                func.sum(models.UsageDaily.input_tokens),
                func.sum(models.UsageDaily.cost_usd),
                func.sum(models.UsageDaily.llm_calls),
            )
            .where(models.UsageDaily.llm_calls != 0)
            .group_by(models.UsageDaily.provider, models.UsageDaily.model, models.UsageDaily.role)
        ).all()
    assert sorted(map(tuple, rollup)) == sorted(map(tuple, ledger))
    assert {row[2]: row[3] for row in rollup} == {"builder": 10, "doctor": 7}


def test_schema_matches_the_models_after_the_dashboard_migrations(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, models.Base.metadata) == []


def test_run_page_reads_nested_event_payloads(store: Store) -> None:
    with store.session() as session:
        add_run(session, "r", name="nested", phases=("Complete",))
        phase = records.find_phase(session, run_id="r", index=0)
        assert phase is not None
        attempt = records.upsert_attempt(session, phase_id=phase.id, number=1)
        attempt.outcome = "failed"
        for type_, data in (
            ("EditsApplied", {"outcome": {"files": ["a.py"], "refusals": ["'b' refused"]}}),
            ("AuditDone", {"result": {"verdict": "rejected", "reasons": ["no test", "typo"]}}),
            (
                "AttemptFinished",
                {
                    "result": {
                        "outcome": "failed",
                        "failure": {"summary": "boom", "feedback": ["Doctor's hint: try X"]},
                        "doctor_decision": "retry_with_hint (confidence 0.90)",
                    }
                },
            ),
        ):
            records.record_event(
                session,
                run_id="r",
                type=type_,
                phase_id=phase.id,
                data={"index": 0, "attempt": 1, **data},
            )
    detail = client(store).get("/api/v1/runs/nested").json()
    [attempt_view] = detail["phases"][0]["attempts"]
    assert attempt_view["diff_files"] == ["a.py"]
    assert attempt_view["refusals"] == ["'b' refused"]
    assert (attempt_view["audit_verdict"], attempt_view["audit_summary"]) == (
        "rejected",
        "no test; typo",
    )
    assert attempt_view["doctor_hint"] == "try X"
    summaries = [event["summary"] for event in detail["events"]]
    assert "attempt 1 failed: boom · Doctor: retry_with_hint (confidence 0.90)" in summaries
    assert "auditor rejected: no test; typo" in summaries
