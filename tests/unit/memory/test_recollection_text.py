from typing import Literal

from autopack import memory


def hit(
    kind: Literal["anchor", "phase_summary"],
    key: str,
    text: str,
    *,
    title: str = "",
    score: float = 0.5,
) -> memory.MemoryHit:
    record = memory.MemoryRecord(run_id="r", kind=kind, key=key, text=text, title=title)
    return memory.MemoryHit(record=record, score=score)


def test_no_hits_inject_nothing() -> None:
    assert memory.render_recollection([], max_chars=1000) == ("", False)


def test_hits_are_labelled_in_order() -> None:
    text, truncated = memory.render_recollection(
        [hit("anchor", "anchor", "Goal: auth"), hit("phase_summary", "2", "JWT", title="Auth")],
        max_chars=1000,
    )

    assert not truncated
    assert text.index("[intention anchor]\nGoal: auth") < text.index("[phase 2 summary: Auth]\nJWT")


def test_text_never_exceeds_the_cap_and_says_it_was_cut() -> None:
    hits = [hit("phase_summary", str(i), "x" * 900) for i in range(10)]

    text, truncated = memory.render_recollection(hits, max_chars=2000)

    assert truncated
    assert len(text) <= 2000
    assert text.endswith("…")
    assert "[phase 1 summary]" in text
    assert "[phase 3 summary]" not in text


def test_a_sliver_of_room_is_left_empty_rather_than_filled_with_a_stub() -> None:
    hits = [hit("phase_summary", "1", "a" * 150), hit("phase_summary", "2", "b" * 500)]

    text, truncated = memory.render_recollection(hits, max_chars=250)

    assert truncated
    assert "b" not in text.split("[phase 1 summary]")[1]
    assert len(text) <= 250
