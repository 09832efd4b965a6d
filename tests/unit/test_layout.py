"""The repository's shape: layers, module docstrings and the files users and CI rely on."""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SOURCES = sorted((REPO / "src" / "autopack").rglob("*.py"))


def test_the_operator_folder_never_shadows_the_stdlib_operator_module() -> None:
    # Run from the repository root, where '' leads sys.path: an operator/__init__.py there
    # would be imported instead of the standard library's module.
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import operator, sysconfig; print(operator.__file__); "
            "print(sysconfig.get_paths()['stdlib'])",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    module_file, stdlib = result.stdout.splitlines()
    assert Path(module_file).resolve().parent == Path(stdlib).resolve()
    assert not (REPO / "operator" / "__init__.py").exists()


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_every_module_says_why_it_exists(path: Path) -> None:
    if path.parent.name == "versions" or path.name == "env.py":
        pytest.skip("Alembic files follow Alembic's template")
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstring = ast.get_docstring(tree)
    if path.name == "__init__.py" and not tree.body:
        pytest.skip("empty package marker")
    assert docstring, f"{path.relative_to(REPO)} has no module docstring"


def test_generated_crds_are_committed_where_design_says() -> None:
    assert sorted(p.name for p in (REPO / "crds").glob("*.yaml")) == [
        "autopackruns.autopack.dev.yaml",
        "phases.autopack.dev.yaml",
    ]


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "scripts/test.sh" in readme
    assert "scripts/test.sh" in ci


KUBERNETES_CLIENTS = {"kopf", "kubernetes", "kubernetes_asyncio"}
ENTRY_POINTS = {"cli", "operator", "runner", "dashboard"}


def imported_roots(path: Path) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(REPO)) for p in SOURCES])
def test_only_entry_points_talk_to_kubernetes(path: Path) -> None:
    package = path.relative_to(REPO / "src" / "autopack").parts[0]
    if package in ENTRY_POINTS:
        pytest.skip("entry points may use the Kubernetes clients")
    assert not imported_roots(path) & KUBERNETES_CLIENTS, f"{package} imports a Kubernetes client"
