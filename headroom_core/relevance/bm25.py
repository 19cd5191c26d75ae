"""Okapi BM25 over a batch of items, vectorised with numpy.

Scores are normalised per batch: an item that contains every query term found in the batch once,
at average length, scores about 1. Query words absent from the whole batch are ignored, so filler
words of a natural-language question do not dilute the score of the item holding the one rare id
the user asked about. Because IDF comes from the batch, a batch of one only tells whether the item
holds the query's terms.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from headroom_core.relevance.base import RelevanceScorer, ensure_texts
from headroom_core.relevance.terms import compound_tokens, search_terms, token_terms

__all__ = ["BM25Scorer"]


class BM25Scorer(RelevanceScorer):
    """Keyword relevance (BM25) that understands identifiers; no optional dependencies.

    Args:
        k1: Term-frequency saturation; higher lets repeated terms count more.
        b: Length normalisation, from 0 (none) to 1 (full).

    Example:
        >>> scorer = BM25Scorer()
        >>> scores = scorer.score_items(["disk full on node-7", "all good"], "node-7 disk")
        >>> scores[0] > scores[1]
        True
    """

    name = "bm25"

    def __init__(self, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b

    def __repr__(self) -> str:
        return f"BM25Scorer(k1={self.k1}, b={self.b})"

    def score_items(self, items: Sequence[str], query: str) -> list[float]:
        """Score ``items`` against ``query`` with BM25; see :class:`RelevanceScorer`."""
        if not items:
            return []
        try:
            query_index = {term: i for i, term in enumerate(dict.fromkeys(search_terms(query)))}
        except TypeError:
            ensure_texts(items, query)
            raise
        if not query_index:
            ensure_texts(items, query)
            return [0.0] * len(items)
        frequencies, lengths = self._term_frequencies(items, query_index)
        return self._bm25(frequencies, lengths).tolist()

    def _term_frequencies(
        self, items: Sequence[str], query_index: dict[str, int]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Counts of each query term per item, and each item's length in tokens."""
        try:
            tokens_per_item = [compound_tokens(item) for item in items]
        except TypeError:
            ensure_texts(items, "")
            raise
        lengths = np.fromiter(map(len, tokens_per_item), dtype=np.float64, count=len(items))
        is_miss = query_index.keys().isdisjoint
        hits: dict[str, tuple[int, ...]] = {}
        for token in set().union(*tokens_per_item):
            terms = token_terms(token)
            if not is_miss(terms):
                hits[token] = tuple(query_index[term] for term in terms if term in query_index)
        width = len(query_index)
        cells: list[int] = []  # row * width + column, once per occurrence
        if hits:
            for row, tokens in enumerate(tokens_per_item):
                for token in filter(hits.__contains__, tokens):
                    cells.extend(row * width + column for column in hits[token])
        counts = np.bincount(np.asarray(cells, dtype=np.intp), minlength=len(items) * width)
        frequencies = counts.reshape(len(items), width).astype(np.float64)
        return frequencies, lengths

    def _bm25(self, frequencies: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        count = frequencies.shape[0]
        document_frequency = np.count_nonzero(frequencies, axis=0)
        present = document_frequency > 0
        if not present.any():
            return np.zeros(count)
        idf = np.log1p((count - document_frequency + 0.5) / (document_frequency + 0.5))
        average_length = max(float(lengths.mean()), 1.0)
        norm = np.maximum(self.k1 * (1.0 - self.b + self.b * lengths / average_length), 1e-9)
        saturated = frequencies * (self.k1 + 1.0) / (frequencies + norm[:, None])
        raw = saturated @ idf
        ideal = float(idf[present].sum())
        return np.clip(raw / ideal, 0.0, 1.0)
