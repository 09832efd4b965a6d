"""Fixtures for the dashboard's end-to-end tests: a store filled by real demo runs, a served
dashboard, and headless Debian chromium driven by Selenium through chromium-driver.
"""

import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from autopack.dashboard import DashboardConfig, create_app
from autopack.store import Store

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
AXE = ROOT / ".tools" / "axe" / "node_modules" / "axe-core" / "axe.min.js"


def _git(*args: str, cwd: Path) -> None:
    subprocess.run(
        ["git", "-c", "user.name=Demo", "-c", "user.email=demo@example.com", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def run_demo(workdir: Path, *, database_url: str) -> subprocess.CompletedProcess[str]:
    """Run examples/demo/run.yaml with its cassette through the real ``autopack run``."""
    repo = workdir / "repo"
    shutil.copytree(ROOT / "examples" / "demo" / "project", repo)
    _git("init", "-q", "-b", "main", cwd=repo)
    _git("add", "-A", cwd=repo)
    _git("commit", "-q", "-m", "textstats: word_count", cwd=repo)
    _git("clone", "-q", "--bare", str(repo), str(workdir / "origin.git"), cwd=workdir)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from autopack.cli import main; main()",
            "run",
            str(ROOT / "examples" / "demo" / "run.yaml"),
            "--repo",
            str(workdir / "origin.git"),
            "--cassette",
            str(ROOT / "examples" / "demo" / "cassette.yaml"),
            "--workdir",
            str(workdir / "work"),
            "--db",
            database_url,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Store]:
    """A SQLite store holding the demo run (phase 0 fails once, the Doctor hints, it passes)."""
    workdir = tmp_path_factory.mktemp("demo")
    url = f"sqlite:///{workdir / 'autopack.db'}"
    finished = run_demo(workdir, database_url=url)
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    store = Store.open(url)
    yield store
    store.dispose()


@dataclass
class Served:
    """A dashboard listening on localhost."""

    url: str
    store: Store


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def served(demo_store: Store) -> Iterator[Served]:
    """The dashboard over the demo store, notes enabled, refreshing every second."""
    app = create_app(demo_store, DashboardConfig(allow_notes=True, refresh_seconds=1))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert time.monotonic() < deadline, "the dashboard did not start within 60 s"
        assert thread.is_alive(), "the dashboard server thread died"
        time.sleep(0.05)
    yield Served(url=f"http://127.0.0.1:{port}", store=demo_store)
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[object]:
    """Headless chromium (Selenium + chromium-driver) with its own profile directory."""
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip(
            "needs Debian's chromium and chromium-driver (scripts/setup.sh installs them as root)"
        )
    from selenium import webdriver  # noqa: PLC0415 - only where the browser exists
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1600",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
