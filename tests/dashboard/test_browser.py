"""The dashboard in a real browser over a store filled by the real demo run.

Every page loads without console errors and passes axe-core's WCAG A/AA checks; a screenshot
of each page is saved in the test's temporary directory.
"""

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from autopack.store import models, notes, records
from tests.dashboard.builders import add_run
from tests.dashboard.conftest import AXE, Served

pytestmark = pytest.mark.slow

PAGES = {
    "runs": "/",
    "run": "/runs/textstats-demo",
    "usage": "/usage",
    "usage-week": "/usage?period=week",
    "models": "/models",
    "hardening": "/hardening",
}


def wait_for(browser: Any, condition: Any, *, seconds: float = 60) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait  # noqa: PLC0415

    return WebDriverWait(browser, seconds, poll_frequency=0.2).until(condition)


def console_errors(browser: Any) -> list[str]:
    return [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def axe_violations(browser: Any) -> list[dict[str, Any]]:
    browser.execute_script(AXE.read_text(encoding="utf-8"))
    result = browser.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa']})"
        ".then(r => done(JSON.stringify(r.violations)), e => done(JSON.stringify(String(e))));"
    )
    violations: list[dict[str, Any]] = json.loads(result)
    return violations


@pytest.mark.parametrize("page", list(PAGES))
def test_page_loads_without_console_errors_and_passes_axe(
    browser: Any, served: Served, tmp_path: Path, page: str
) -> None:
    browser.get(served.url + PAGES[page])
    wait_for(browser, lambda b: b.execute_script("return document.readyState") == "complete")
    assert browser.title.endswith("· Autopack")
    browser.save_screenshot(str(tmp_path / f"{page}.png"))
    assert console_errors(browser) == []
    if not AXE.exists():
        pytest.skip(f"axe-core not installed at {AXE} (scripts/setup.sh installs it with npm)")
    browser.set_script_timeout(60)
    violations = axe_violations(browser)
    assert violations == [], [(v["id"], v["help"], len(v["nodes"])) for v in violations]


def test_run_page_shows_the_demo_failed_attempt_and_the_doctor_decision(
    browser: Any, served: Served, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    browser.get(served.url + "/runs/textstats-demo")
    attempt = wait_for(browser, lambda b: b.find_element(By.ID, "phase-0-attempt-1"))
    text = attempt.text
    assert "Attempt 1: failed" in text
    assert "tests.test_reading::test_empty_text_takes_no_time" in text
    assert "retry_with_hint (confidence 0.85)" in text
    assert "33 passed, 1 failed" in text
    assert "30 passed, 0 failed" in text
    second = browser.find_element(By.ID, "phase-0-attempt-2")
    second.find_element(By.TAG_NAME, "summary").click()
    assert "approved" in second.text
    browser.save_screenshot(str(tmp_path / "run-attempts.png"))


def test_run_page_shows_the_doctor_hint(browser: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    browser.get(served.url + "/runs/textstats-demo")
    wait_for(browser, lambda b: b.find_element(By.ID, "phase-0-attempt-1"))
    hints = browser.find_elements(By.CLASS_NAME, "doctor-hint")
    assert hints
    assert "reading_time('') must return 0" in hints[0].text


def test_usage_totals_equal_the_ledger(browser: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    with served.store.session() as session:
        ledger = session.execute(
            select(
                func.sum(models.LlmCall.input_tokens),
                func.sum(models.LlmCall.output_tokens),
                func.count(models.LlmCall.id),
                func.coalesce(func.sum(models.LlmCall.cost_usd), 0),
            )
        ).one()
    browser.get(served.url + "/usage")
    totals = wait_for(browser, lambda b: b.find_element(By.ID, "usage-totals"))
    shown = (
        int(totals.get_attribute("data-input")),
        int(totals.get_attribute("data-output")),
        int(totals.get_attribute("data-calls")),
        Decimal(totals.get_attribute("data-cost")),
    )
    expected = (int(ledger[0] or 0), int(ledger[1] or 0), int(ledger[2]), Decimal(ledger[3] or 0))
    assert shown == expected
    assert ledger[2] == 6  # the demo's Builder, Doctor and Auditor calls
    bars = browser.find_elements(By.CSS_SELECTOR, "svg.chart rect title")
    assert bars, "the token chart has no bars"


def test_runs_list_refreshes_live_and_filters(browser: Any, served: Served) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415
    from selenium.webdriver.support.ui import Select  # noqa: PLC0415

    browser.get(served.url + "/")
    table = wait_for(browser, lambda b: b.find_element(By.ID, "runs"))
    assert "textstats-demo" in table.text
    assert "2/2" in table.text
    with served.store.session() as session:
        add_run(session, "live-run-id", name="appeared-later", state="Running")
    wait_for(browser, lambda b: "appeared-later" in b.find_element(By.ID, "runs").text)
    Select(browser.find_element(By.NAME, "state")).select_by_visible_text("Running")
    browser.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait_for(browser, lambda b: "state=Running" in b.current_url)
    rows = browser.find_element(By.ID, "runs").text
    assert "appeared-later" in rows
    assert "textstats-demo" not in rows
    assert console_errors(browser) == []


def test_a_note_from_the_form_is_recorded_for_the_next_prompts(
    browser: Any, served: Served
) -> None:
    from selenium.webdriver.common.by import By  # noqa: PLC0415

    browser.get(served.url + "/runs/textstats-demo")
    field = wait_for(browser, lambda b: b.find_element(By.ID, "note-text"))
    field.send_keys("Keep reading_time pure; no I/O in textstats/")
    browser.find_element(By.ID, "note-author").send_keys("reviewer")
    browser.find_element(By.CSS_SELECTOR, ".note-form button").click()
    note = wait_for(browser, lambda b: b.find_element(By.CSS_SELECTOR, "blockquote.note"))
    assert "Keep reading_time pure" in note.text
    assert "reviewer via dashboard" in note.text
    with served.store.session() as session:
        run = records.find_run(session, name="textstats-demo")
        assert run is not None
        run_id = run.id
    # What the engine reads before each Builder and Doctor prompt of this run
    # (tests/integration/engine shows those notes inside the prompts).
    before_next_prompt = notes.notes_reader(served.store, run_id=run_id)()
    assert before_next_prompt[-1] == "Keep reading_time pure; no I/O in textstats/"
    assert console_errors(browser) == []
