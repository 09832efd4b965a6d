"""``benchmarks/cluster.py`` runs at a tiny size on both backends and reports what it promises.

A smoke test, not a timed one: two runs per operator, so the figures mean nothing; what is
checked is that the side-by-side measurement completes and names its figures (latency,
writes per run by writer, memory), and on the real control plane that the writes come from the
audit log, told apart by writer.
"""

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.controlplane import session
from tests.controlplane.server import locate_binaries

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def benchmark() -> ModuleType:
    """``benchmarks/cluster.py`` imported as a module."""
    spec = importlib.util.spec_from_file_location(
        "cluster_benchmark", REPO / "benchmarks" / "cluster.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def check_row(row: dict[str, Any], *, writers: set[str]) -> None:
    assert row["runs"] == 2
    for operator in ("autopack", "bare_kopf"):
        figures = row[operator]
        assert 0 < figures["create_to_job_seconds_p50"] <= figures["create_to_job_seconds_p99"]
        assert figures["operator_rss_mib_all_jobs_created"] > 0
        by_writer = figures["api_writes_per_run"]["by_writer"]
        assert writers <= by_writer.keys(), by_writer
        # Each operator creates one Job per run.
        assert figures["api_writes_per_run"]["operator_breakdown"]["jobs/create"] == 1.0
    assert row["autopack_over_bare"]["create_to_job_seconds_p50"] is not None


def test_the_benchmark_runs_on_the_emulator(benchmark: ModuleType, tmp_path: Path) -> None:
    row = benchmark.side_by_side(benchmark.Emulator(), 2, tmp_path)
    check_row(row, writers={"operator", "user"})


@pytest.fixture
def real_server(benchmark: ModuleType, tmp_path: Path) -> Iterator[Any]:
    """The benchmark's own control plane (skipped, or failed when required, if not built)."""
    if locate_binaries().missing():
        message = "the test control plane is not built; run scripts/build-controlplane.sh"
        if session.is_required():
            pytest.fail(message)
        pytest.skip(message)
    server = benchmark.RealServer(tmp_path / "server")
    try:
        yield server
    finally:
        server.stop()


@pytest.mark.controlplane
def test_the_benchmark_counts_writes_by_writer_on_the_real_server(
    benchmark: ModuleType, real_server: Any, tmp_path: Path
) -> None:
    row = benchmark.side_by_side(real_server, 2, tmp_path)
    check_row(row, writers={"operator", "controllers", "kubelet", "user"})
    # The stand-in runner writes nothing; the Job controller creates a pod per Job.
    autopack = row["autopack"]["api_writes_per_run"]["by_writer"]
    assert "runner" not in autopack
    assert autopack["controllers"] >= 1
