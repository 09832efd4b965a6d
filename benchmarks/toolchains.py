"""Print JSON figures for toolchain detection and baseline overhead (issue: toolchains).

- detection time on a generated 20,000-file repository (target: under 1 s);
- overhead of a baseline run beyond the raw test command's own time (target: under 10 %).

Run: .venv/bin/python benchmarks/toolchains.py
"""

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autopack.gates.commands import CommandGates
from autopack.planning import scan_repository
from autopack.toolchains import SuiteCommand, detect


def generate(root: Path, files: int) -> None:
    (root / "pyproject.toml").write_text("[project]\nname='big'\n")
    (root / "web").mkdir()
    (root / "web" / "package.json").write_text('{"scripts": {"test": "node --test"}}')
    for index in range(files):
        directory = root / f"pkg{index % 200}" / f"mod{index % 17}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"file{index}.py").write_text("x = 1\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run(["git", "-C", str(root), "add", "-A"], check=True)


def tests_project(root: Path) -> None:
    (root / "tests").mkdir(parents=True)
    (root / "pyproject.toml").write_text("")
    body = "".join(f"def test_{n}():\n    assert sum(range({n})) >= 0\n\n" for n in range(300))
    (root / "tests" / "test_many.py").write_text(body)


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        big = Path(scratch) / "big"
        big.mkdir()
        generate(big, 20_000)
        started = time.perf_counter()
        scan = scan_repository(big)
        scanned = time.perf_counter()
        found = detect(big, list(scan.files))
        detected = time.perf_counter()
        project = Path(scratch) / "project"
        tests_project(project)
        command = f"{sys.executable} -m pytest -q -p no:cacheprovider -p no:asyncio -p no:kmock"
        raw = []
        for _ in range(3):
            begin = time.perf_counter()
            subprocess.run(command, shell=True, cwd=project, capture_output=True, check=False)  # noqa: S602
            raw.append(time.perf_counter() - begin)
        gated = []
        gates = CommandGates(project, suite=SuiteCommand(command, report="junit"))
        for _ in range(3):
            begin = time.perf_counter()
            outcome = gates.baseline()
            gated.append(time.perf_counter() - begin)
        raw_best, gated_best = min(raw), min(gated)
        print(
            json.dumps(
                {
                    "files": len(scan.files),
                    "scan_seconds": round(scanned - started, 3),
                    "detection_seconds": round(detected - scanned, 3),
                    "detection_target_seconds": 1.0,
                    "toolchains": [(d.name, d.working_dir, d.confidence) for d in found],
                    "raw_test_seconds": round(raw_best, 3),
                    "baseline_seconds": round(gated_best, 3),
                    "baseline_overhead_percent": round(100 * (gated_best - raw_best) / raw_best, 1),
                    "baseline_overhead_target_percent": 10,
                    "tests": outcome.passed,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
