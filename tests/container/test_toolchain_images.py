"""Runner image variants run a project of their language's tests with no network at all.

``scripts/build-images.sh --variant go|rust|java|node`` builds ``autopack/runner:<variant>``.
Each test takes a fixture project with one real dependency, fetches that dependency on the host
with the language's own client (as a cluster would pre-populate a cache volume), then runs
``autopack inspect --baseline --json`` in the image exactly as a runner pod runs: non-root,
read-only root filesystem, no capabilities, ``--network none``. It asserts the detected
toolchain and the per-test outcomes, then breaks one function and asserts the named failure.
"""

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from autopack.toolchains import find_tool
from tests.container.dockerd import docker_unavailable

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "toolchains"
VARIANTS = ("go", "rust", "java", "node")

# Building four images on two shared cores takes a while the first time.
pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

if (reason := docker_unavailable()) is not None:
    pytest.skip(reason, allow_module_level=True)


@pytest.fixture(scope="module")
def variant_images() -> None:
    """Build (or rebuild from cache) the four runner variants, one after another."""
    arguments = [arg for variant in VARIANTS for arg in ("--variant", variant)]
    subprocess.run(
        [str(REPO / "scripts" / "build-images.sh"), "--runner-only", *arguments],
        check=True,
        timeout=3600,
    )


def host_run(argv: list[str], *, cwd: Path, env: dict[str, str]) -> None:
    """Run a language's own client on the host (it reaches the registries; the image won't)."""
    program = find_tool(argv[0])
    if program is None:
        pytest.skip(f"{argv[0]} is not installed on the host to fetch the dependencies")
    done = subprocess.run(
        [str(program), *argv[1:]],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@dataclass
class Case:
    """One language: its fixture, how its dependency is fetched, and what a break looks like."""

    variant: str
    toolchain: str
    fixture: str
    passed: int
    fetch: Callable[[Path, Path], dict[str, str]]  # (project, data) -> container environment
    source: str
    old: str
    new: str
    failing: str


def fetch_go(project: Path, data: Path) -> dict[str, str]:
    cache = data / "gomodcache"
    host_run(
        ["go", "mod", "download"],
        cwd=project,
        env={"GOMODCACHE": str(cache), "GOFLAGS": "-modcacherw"},
    )
    return {
        "GOMODCACHE": "/data/gomodcache",
        "GOCACHE": "/data/gocache",
        "GOFLAGS": "-mod=mod",
        "GOPROXY": "off",
    }


def fetch_rust(project: Path, data: Path) -> dict[str, str]:
    host_run(["cargo", "fetch"], cwd=project, env={"CARGO_HOME": str(data / "cargo-home")})
    return {"CARGO_HOME": "/data/cargo-home", "CARGO_NET_OFFLINE": "true"}


def fetch_java(project: Path, data: Path) -> dict[str, str]:
    # A throwaway copy runs the tests once: the local repository then holds every plugin
    # and provider the test phase needs, not only the declared dependencies.
    warm = data / "warm-up"
    shutil.copytree(project, warm)
    host_run(["mvn", "-q", "-B", f"-Dmaven.repo.local={data / 'm2'}", "test"], cwd=warm, env={})
    shutil.rmtree(warm)
    return {"MAVEN_OPTS": "-Dmaven.repo.local=/data/m2"}


def fetch_node(project: Path, data: Path) -> dict[str, str]:
    del data
    host_run(["npm", "ci", "--no-audit", "--no-fund"], cwd=project, env={})
    return {}


CASES = {
    "go": Case(
        variant="go",
        toolchain="go",
        fixture="go-uuid",
        passed=3,
        fetch=fetch_go,
        source="ids.go",
        old='strings.Cut(id, "-")',
        new='strings.Cut(id, "x")',
        failing="example.com/ids::TestNewStartsWithPrefix",
    ),
    "rust": Case(
        variant="rust",
        toolchain="rust",
        fixture="rust-itoa",
        passed=3,
        fetch=fetch_rust,
        source="src/lib.rs",
        old="if count == 1 {",
        new="if count <= 1 {",
        failing="tests::zero_is_plural",
    ),
    "java": Case(
        variant="java",
        toolchain="java",
        fixture="maven-junit5",
        passed=3,
        fetch=fetch_java,
        source="src/main/java/dev/autopack/fixture/Prices.java",
        old="(cents * percent + 50) / 100",
        new="cents * percent / 100",
        failing="dev.autopack.fixture.PricesTest::discountRoundsHalfUp",
    ),
    "node": Case(
        variant="node",
        toolchain="node",
        fixture="node-is-number",
        passed=3,
        fetch=fetch_node,
        source="quantities.js",
        old="rest.join(' ')",
        new="rest[0]",
        failing="test::keeps every word of the noun",
    ),
}


def inspect_in_image(variant: str, data: Path, env: dict[str, str]) -> dict[str, Any]:
    """``autopack inspect --baseline --json`` in the variant image, as a runner pod runs."""
    subprocess.run(["chown", "-R", "10001:10001", str(data)], check=True)
    variables = [arg for name, value in env.items() for arg in ("-e", f"{name}={value}")]
    result = subprocess.run(
        [
            "docker",
            "run",
            "--rm",
            "--read-only",
            "--network",
            "none",
            "--user",
            "10001:10001",
            "--cap-drop",
            "ALL",
            "--security-opt",
            "no-new-privileges",
            "--tmpfs",
            "/tmp:exec",
            "--tmpfs",
            "/workspace:exec,uid=10001,gid=10001",
            "-v",
            f"{data}:/data",
            "-e",
            "COLUMNS=10000",
            *variables,
            f"autopack/runner:{variant}",
            "inspect",
            "/data/project",
            "--baseline",
            "--json",
            "--timeout",
            "600",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    document: dict[str, Any] = json.loads(result.stdout)
    return document


@pytest.mark.usefixtures("variant_images")
@pytest.mark.parametrize("variant", VARIANTS)
def test_runner_variant_runs_its_languages_tests_without_network(
    variant: str, tmp_path: Path
) -> None:
    case = CASES[variant]
    data = tmp_path / "data"
    project = data / "project"
    shutil.copytree(FIXTURES / case.fixture, project)
    env = case.fetch(project, data)

    first = inspect_in_image(variant, data, env)
    assert first["toolchains"][0]["name"] == case.toolchain
    base = first["baseline"]
    assert (base["passed"], base["failed"], base["collectionErrors"]) == (case.passed, 0, 0), base

    source = project / case.source
    text = source.read_text()
    assert case.old in text
    source.write_text(text.replace(case.old, case.new))
    broken = inspect_in_image(variant, data, env)["baseline"]
    assert (broken["passed"], broken["failed"]) == (case.passed - 1, 1), broken
    [failing] = broken["failing"]
    assert failing == case.failing
