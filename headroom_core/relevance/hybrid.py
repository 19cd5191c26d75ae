"""Keyword and semantic relevance blended: BM25 finds exact ids, embeddings find paraphrases."""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np

from headroom_core.errors import ConfigurationError
from headroom_core.relevance.base import RelevanceScorer
from headroom_core.relevance.bm25 import BM25Scorer
from headroom_core.relevance.embedding import (
    DEFAULT_EMBEDDING_MODEL,
    EmbeddingScorer,
    embedding_available,
)

__all__ = ["HybridScorer"]

_fallback_warned = False
_NOT_INSTALLED = (
    "sentence-transformers is not installed; install the 'relevance' extra for semantic matching"
)


def _warn_fallback_once(reason: str) -> None:
    global _fallback_warned
    if not _fallback_warned:
        _fallback_warned = True
        warnings.warn(
            f"HybridScorer scores with BM25 alone: {reason}.", RuntimeWarning, stacklevel=3
        )


class HybridScorer(RelevanceScorer):
    """``alpha * BM25 + (1 - alpha) * embedding``; BM25 alone when embeddings are unavailable
    (the extra is missing or the model cannot be loaded), said once with a ``RuntimeWarning``.

    Args:
        alpha: Weight of BM25, from 0 (embeddings only) to 1 (BM25 only).
        model: Embedding model, as for :class:`EmbeddingScorer`.
        k1: BM25 term-frequency saturation.
        b: BM25 length normalisation.

    Examples:
        >>> scorer = HybridScorer(alpha=0.5)
        >>> scores = scorer.score_items(["timeout talking to db", "cache hit"], "database timeout")
    """

    name = "hybrid"

    def __init__(
        self,
        alpha: float = 0.5,
        *,
        model: str = DEFAULT_EMBEDDING_MODEL,
        k1: float = 1.5,
        b: float = 0.75,
    ) -> None:
        self.alpha = alpha
        self.bm25 = BM25Scorer(k1=k1, b=b)
        self.embedding: EmbeddingScorer | None = None
        if alpha < 1.0 and embedding_available():
            self.embedding = EmbeddingScorer(model)
        elif alpha < 1.0:
            _warn_fallback_once(_NOT_INSTALLED)

    def __repr__(self) -> str:
        return f"HybridScorer(alpha={self.alpha}, embeddings={self.embedding is not None})"

    def score_items(self, items: Sequence[str], query: str) -> list[float]:
        """Blend BM25 and embedding scores; see :class:`RelevanceScorer`."""
        keyword = self.bm25.score_items(items, query)
        if self.embedding is None or not keyword:
            return keyword
        try:
            semantic = self.embedding.score_items(items, query)
        except ConfigurationError as exc:  # the model cannot be loaded: keep scoring, by keyword
            self.embedding = None
            _warn_fallback_once(exc.message)
            return keyword
        blended = self.alpha * np.asarray(keyword) + (1.0 - self.alpha) * np.asarray(semantic)
        return np.clip(blended, 0.0, 1.0).tolist()
