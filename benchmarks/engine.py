"""Print JSON figures for the run engine (issue: run engine).

- engine overhead per phase, excluding model latency and test time (target: under 300 ms);
- context selection on a generated 10,000-file repository (target: under 2 s);
- prompt size per Builder attempt on the demo compared with sending every scoped file whole
  (target: under half). Sizes are characters / 4 (an approximation, labelled as such).

Run: .venv/bin/python benchmarks/engine.py
"""

import json
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import yaml

from autopack.api import loading
from autopack.engine import events
from autopack.engine.local import BlockEditor, open_local_session

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "examples" / "demo"
GIT = ["-c", "user.name=b", "-c", "user.email=b@b"]


def demo_origin(scratch: Path) -> Path:
    source = scratch / "source"
    shutil.copytree(DEMO / "project", source)
    subprocess.run(["git", "init", "-q", "-b", "main", str(source)], check=True)
    subprocess.run(["git", "-C", str(source), "add", "-A"], check=True)
    subprocess.run(["git", "-C", str(source), *GIT, "commit", "-qm", "i"], check=True)
    origin = scratch / "origin.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(source), str(origin)], check=True)
    return origin


def engine_overhead(scratch: Path) -> dict[str, float]:
    data = yaml.safe_load((DEMO / "run.yaml").read_text())
    data["spec"]["toolchain"] = {"test": "python -m pytest -q -p no:asyncio -p no:kmock"}
    run = loading.parse_run(data, source="demo")
    recorded: list[events.Event] = []
    session = open_local_session(
        run,
        run_id="bench",
        repo_url=str(demo_origin(scratch)),
        workdir=scratch / "work",
        cassette=DEMO / "cassette.yaml",
        emit=recorded.append,
    )
    session.use_memory = False
    started = time.perf_counter()
    session.start()
    outcome = session.execute()
    total = time.perf_counter() - started
    tests = sum(e.duration_seconds for e in recorded if isinstance(e, events.TestsRan))
    phases = len(run.spec.phases)
    return {
        "state_ok": outcome.state == "Succeeded",
        "total_seconds": round(total, 3),
        "test_seconds": round(tests, 3),
        "overhead_ms_per_phase": round(1000 * (total - tests) / phases, 1),
        "overhead_target_ms": 300,
    }


def context_selection(scratch: Path) -> dict[str, float]:
    big = scratch / "big"
    for index in range(10_000):
        directory = big / f"pkg{index % 100}"
        directory.mkdir(parents=True, exist_ok=True)
        (directory / f"m{index}.py").write_text(f"def f{index}():\n    return {index}\n")
    subprocess.run(["git", "init", "-q", str(big)], check=True)
    subprocess.run(["git", "-C", str(big), "add", "-A"], check=True)
    data = yaml.safe_load((DEMO / "run.yaml").read_text())
    run = loading.parse_run(data, source="demo")
    phase = run.spec.phases[0].model_copy(
        update={"scope": run.spec.phases[0].scope.model_copy(update={"allowed_paths": ["pkg7/"]})}
    )
    editor = BlockEditor(big, run=run)
    started = time.perf_counter()
    text = editor.context(phase=phase, feedback=[], budget_tokens=24_000)
    return {
        "files": 10_000,
        "seconds": round(time.perf_counter() - started, 3),
        "target_seconds": 2.0,
        "context_tokens_approx": len(text) // 4,
    }


def prompt_ratio() -> dict[str, float]:
    data = yaml.safe_load((DEMO / "run.yaml").read_text())
    run = loading.parse_run(data, source="demo")
    project = DEMO / "project"
    editor = BlockEditor(project, run=run)
    phase = run.spec.phases[0]
    context = editor.context(phase=phase, feedback=[], budget_tokens=24_000)
    whole = sum(
        len(p.read_text())
        for p in project.rglob("*")
        if p.is_file()
        and any(str(p.relative_to(project)).startswith(a) for a in phase.scope.allowed_paths)
    )
    return {
        "context_tokens_approx": len(context) // 4,
        "whole_scoped_files_tokens_approx": whole // 4,
        "ratio": round(len(context) / max(whole, 1), 2),
        "target_ratio": 0.5,
    }


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        print(
            json.dumps(
                {
                    "engine": engine_overhead(base),
                    "context_selection": context_selection(base),
                    "prompt_size": prompt_ratio(),
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
