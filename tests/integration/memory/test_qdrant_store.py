"""Intention memory on real local-mode Qdrant files in temporary directories."""

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from autopack import memory, settings
from tests.builders.api import a_run

RETRIEVAL = memory.RetrievalSettings(top_k=3, max_chars=2000)
ANCHOR = memory.build_anchor(
    a_run()
    .set(
        "spec.intention",
        "Goal: a billing service that sends monthly invoices by email.\nNon-goals:\n- payroll\n",
    )
    .obj()
    .spec
)
PHASES = {
    "invoices": ("Invoices", "Invoice model with line items, totals and tax rounding"),
    "email": ("Email", "Monthly email job renders each invoice as PDF and sends it by SMTP"),
    "ci": ("CI", "GitHub Actions workflow runs ruff and pytest on pull requests"),
}


@pytest.fixture
def lexical() -> memory.LexicalHashingEmbedder:
    return memory.LexicalHashingEmbedder(dimensions=256)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[memory.QdrantStore]:
    opened = memory.open_store(path=tmp_path / "qdrant")
    yield opened
    opened.close()


def remember_run(run_id: str, mem: memory.IntentionMemory) -> None:
    mem.remember_anchor(run_id=run_id, anchor=ANCHOR)
    for key, (title, summary) in PHASES.items():
        mem.remember_phase(run_id=run_id, phase_key=key, title=title, summary=summary)


def test_remembered_phases_come_back_most_relevant_first_with_the_anchor_pinned(
    store: memory.QdrantStore, lexical: memory.LexicalHashingEmbedder
) -> None:
    mem = memory.IntentionMemory(embedder=lexical, vector_store=store, retrieval=RETRIEVAL)
    remember_run("shop-1", mem)

    recollection = mem.recall(run_id="shop-1", query="fix tax rounding in invoice totals")

    kinds = [(hit.record.kind, hit.record.key) for hit in recollection.hits]
    assert kinds[0] == ("anchor", "anchor")
    assert kinds[1] == ("phase_summary", "invoices")
    assert len(kinds) == RETRIEVAL.top_k
    assert recollection.text.startswith("Project memory")
    assert "[phase invoices summary: Invoices]" in recollection.text
    assert recollection.lexical
    assert recollection.provider == "hashing-lexical"


def test_memory_survives_closing_and_reopening_the_local_files(
    tmp_path: Path, lexical: memory.LexicalHashingEmbedder
) -> None:
    first = memory.open_store(path=tmp_path / "qdrant")
    remember_run(
        "shop-1",
        memory.IntentionMemory(embedder=lexical, vector_store=first, retrieval=RETRIEVAL),
    )
    first.close()

    reopened = memory.open_store(path=tmp_path / "qdrant")
    try:
        mem = memory.IntentionMemory(embedder=lexical, vector_store=reopened, retrieval=RETRIEVAL)
        recollection = mem.recall(run_id="shop-1", query="SMTP email job", pin_anchor=False)
    finally:
        reopened.close()

    assert recollection.hits[0].record.key == "email"
    assert recollection.hits[0].record.text == PHASES["email"][1]


def test_runs_do_not_see_each_others_memory(
    store: memory.QdrantStore, lexical: memory.LexicalHashingEmbedder
) -> None:
    mem = memory.IntentionMemory(embedder=lexical, vector_store=store, retrieval=RETRIEVAL)
    remember_run("shop-1", mem)
    mem.remember_phase(run_id="other", phase_key="x", title="X", summary="SMTP email job rewrite")

    hits = mem.recall(run_id="other", query="SMTP email job", top_k=10).hits

    assert [hit.record.run_id for hit in hits] == ["other"]


def test_remembering_a_retried_phase_replaces_its_summary(
    store: memory.QdrantStore, lexical: memory.LexicalHashingEmbedder
) -> None:
    mem = memory.IntentionMemory(embedder=lexical, vector_store=store, retrieval=RETRIEVAL)
    mem.remember_phase(run_id="r", phase_key="p1", title="P", summary="first attempt at invoices")
    mem.remember_phase(run_id="r", phase_key="p1", title="P", summary="second attempt at invoices")

    hits = mem.recall(run_id="r", query="invoices attempt", top_k=10).hits

    assert [hit.record.text for hit in hits] == ["second attempt at invoices"]


def test_recalling_before_anything_was_remembered_injects_nothing(
    store: memory.QdrantStore, lexical: memory.LexicalHashingEmbedder
) -> None:
    mem = memory.IntentionMemory(embedder=lexical, vector_store=store, retrieval=RETRIEVAL)

    recollection = mem.recall(run_id="new", query="anything")

    assert recollection.hits == ()
    assert recollection.text == ""


def test_recalled_text_respects_the_size_cap(
    store: memory.QdrantStore, lexical: memory.LexicalHashingEmbedder
) -> None:
    mem = memory.IntentionMemory(embedder=lexical, vector_store=store, retrieval=RETRIEVAL)
    for index in range(5):
        mem.remember_phase(run_id="r", phase_key=str(index), title="Big", summary="invoice " * 200)

    recollection = mem.recall(run_id="r", query="invoice", top_k=5, max_chars=1000)

    assert len(recollection.text) <= 1000
    assert recollection.truncated


def test_each_embedder_gets_its_own_collection(store: memory.QdrantStore, tmp_path: Path) -> None:
    small = memory.LexicalHashingEmbedder(dimensions=64)
    large = memory.LexicalHashingEmbedder(dimensions=128)
    for embedder in (small, large):
        memory.IntentionMemory(
            embedder=embedder, vector_store=store, retrieval=RETRIEVAL
        ).remember_anchor(run_id="r", anchor=ANCHOR)

    assert memory.collection_name(provider="hashing-lexical", model=small.model, dimensions=64) == (
        "autopack-memory-hashing-lexical-blake2b-word-hashing-64-64"
    )
    for embedder in (small, large):
        mem = memory.IntentionMemory(embedder=embedder, vector_store=store, retrieval=RETRIEVAL)
        assert mem.recall(run_id="r", query="billing").hits[0].record.kind == "anchor"


def test_a_collection_of_another_vector_size_is_refused_with_advice(
    store: memory.QdrantStore,
) -> None:
    record = memory.MemoryRecord(run_id="r", kind="anchor", key="anchor", text="t")
    store.upsert(collection="c", dimensions=3, records=[record], vectors=[[1.0, 0.0, 0.0]])

    with pytest.raises(memory.MemoryStoreError, match="holds vectors of size 3, not 4"):
        store.upsert(collection="c", dimensions=4, records=[record], vectors=[[1.0, 0, 0, 0]])


def test_local_files_default_to_the_data_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    monkeypatch.delenv("AUTOPACK_QDRANT_URL", raising=False)

    opened = memory.open_store(settings.load_settings())
    opened.close()

    assert (tmp_path / "autopack" / "qdrant").is_dir()


def test_an_unreachable_qdrant_server_is_named_in_the_error(
    monkeypatch: pytest.MonkeyPatch, lexical: memory.LexicalHashingEmbedder
) -> None:
    monkeypatch.setenv("AUTOPACK_QDRANT_URL", "http://127.0.0.1:9")
    # Without the version check: qdrant-client runs it in a thread that would warn (and, with
    # warnings as errors, fail the session) after this test has ended.
    server = memory.open_store(settings.load_settings(), check_server_version=False)
    mem = memory.IntentionMemory(embedder=lexical, vector_store=server, retrieval=RETRIEVAL)

    try:
        with pytest.raises(memory.MemoryStoreError, match=r"Qdrant at http://127\.0\.0\.1:9"):
            mem.recall(run_id="r", query="anything")
    finally:
        server.close()


@pytest.mark.filterwarnings("ignore:Api key is used with an insecure connection")
def test_the_qdrant_api_key_is_sent_to_the_server(
    monkeypatch: pytest.MonkeyPatch, lexical: memory.LexicalHashingEmbedder
) -> None:
    seen: list[str | None] = []

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("api-key"))
            self.send_error(403)

        do_POST = do_PUT = do_GET

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("AUTOPACK_QDRANT_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("AUTOPACK_QDRANT_API_KEY", "qdrant-secret-key")
    store = memory.open_store(settings.load_settings(), check_server_version=False)
    mem = memory.IntentionMemory(embedder=lexical, vector_store=store, retrieval=RETRIEVAL)
    try:
        with pytest.raises(memory.MemoryStoreError, match=r"Qdrant at http://127\.0\.0\.1"):
            mem.recall(run_id="r", query="anything")
    finally:
        store.close()
        server.shutdown()
        server.server_close()
        thread.join()
    assert seen
    assert set(seen) == {"qdrant-secret-key"}
