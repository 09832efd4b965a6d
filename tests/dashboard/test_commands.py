"""``autopack note`` and ``autopack dashboard`` as a user runs them: real processes, real store."""

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from autopack.store import Store, records
from tests.dashboard.builders import add_run
from tests.dashboard.conftest import ROOT, _free_port

AUTOPACK = [sys.executable, "-c", "from autopack.cli import main; main()"]


def autopack(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*AUTOPACK, *args], capture_output=True, text=True, timeout=120, check=False, cwd=ROOT
    )


@pytest.fixture
def url(tmp_path: Path) -> str:
    database = f"sqlite:///{tmp_path / 'autopack.db'}"
    store = Store.open(database)
    with store.session() as session:
        add_run(session, "uid-1", name="demo")
    store.dispose()
    return database


def test_note_command_records_a_note_on_the_named_run(url: str) -> None:
    added = autopack("note", "demo", "Prefer the standard library", "--author", "ann", "--url", url)
    assert added.returncode == 0, added.stderr
    assert "added to run demo (uid-1)" in added.stdout
    store = Store.open(url)
    with store.session() as session:
        notes = records.notes_for_run(session, run_id="uid-1")
        assert [(n.text, n.author, n.source) for n in notes] == [
            ("Prefer the standard library", "ann", "cli")
        ]
    store.dispose()


def test_note_command_names_what_is_wrong(url: str) -> None:
    missing = autopack("note", "nope", "hello", "--url", url)
    assert missing.returncode == 1
    assert "no run named 'nope'" in missing.stderr
    assert "Traceback" not in missing.stderr
    empty = autopack("note", "demo", "   ", "--url", url)
    assert empty.returncode == 1
    assert "a note needs some text" in empty.stderr


def test_dashboard_command_serves_pages_and_api(url: str) -> None:
    port = _free_port()
    server = subprocess.Popen(
        [*AUTOPACK, "dashboard", "--db", url, "--port", str(port), "--refresh", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if httpx.get(f"{base}/healthz", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not answer within 120 s"
            time.sleep(0.2)
        assert httpx.get(f"{base}/api/v1/runs", timeout=10).json()["items"][0]["name"] == "demo"
        assert "demo</a>" in httpx.get(f"{base}/", timeout=10).text
    finally:
        server.terminate()
        server.communicate(timeout=30)


def test_dashboard_refuses_a_store_without_tables(tmp_path: Path) -> None:
    result = autopack("dashboard", "--db", f"sqlite:///{tmp_path / 'empty.db'}")
    assert result.returncode == 1
    assert "autopack db upgrade" in result.stderr


def test_dashboard_refuses_a_store_behind_its_schema(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'old.db'}"
    old = Store.connect(database)
    old.upgrade("0001")
    old.dispose()
    result = autopack("dashboard", "--db", database)
    assert result.returncode == 1
    assert "is at schema revision 0001" in result.stderr
    assert "autopack db upgrade" in result.stderr
