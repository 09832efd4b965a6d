"""OpenAI embeddings through the official SDK, for OpenAI or any server that speaks its API.

Chosen with ``provider: openai`` in ``config/memory.yaml``; ``base_url`` points it at a
compatible server (vLLM, Ollama, LiteLLM, a test server). The API key comes from the environment
and never appears in errors or logs.
"""

import logging
import os
from collections.abc import Sequence

import openai

from autopack.memory import config as memory_config
from autopack.memory import embedding

log = logging.getLogger(__name__)

PROVIDER = "openai"
_BATCH = 256  # inputs per request; the API accepts up to 2048


class OpenAIEmbedder:
    """Embeddings from ``POST {base_url}/embeddings``."""

    provider = PROVIDER
    is_lexical = False

    def __init__(
        self,
        *,
        client: openai.OpenAI,
        model: str,
        dimensions: int | None = None,
        request_dimensions: bool = False,
    ) -> None:
        """Use ``client``; ``request_dimensions`` sends ``dimensions`` to shorten the vectors."""
        self._client = client
        self.model = model
        self._dimensions = dimensions
        self._request_dimensions = request_dimensions

    @classmethod
    def from_settings(
        cls, settings: memory_config.OpenAISettings, *, api_key: str | None = None
    ) -> "OpenAIEmbedder":
        """Build the embedder from ``config/memory.yaml``'s ``openai`` section."""
        key = api_key or os.environ.get(settings.api_key_env)
        if not key:
            raise embedding.EmbeddingError(
                f"the openai embedder needs an API key in ${settings.api_key_env} "
                "(or set openai.api_key_env in config/memory.yaml, or choose another provider)"
            )
        client = openai.OpenAI(
            api_key=key,
            base_url=settings.base_url or None,
            timeout=settings.timeout_seconds,
            max_retries=2,
        )
        return cls(
            client=client,
            model=settings.model,
            dimensions=settings.dimensions or settings.known_dimensions.get(settings.model),
            request_dimensions=settings.dimensions is not None,
        )

    @property
    def dimensions(self) -> int:
        """Vector size: configured, known for the model, or learnt from one probe request."""
        if self._dimensions is None:
            self._dimensions = len(self._request(["dimension probe"])[0])
            log.info(
                "openai embedding model %s returns %d dimensions", self.model, self._dimensions
            )
        return self._dimensions

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """Return one vector per text, batching requests."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), _BATCH):
            vectors.extend(self._request(texts[start : start + _BATCH]))
        if vectors and self._dimensions is None:
            self._dimensions = len(vectors[0])
        if any(len(vector) != self._dimensions for vector in vectors):
            raise embedding.EmbeddingError(
                f"openai embedding model {self.model} returned vectors of "
                f"{sorted({len(v) for v in vectors})} dimensions, expected {self._dimensions}; "
                "fix openai.dimensions in config/memory.yaml"
            )
        return vectors

    def _request(self, texts: Sequence[str]) -> list[list[float]]:
        # The API rejects empty strings; a single space embeds as "nothing said".
        inputs = [text if text.strip() else " " for text in texts]
        try:
            if self._request_dimensions and self._dimensions is not None:
                response = self._client.embeddings.create(
                    input=inputs, model=self.model, dimensions=self._dimensions
                )
            else:
                response = self._client.embeddings.create(input=inputs, model=self.model)
        except openai.APIStatusError as error:
            raise embedding.EmbeddingError(
                f"openai embeddings request to {self._client.base_url} failed with HTTP "
                f"{error.status_code} for model {self.model}: {_reason(error)}"
            ) from error
        except openai.APIError as error:
            raise embedding.EmbeddingError(
                f"openai embeddings request to {self._client.base_url} failed: {error.message}"
            ) from error
        except ValueError as error:  # the SDK's "No embedding data received"
            raise embedding.EmbeddingError(
                f"openai embeddings at {self._client.base_url} returned no vectors: {error}"
            ) from error
        ordered = sorted(response.data, key=lambda item: item.index)
        if len(ordered) != len(inputs):
            raise embedding.EmbeddingError(
                f"openai embeddings at {self._client.base_url} returned {len(ordered)} vectors "
                f"for {len(inputs)} inputs"
            )
        return [[float(value) for value in item.embedding] for item in ordered]


def _reason(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        detail = body.get("error", body)
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            return str(detail["message"])
    return error.message
