"""Go, Rust and Java projects with real dependencies, built and tested by their own tools.

Each fixture project under ``tests/fixtures/toolchains`` depends on one real package that its
build tool resolves from its registry (the Go module proxy, crates.io, Maven Central). The
gate runs the detected test command through the sandbox as a run with
``spec.toolchain.network: true`` would, and the tests assert what a user would see: counts,
the named newly failing test, and a compile error reported as a build error rather than as
the previous run's results.

The sandbox mounts the host read-only, so each tool's download cache is pointed (through the
variables the sandbox passes on) at a directory inside the sandbox's scratch space. That space
is shared by the tests of this module: each language downloads and compiles its standard
library and dependencies once.
"""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack import sandbox as sandboxing
from autopack.gates import CommandGates
from autopack.planning import scan_repository
from autopack.toolchains import choose_suite_command, detect, locating

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "toolchains"

pytestmark = pytest.mark.slow


def requires(program: str) -> None:
    """Skip, naming where it was looked for, when this machine has no ``program`` at all."""
    if locating.find_tool(program) is None:
        places = ", ".join(str(d) for d in locating.known_directories(program))
        pytest.skip(f"{program} is neither on PATH nor in {places}")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sandbox scratch space (private HOME, caches) shared by this module's tests."""
    return tmp_path_factory.mktemp("sandbox")


@pytest.fixture
def open_gates() -> Iterator[list[sandboxing.Sandbox]]:
    """Sandboxes opened by a test, closed after it."""
    opened: list[sandboxing.Sandbox] = []
    yield opened
    for sandbox in opened:
        sandbox.close()


def project(tmp_path: Path, fixture: str) -> Path:
    root = tmp_path / fixture
    shutil.copytree(FIXTURES / fixture, root)
    return root


def gates_for(root: Path, scratch: Path, opened: list[sandboxing.Sandbox]) -> CommandGates:
    """The gate a run would build: detected command, sandbox with network for downloads."""
    suite = choose_suite_command(detect(root, list(scan_repository(root).files)))
    assert suite is not None
    sandbox = sandboxing.choose("auto", workspace=root, network=True, scratch=scratch)
    opened.append(sandbox)
    return CommandGates(root, suite=suite, timeout=900, sandbox=sandbox)


def replace(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


@pytest.fixture
def go_caches(scratch: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOMODCACHE", str(scratch / "gomodcache"))
    monkeypatch.setenv("GOFLAGS", "-modcacherw")  # a module cache pytest can delete


@pytest.mark.usefixtures("go_caches")
def test_go_module_with_a_dependency_outcomes_and_build_errors(
    tmp_path: Path, scratch: Path, open_gates: list[sandboxing.Sandbox]
) -> None:
    requires("go")
    root = project(tmp_path, "go-uuid")
    gates = gates_for(root, scratch, open_gates)
    assert gates.test_command == "go test -json ./..."

    base = gates.baseline()
    assert (base.passed, base.failed, base.collection_errors) == (3, 0, 0), base.log_excerpt
    assert any((scratch / "gomodcache").glob("github.com/google/uuid@v1.6.0"))

    replace(root / "ids.go", 'strings.Cut(id, "-")', 'strings.Cut(id, "x")')
    broken = gates.tests()
    assert broken.blocked
    assert broken.new_failures == ("example.com/ids::TestNewStartsWithPrefix",)
    assert (broken.passed, broken.failed) == (2, 1)

    replace(root / "ids.go", "return prefix\n", "return prefix +\n")
    uncompilable = gates.tests()
    assert uncompilable.blocked
    assert uncompilable.collection_errors == 1
    assert uncompilable.passed == 0


@pytest.mark.usefixtures("go_caches")
def test_the_machines_go_is_found_when_path_lacks_it(
    tmp_path: Path,
    scratch: Path,
    open_gates: list[sandboxing.Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI shells do not read the profile that puts /usr/local/go/bin on PATH."""
    requires("go")
    go = locating.find_tool("go")
    assert go is not None
    trimmed = os.pathsep.join(
        entry
        for entry in os.environ.get("PATH", "").split(os.pathsep)
        if entry and not (Path(entry) / "go").exists()
    )
    monkeypatch.setenv("PATH", trimmed)
    monkeypatch.delenv("GOROOT", raising=False)
    if go.parent not in locating.known_directories("go"):
        monkeypatch.setenv("GOROOT", str(go.resolve().parents[1]))  # an unusual install
    assert shutil.which("go") is None
    root = project(tmp_path, "go-uuid")
    base = gates_for(root, scratch, open_gates).baseline()
    assert (base.passed, base.failed) == (3, 0), base.log_excerpt


def test_rust_crate_with_a_crates_io_dependency_outcomes_and_build_errors(
    tmp_path: Path,
    scratch: Path,
    open_gates: list[sandboxing.Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requires("cargo")
    # A cargo home of its own: the dependency really comes from crates.io, not a warm cache.
    cargo_home = scratch / "cargo-home"
    monkeypatch.setenv("CARGO_HOME", str(cargo_home))
    monkeypatch.setenv("RUSTUP_HOME", os.environ.get("RUSTUP_HOME", str(Path.home() / ".rustup")))
    monkeypatch.delenv("CARGO_TARGET_DIR", raising=False)
    monkeypatch.delenv("CARGO_NET_OFFLINE", raising=False)
    root = project(tmp_path, "rust-itoa")
    gates = gates_for(root, scratch, open_gates)
    assert gates.test_command == "cargo test --no-fail-fast"

    base = gates.baseline()
    assert (base.passed, base.failed, base.collection_errors) == (3, 0, 0), base.log_excerpt
    assert any((cargo_home / "registry").rglob("itoa-1.*")), "itoa was not fetched"

    replace(root / "src" / "lib.rs", "if count == 1 {", "if count <= 1 {")
    broken = gates.tests()
    assert broken.blocked
    assert broken.new_failures == ("tests::zero_is_plural",)
    assert (broken.passed, broken.failed) == (2, 1)

    replace(root / "src" / "lib.rs", "buffer.format(count);", "buffer.format(count)")
    uncompilable = gates.tests()
    assert uncompilable.blocked
    assert uncompilable.collection_errors == 1


def test_maven_project_resolves_from_maven_central_and_reads_surefire(
    tmp_path: Path,
    scratch: Path,
    open_gates: list[sandboxing.Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requires("mvn")
    # A local repository of its own: junit really comes from Maven Central. (Named explicitly:
    # in the sandbox the JVM's user.home is "?", the sandbox user having no passwd entry.)
    monkeypatch.setenv("MAVEN_OPTS", f"-Dmaven.repo.local={scratch / 'm2'}")
    root = project(tmp_path, "maven-junit5")
    gates = gates_for(root, scratch, open_gates)
    assert gates.test_command == "mvn -q -B test"

    base = gates.baseline()
    assert (base.passed, base.failed, base.collection_errors) == (3, 0, 0), base.log_excerpt
    assert any((scratch / "m2").rglob("junit-jupiter-api-5.14.1.jar"))

    java = root / "src" / "main" / "java" / "dev" / "autopack" / "fixture" / "Prices.java"
    replace(java, "(cents * percent + 50) / 100", "cents * percent / 100")
    broken = gates.tests()
    assert broken.blocked
    assert broken.new_failures == ("dev.autopack.fixture.PricesTest::discountRoundsHalfUp",)
    assert (broken.passed, broken.failed) == (2, 1)

    # A compile error leaves the last run's reports in target/: they must not be read again.
    replace(java, "return sum;", "return sum")
    uncompilable = gates.tests()
    assert uncompilable.blocked
    assert uncompilable.collection_errors == 1
    assert (uncompilable.passed, uncompilable.failed) == (0, 0)


def test_gradle_project_resolves_from_maven_central_and_reads_its_xml(
    tmp_path: Path,
    scratch: Path,
    open_gates: list[sandboxing.Sandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requires("gradle")
    # A Gradle home of its own: junit really comes from Maven Central, not a warm cache.
    monkeypatch.setenv("GRADLE_USER_HOME", str(scratch / "gradle-home"))
    root = project(tmp_path, "gradle-junit4")
    gates = gates_for(root, scratch, open_gates)
    assert gates.test_command == "gradle test --no-daemon"

    base = gates.baseline()
    assert (base.passed, base.failed, base.collection_errors) == (2, 0, 0), base.log_excerpt
    assert any((scratch / "gradle-home").rglob("junit-4.13.2.jar"))

    java = root / "src" / "main" / "java" / "dev" / "autopack" / "fixture" / "Shelf.java"
    replace(java, "titles.size() >= capacity", "titles.size() > capacity")
    broken = gates.tests()
    assert broken.blocked
    assert broken.new_failures == ("dev.autopack.fixture.ShelfTest::refusesPastCapacity",)
    assert (broken.passed, broken.failed) == (1, 1)

    replace(java, "return titles.size();", "return titles.size()")
    uncompilable = gates.tests()
    assert uncompilable.blocked
    assert uncompilable.collection_errors == 1
    assert (uncompilable.passed, uncompilable.failed) == (0, 0)
