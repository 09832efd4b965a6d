"""Context selection on real files: what the Builder sees whole, in which order, within budget."""

from pathlib import Path
from typing import Any

import pytest

from autopack import planning
from autopack.agents import contexting
from autopack.agents.contexting import ContextSelector, terms
from autopack.api import PhaseDefinition
from autopack.llm.tokens import count_prompt, count_tokens
from autopack.planning import RepoScan
from tests.builders.api import RunBuilder


def phase_definition(title: str, **fields: object) -> PhaseDefinition:
    return RunBuilder().phase(title, **fields).obj().spec.phases[0]


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)


def shop(root: Path) -> None:
    write(
        root,
        {
            "shop/__init__.py": '"""Shop."""\n',
            "shop/cart.py": "from shop.prices import unit_price\n\n\ndef total(items):\n"
            "    return sum(unit_price(i) for i in items)\n",
            "shop/prices.py": "def unit_price(item):\n    return 1\n",
            "shop/checkout.py": "from shop.cart import total\n\n\ndef pay(items):\n"
            "    return total(items)\n",
            "shop/shipping.py": "def parcel_weight(items):\n    return len(items)\n",
            "shop/invoices.py": "def invoice_number(order):\n    return order\n",
            "tests/test_cart.py": "from shop.cart import total\n\n\ndef test_total():\n"
            "    assert total([1]) == 1\n",
            "tests/test_shipping.py": "def test_weight():\n    pass\n",
            "docs/guide.md": "# Guide\n",
        },
    )


def whole_files(text: str) -> list[str]:
    return [
        line[4:] for line in text.splitlines() if line.startswith("--- ") and "(not" not in line
    ]


def test_deliverables_their_neighbours_and_tests_are_whole_and_the_rest_only_mapped(
    tmp_path: Path,
) -> None:
    shop(tmp_path)
    phase = phase_definition(
        title="Discounts in the cart",
        goal="Apply a percentage discount to the cart total.",
        deliverables=["shop/cart.py::total"],
        scope={"allowedPaths": ["shop/", "tests/"]},
    )
    text = ContextSelector(tmp_path).render(phase=phase, feedback=[], budget_tokens=24_000)
    assert text.startswith("## Repository map (path: symbols)\n")
    assert "shop/shipping.py: def parcel_weight(items)" in text  # mapped, not whole
    assert whole_files(text) == [
        "shop/cart.py",  # the deliverable
        "shop/__init__.py",  # its package entry
        "shop/prices.py",  # imported by it
        "shop/checkout.py",  # imports it
        "tests/test_cart.py",  # its test
    ]


def test_files_named_by_the_last_failure_and_shared_words_come_in(tmp_path: Path) -> None:
    shop(tmp_path)
    phase = phase_definition(
        title="Parcel weight in grams",
        goal="Report the parcel weight in grams.",
        deliverables=["shop/grams.py"],
        scope={"allowedPaths": ["shop/", "tests/"]},
    )
    selector = ContextSelector(tmp_path)
    text = selector.render(
        phase=phase,
        feedback=["New test failure: tests/test_cart.py::test_total"],
        budget_tokens=9_000,
    )
    assert whole_files(text) == [
        "tests/test_cart.py",
        "shop/__init__.py",
        "shop/shipping.py",  # shares "parcel" and "weight" with the phase
        "tests/test_shipping.py",  # shares "weight"
    ]


def test_the_budget_is_counted_in_tokens_and_the_order_is_stable(tmp_path: Path) -> None:
    shop(tmp_path)
    write(tmp_path, {"shop/cart.py": "def total(items):\n" + "    x = 1\n" * 400})
    phase = phase_definition(
        title="Cart",
        goal="Change the cart.",
        deliverables=["shop/cart.py", "shop/prices.py"],
        scope={"allowedPaths": ["shop/"]},
    )
    selector = ContextSelector(tmp_path)
    text = selector.render(phase=phase, feedback=[], budget_tokens=600)
    assert count_tokens(text) <= 600 + 50  # the one-line notes are not counted
    assert "--- shop/cart.py (not shown whole: context budget reached; see the map)" in text
    assert "--- shop/prices.py\ndef unit_price(item):" in text
    assert selector.render(phase=phase, feedback=[], budget_tokens=600) == text


def test_token_counts_come_from_a_real_tokenizer() -> None:
    assert count_tokens("") == 0
    assert count_tokens("hello world") == 2
    assert count_tokens("<|endoftext|>") > 1  # special markers are plain text here
    assert count_prompt("You build.", [("user", "hello world"), ("assistant", "ok")]) == 6
    assert terms("reading_time of wordCount in Minutes") == {
        "reading",
        "time",
        "word",
        "count",
        "minute",
    }


def test_the_related_files_reuse_the_list_the_render_before_them_made(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop(tmp_path)
    phase = phase_definition(
        title="Cart",
        goal="Change the cart.",
        deliverables=["shop/cart.py"],
        scope={"allowedPaths": ["shop/", "tests/"]},
    )
    selector = ContextSelector(tmp_path)
    listings = []
    scan = planning.scan_repository  # what contexting imported

    def counted(root: Path, **bounds: Any) -> RepoScan:
        listings.append(root)
        return scan(root, **bounds)

    monkeypatch.setattr(contexting, "scan_repository", counted)
    feedback = ["New test failure: tests/test_shipping.py::test_weight"]
    selector.render(phase=phase, feedback=[], budget_tokens=9_000)
    related = selector.render_related(phase=phase, feedback=feedback, budget_tokens=2_000)
    assert len(listings) == 1
    assert "--- tests/test_shipping.py" in related
    # Once used (or without a render just before), the files are listed again.
    assert selector.render_related(phase=phase, feedback=feedback, budget_tokens=2_000) == related
    assert len(listings) == 2
