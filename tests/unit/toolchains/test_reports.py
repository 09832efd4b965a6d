import json
import os
import time
from pathlib import Path

from autopack.gates.commands import missing_deliverable
from autopack.toolchains import SuiteCommand, choose_suite_command, detect
from autopack.toolchains.reports import parse_jest_json, parse_junit

SUREFIRE = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="x.CalcTest" tests="3" failures="1" errors="0" skipped="1">
  <testcase name="adds" classname="x.CalcTest" time="0.01"/>
  <testcase name="subtracts" classname="x.CalcTest" time="0.01">
    <failure message="expected:&lt;1&gt; but was:&lt;2&gt;" type="java.lang.AssertionError"/>
  </testcase>
  <testcase name="divides" classname="x.CalcTest" time="0"><skipped/></testcase>
</testsuite>"""


def write_report(path: Path, text: str = SUREFIRE, *, age: float = 0.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    if age:
        written = time.time() - age
        os.utime(path, (written, written))
    return path


def scratch_dir(tmp_path: Path) -> Path:
    """The report directory the gate makes just before the command starts."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    started = time.time() - 60
    os.utime(scratch, (started, started))
    return scratch


def test_surefire_and_gradle_style_junit_reports_are_read(tmp_path: Path) -> None:
    scratch = scratch_dir(tmp_path)
    write_report(tmp_path / "target" / "surefire-reports" / "TEST-x.CalcTest.xml")
    suite = SuiteCommand("mvn -q -B test", report="surefire")
    assert suite.parse(scratch, output="", exit_code=1, root=tmp_path) == (
        {
            "x.CalcTest::adds": "passed",
            "x.CalcTest::subtracts": "failed",
            "x.CalcTest::divides": "skipped",
        },
        0,
    )
    write_report(tmp_path / "build" / "test-results" / "test" / "TEST-x.CalcTest.xml")
    outcomes, _ = SuiteCommand("gradle test", report="gradle").parse(
        scratch, output="", exit_code=1, root=tmp_path
    )
    assert outcomes["x.CalcTest::subtracts"] == "failed"


def test_every_maven_modules_reports_are_read(tmp_path: Path) -> None:
    scratch = scratch_dir(tmp_path)
    write_report(tmp_path / "core" / "target" / "surefire-reports" / "TEST-x.CalcTest.xml")
    write_report(
        tmp_path / "web" / "target" / "surefire-reports" / "TEST-y.PageTest.xml",
        SUREFIRE.replace("x.CalcTest", "y.PageTest"),
    )
    outcomes, errors = SuiteCommand("mvn -q -B test", report="surefire").parse(
        scratch, output="", exit_code=1, root=tmp_path
    )
    assert (len(outcomes), errors) == (6, 0)
    assert outcomes["y.PageTest::subtracts"] == "failed"


def test_reports_left_by_an_earlier_run_are_not_read_after_a_compile_error(
    tmp_path: Path,
) -> None:
    scratch = scratch_dir(tmp_path)
    write_report(tmp_path / "target" / "surefire-reports" / "TEST-x.CalcTest.xml", age=3600)
    output = "[ERROR] COMPILATION ERROR :\n[ERROR] Calc.java:[3,20] ';' expected\n"
    suite = SuiteCommand("mvn -q -B test", report="surefire")
    assert suite.parse(scratch, output=output, exit_code=1, root=tmp_path) == ({}, 1)


def test_a_gradle_compile_error_after_some_tests_is_still_a_build_error(tmp_path: Path) -> None:
    scratch = scratch_dir(tmp_path)
    write_report(tmp_path / "lib" / "build" / "test-results" / "test" / "TEST-x.CalcTest.xml")
    output = "> Task :app:compileJava FAILED\nCompilation failed; see the compiler error output"
    outcomes, errors = SuiteCommand("gradle test", report="gradle").parse(
        scratch, output=output, exit_code=1, root=tmp_path
    )
    assert (len(outcomes), errors) == (3, 1)


def test_go_events_are_read_from_the_saved_stream_not_only_the_tail(tmp_path: Path) -> None:
    events = [
        {"Action": "pass", "Package": "example.com/p", "Test": f"Test{i}"} for i in range(2000)
    ]
    (tmp_path / "go-test.json").write_text("\n".join(json.dumps(e) for e in events))
    tail = json.dumps(events[-1])  # what a 20,000-byte tail would still hold, roughly
    outcomes, errors = SuiteCommand("go test -json ./...", report="go-json").parse(
        tmp_path, output=tail, exit_code=0, root=tmp_path
    )
    assert (len(outcomes), errors) == (2000, 0)


def test_broken_report_counts_as_an_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "bad.xml").write_text("<testsuite><testcase")
    assert parse_junit([tmp_path / "bad.xml"]) == ({}, 1)


def test_jest_json_results_are_read(tmp_path: Path) -> None:
    (tmp_path / "jest.json").write_text(
        json.dumps(
            {
                "testResults": [
                    {
                        "name": "/r/sum.test.js",
                        "status": "failed",
                        "assertionResults": [
                            {"fullName": "sum adds", "status": "passed"},
                            {"fullName": "sum overflows", "status": "failed"},
                            {"fullName": "sum later", "status": "pending"},
                        ],
                    },
                    {"name": "/r/broken.test.js", "status": "failed", "assertionResults": []},
                ]
            }
        )
    )
    assert parse_jest_json(tmp_path / "jest.json") == (
        {
            "/r/sum.test.js::sum adds": "passed",
            "/r/sum.test.js::sum overflows": "failed",
            "/r/sum.test.js::sum later": "skipped",
        },
        1,
    )


def test_jest_and_vitest_projects_write_machine_readable_results(tmp_path: Path) -> None:
    for tool, kind, flag in (
        ("jest", "jest-json", "--json --outputFile="),
        ("vitest run", "vitest-junit", "--reporter=junit"),
    ):
        root = tmp_path / tool.split()[0]
        root.mkdir()
        (root / "package.json").write_text(json.dumps({"scripts": {"test": tool}}))
        suite = choose_suite_command(detect(root, ["package.json"]))
        assert suite is not None
        assert (suite.command, suite.report) == ("npm test", kind)
        assert flag in suite.command_with_report(tmp_path / "out")


def test_deliverable_messages_name_exactly_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "a.py").write_text("def present():\n    pass\n\nCONSTANT = 1\n")
    (tmp_path / "lib.go").write_text("package lib\nfunc (s *S) Run() {}\n")
    assert missing_deliverable(tmp_path, "src/a.py::present") is None
    assert missing_deliverable(tmp_path, "src/a.py::CONSTANT") is None
    assert missing_deliverable(tmp_path, "lib.go::Run") is None
    assert missing_deliverable(tmp_path, "src/") is None
    assert missing_deliverable(tmp_path, "src/a.py::absent") == (
        "Deliverable src/a.py does not define absent"
    )
    assert missing_deliverable(tmp_path, "src/b.py") == "Deliverable file src/b.py does not exist"
    assert missing_deliverable(tmp_path, "docs/") == "Deliverable directory docs/ does not exist"
