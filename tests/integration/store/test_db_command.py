from alembic.script import ScriptDirectory
from typer.testing import CliRunner

from autopack.cli.app import app
from autopack.store import Store, records
from autopack.store.engine import MIGRATIONS_DIR

runner = CliRunner()


def test_db_upgrade_then_current_reports_head(database_url: str) -> None:
    upgraded = runner.invoke(app, ["db", "upgrade", "--url", database_url])
    assert upgraded.exit_code == 0, upgraded.output
    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert f"is at revision {head}" in upgraded.stdout
    current = runner.invoke(app, ["db", "current", "--url", database_url])
    assert f"is at revision {head}" in current.stdout


def test_db_current_before_upgrade_says_what_to_do(sqlite_url: str) -> None:
    result = runner.invoke(app, ["db", "current", "--url", sqlite_url])
    assert result.exit_code == 0
    assert "none (run autopack db upgrade)" in result.stdout


def test_unreachable_database_is_one_line_not_a_traceback() -> None:
    result = runner.invoke(
        app, ["db", "upgrade"], env={"AUTOPACK_DATABASE_URL": "postgresql://u:pw@127.0.0.1:9/x"}
    )
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: database postgresql://u:***@127.0.0.1:9/x is unavailable")
    assert "Traceback" not in result.output


def test_runs_list_on_empty_store(sqlite_url: str) -> None:
    result = runner.invoke(app, ["runs", "list", "--url", sqlite_url])
    assert result.exit_code == 0
    assert "no runs recorded yet" in result.stdout


def test_runs_show_unknown_run_fails_with_hint(sqlite_url: str) -> None:
    result = runner.invoke(app, ["runs", "show", "ghost", "--url", sqlite_url])
    assert result.exit_code == 1
    assert "no run named 'ghost'" in result.stderr


def test_runs_show_lists_phases_and_failed_attempts(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    with store.session() as session:
        records.upsert_run(
            session,
            run_id="u1",
            name="demo",
            repo_url="/r",
            base_ref="main",
            push_branch="autopack/demo",
            spec={},
        )
        phase = records.upsert_phase(
            session, run_id="u1", index=0, title="Add parser", definition={}
        )
        phase.state = "Complete"
        phase.attempts_made = 2
        attempt = records.upsert_attempt(session, phase_id=phase.id, number=1)
        attempt.outcome = "failed"
        attempt.model = "claude-haiku"
        attempt.failure_category = "ci"
        attempt.failure_signature = "ModuleNotFoundError: No module named <mod>"
        attempt.mitigation = "missing-python-module: installed pyyaml"
        attempt.mitigation_fixed = True
        attempt.escalation = "builder -> claude-sonnet"
        records.upsert_attempt(session, phase_id=phase.id, number=2).outcome = "passed"
    store.dispose()
    result = runner.invoke(app, ["runs", "show", "demo", "--url", sqlite_url])
    assert result.exit_code == 0, result.output
    out = " ".join(result.stdout.split())
    assert "Add parser" in out
    assert "failed attempts" in out
    assert "ci: ModuleNotFoundError: No module named <mod>" in out
    assert "missing-python-module: installed pyyaml (fixed)" in out
    assert "builder -> claude-sonnet" in out
