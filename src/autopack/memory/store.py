"""The vector store of intention memory, on Qdrant: local files by default, a server when set.

A laptop run keeps its memory under the data directory (``QdrantClient(path=...)``); in a
cluster ``AUTOPACK_QDRANT_URL`` points every runner at one server. Callers see the small
``VectorStore`` protocol, so the engine and tests never touch the Qdrant client directly.
"""

import contextlib
import re
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from pydantic import BaseModel, ConfigDict

from autopack import settings as autopack_settings

if TYPE_CHECKING:
    from qdrant_client import QdrantClient

# qdrant-client takes most of a second to import: the commands that open no memory (help,
# validate, plan, inspect, runs) do not pay for it, so it is imported where it is used.

MemoryKind = Literal["anchor", "phase_summary"]

_POINT_NAMESPACE = uuid.UUID("5d0f7a52-8a8e-4f0e-9a56-0c6f3b1d2e7a")


class MemoryStoreError(RuntimeError):
    """The vector store cannot be opened or used; the message says where and what to do."""


class MemoryRecord(BaseModel):
    """One remembered text of a run: its intention anchor or a phase's change summary."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    run_id: str
    kind: MemoryKind
    key: str
    """Identifies the record within its run and kind (``anchor``, or the phase id)."""
    text: str
    title: str = ""

    def point_id(self) -> str:
        """Return a stable id, so remembering the same thing again replaces it."""
        return str(uuid.uuid5(_POINT_NAMESPACE, f"{self.run_id}\0{self.kind}\0{self.key}"))


class MemoryHit(BaseModel):
    """A record found by similarity, with its score (cosine; higher is closer)."""

    model_config = ConfigDict(frozen=True)

    record: MemoryRecord
    score: float


class VectorStore(Protocol):
    """Stores records with vectors per collection and finds the nearest within one run."""

    def upsert(
        self,
        *,
        collection: str,
        dimensions: int,
        records: Sequence[MemoryRecord],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Add or replace ``records``, creating the collection on first use."""
        ...

    def query(
        self,
        *,
        collection: str,
        vector: Sequence[float],
        run_id: str,
        limit: int,
        kind: MemoryKind | None = None,
    ) -> list[MemoryHit]:
        """Return up to ``limit`` records of ``run_id`` nearest to ``vector``, closest first."""
        ...

    def close(self) -> None:
        """Release files or connections."""
        ...


def collection_name(*, provider: str, model: str, dimensions: int) -> str:
    """Return the collection for one embedder: vectors of different models never mix."""
    slug = re.sub(r"[^a-z0-9]+", "-", f"{provider}-{model}".lower()).strip("-")
    return f"autopack-memory-{slug}-{dimensions}"


def default_local_path() -> Path:
    """Return where local-mode Qdrant keeps its files: ``<data dir>/qdrant``."""
    return autopack_settings.data_dir() / "qdrant"


class QdrantStore:
    """``VectorStore`` on a Qdrant client (local files or a server)."""

    def __init__(self, client: "QdrantClient", *, location: str, local: bool) -> None:
        """Wrap an open client; ``location`` (path or URL) is only used in messages."""
        self._client = client
        self._location = location
        self._local = local

    @classmethod
    def open(
        cls,
        *,
        url: str = "",
        api_key: str = "",
        path: Path | None = None,
        check_server_version: bool = True,
    ) -> "QdrantStore":
        """Connect to the server at ``url``, else open local files at ``path`` (or the default).

        ``api_key`` authenticates to the server (Qdrant's ``api-key`` header); empty: none.

        ``check_server_version`` lets qdrant-client warn (from a background thread) when the
        server's version does not match the client's.
        """
        from qdrant_client import QdrantClient  # noqa: PLC0415 - see the imports

        if url:
            try:
                client = QdrantClient(
                    url=url, api_key=api_key or None, check_compatibility=check_server_version
                )
                return cls(client, location=url, local=False)
            except Exception as error:  # the client raises many kinds for a bad URL
                raise MemoryStoreError(
                    f"cannot connect to Qdrant at {url} (AUTOPACK_QDRANT_URL): {error}"
                ) from error
        folder = path or default_local_path()
        try:
            folder.mkdir(parents=True, exist_ok=True)
            client = QdrantClient(path=str(folder))
        except RuntimeError as error:
            raise MemoryStoreError(
                f"the local Qdrant files at {folder} are in use by another Autopack process; "
                "local mode allows one process at a time: run a Qdrant server and set "
                f"AUTOPACK_QDRANT_URL for concurrent runs ({error})"
            ) from error
        except OSError as error:
            raise MemoryStoreError(
                f"cannot open local Qdrant files at {folder}: {error.strerror or error}"
            ) from error
        return cls(client, location=str(folder), local=True)

    def upsert(
        self,
        *,
        collection: str,
        dimensions: int,
        records: Sequence[MemoryRecord],
        vectors: Sequence[Sequence[float]],
    ) -> None:
        """Add or replace ``records``, creating the collection on first use."""
        if len(records) != len(vectors):
            raise ValueError(f"got {len(records)} records but {len(vectors)} vectors")
        if not records:
            return
        from qdrant_client import models  # noqa: PLC0415 - see the imports

        points = [
            models.PointStruct(
                id=record.point_id(), vector=list(vector), payload=record.model_dump()
            )
            for record, vector in zip(records, vectors, strict=True)
        ]
        with self._talking(f"storing {len(points)} memories in {collection}"):
            self._ensure_collection(collection, dimensions=dimensions)
            self._client.upsert(collection_name=collection, points=points, wait=True)

    def query(
        self,
        *,
        collection: str,
        vector: Sequence[float],
        run_id: str,
        limit: int,
        kind: MemoryKind | None = None,
    ) -> list[MemoryHit]:
        """Return up to ``limit`` records of ``run_id`` nearest to ``vector``, closest first."""
        from qdrant_client import models  # noqa: PLC0415 - see the imports

        conditions: list[models.Condition] = [
            models.FieldCondition(key="run_id", match=models.MatchValue(value=run_id))
        ]
        if kind is not None:
            conditions.append(
                models.FieldCondition(key="kind", match=models.MatchValue(value=kind))
            )
        with self._talking(f"searching {collection}"):
            if not self._client.collection_exists(collection):
                return []
            response = self._client.query_points(
                collection_name=collection,
                query=list(vector),
                query_filter=models.Filter(must=conditions),
                limit=limit,
                with_payload=True,
            )
        return [
            MemoryHit(record=MemoryRecord.model_validate(point.payload), score=point.score)
            for point in response.points
        ]

    def close(self) -> None:
        """Release the local files (another process may open them afterwards)."""
        self._client.close()

    @contextlib.contextmanager
    def _talking(self, doing: str) -> Iterator[None]:
        """Turn the client's transport and HTTP errors into one error that names the server."""
        from qdrant_client.http import exceptions as qdrant_errors  # noqa: PLC0415

        try:
            yield
        except qdrant_errors.ApiException as error:
            hint = "" if self._local else " (is AUTOPACK_QDRANT_URL right and the server up?)"
            raise MemoryStoreError(
                f"Qdrant at {self._location} failed while {doing}: {error}{hint}"
            ) from error

    def _ensure_collection(self, collection: str, *, dimensions: int) -> None:
        from qdrant_client import models  # noqa: PLC0415 - see the imports

        if self._client.collection_exists(collection):
            existing = self._client.get_collection(collection).config.params.vectors
            size = existing.size if isinstance(existing, models.VectorParams) else None
            if size != dimensions:
                raise MemoryStoreError(
                    f"Qdrant collection {collection} at {self._location} holds vectors of size "
                    f"{size}, not {dimensions}; delete the collection or use another embedder"
                )
            return
        self._client.create_collection(
            collection_name=collection,
            vectors_config=models.VectorParams(size=dimensions, distance=models.Distance.COSINE),
        )
        if not self._local:  # payload indexes only exist on a server (local mode warns)
            for field in ("run_id", "kind"):
                self._client.create_payload_index(
                    collection_name=collection,
                    field_name=field,
                    field_schema=models.PayloadSchemaType.KEYWORD,
                )


def open_store(
    settings: autopack_settings.Settings | None = None,
    *,
    path: Path | None = None,
    check_server_version: bool = True,
) -> QdrantStore:
    """Open the store the settings name: ``AUTOPACK_QDRANT_URL``'s server, else local files.

    An explicit ``path`` always means local files there.
    """
    if path is not None:
        return QdrantStore.open(path=path, check_server_version=check_server_version)
    chosen = settings or autopack_settings.get_settings()
    return QdrantStore.open(
        url=chosen.qdrant_url,
        api_key=chosen.qdrant_api_key,
        check_server_version=check_server_version,
    )
