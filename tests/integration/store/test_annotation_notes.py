from autopack.runner.main import _record_annotation
from autopack.store import Store, records
from autopack.store.sink import StoreSink


def test_the_note_annotation_is_recorded_once_as_the_runs_note(sqlite_url: str) -> None:
    store = Store.open(sqlite_url)
    with store.session() as session:
        records.upsert_run(
            session,
            run_id="uid-1",
            name="demo",
            repo_url="https://example.com/a.git",
            base_ref="main",
            push_branch="autopack/demo",
            spec={},
        )
    sink = StoreSink(store, run_id="uid-1")
    for _ in range(3):  # the runner reads the annotation before every prompt
        _record_annotation(sink, run_id="uid-1", text="Keep the public API unchanged.")
    with store.session() as session:
        notes = records.notes_for_run(session, run_id="uid-1")
        assert [(n.text, n.source, n.author) for n in notes] == [
            ("Keep the public API unchanged.", "annotation", "kubectl")
        ]
