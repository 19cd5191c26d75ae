"""Okapi BM25 over a batch of items, vectorised with numpy.

Scores are normalised per batch: an item that contains every query term found in the batch once,
at average length, scores about 1. Query words absent from the whole batch are ignored, so filler
words of a natural-language question do not dilute the score of the item holding the one rare id
the user asked about. Because IDF comes from the batch, a batch of one only tells whether the item
holds the query's terms.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain, compress
from operator import not_
from typing import NamedTuple, cast

import numpy as np

from headroom_core._textmemo import LONG_TEXT, text_memo
from headroom_core.relevance.base import RelevanceScorer, ensure_texts
from headroom_core.relevance.terms import compound_tokens, search_terms, token_terms

__all__ = ["BM25Scorer"]


class _Counted(NamedTuple):
    """A long text as BM25 sees it: its length in tokens, and per term how many tokens hold it."""

    length: int
    terms: Counter[str]


# Long texts (whole tool outputs, conversation turns) are scored again and again as a
# conversation grows, against a new query each time, so their term counts are remembered; short
# ones (log lines) are cheaper to tokenise again than to count and look up, and huge ones are not
# kept (term counts take two to three times the text's size).
_REMEMBERED_CHARS = range(LONG_TEXT, 32_768 + 1)


@text_memo(maxsize=1024)
def _counted(text: str) -> _Counted:
    tokens = compound_tokens(text)
    return _Counted(len(tokens), Counter(chain.from_iterable(map(token_terms, tokens))))


def _matching_tokens(
    tokens: set[str], query_index: dict[str, int]
) -> tuple[dict[str, int], np.ndarray]:
    """The distinct tokens holding query terms (token -> row) and each one's query-term counts.

    The scan over all distinct tokens runs in C (map, compress); Python only sees the matches.
    """
    unique = list(tokens)
    terms_of = list(map(token_terms, unique))
    has_query_term = map(not_, map(query_index.keys().isdisjoint, terms_of))
    token_ids: dict[str, int] = {}
    counts: list[np.ndarray] = []
    for token, terms in compress(zip(unique, terms_of, strict=True), has_query_term):
        token_ids[token] = len(counts)
        columns = [query_index[term] for term in terms if term in query_index]
        counts.append(np.bincount(columns, minlength=len(query_index)))
    return token_ids, np.array(counts, dtype=np.float64).reshape(len(counts), len(query_index))


def _token_frequencies(
    tokens_per_item: list[list[str]], query_index: dict[str, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Counts of each query term per tokenised item, and each item's length in tokens."""
    lengths = np.fromiter(map(len, tokens_per_item), dtype=np.float64, count=len(tokens_per_item))
    frequencies = np.zeros((len(tokens_per_item), len(query_index)), dtype=np.float64)
    token_ids, term_counts = _matching_tokens(set().union(*tokens_per_item), query_index)
    if not token_ids:
        return frequencies, lengths
    occurrences: list[int] = []
    per_item = np.empty(len(tokens_per_item), dtype=np.intp)
    for row, tokens in enumerate(tokens_per_item):
        before = len(occurrences)
        occurrences.extend(map(token_ids.__getitem__, filter(token_ids.__contains__, tokens)))
        per_item[row] = len(occurrences) - before
    # Occurrences are grouped by item, so one reduceat sums each item's term counts.
    matched = per_item > 0
    starts = (np.cumsum(per_item) - per_item)[matched]
    frequencies[matched] = np.add.reduceat(term_counts[occurrences], starts, axis=0)
    return frequencies, lengths


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
        except (TypeError, AttributeError):
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
            documents = [
                _counted(item) if len(item) in _REMEMBERED_CHARS else compound_tokens(item)
                for item in items
            ]
        except (TypeError, AttributeError):
            ensure_texts(items, "")
            raise
        counted = [(row, doc) for row, doc in enumerate(documents) if isinstance(doc, _Counted)]
        if not counted:
            return _token_frequencies(cast("list[list[str]]", documents), query_index)
        frequencies = np.zeros((len(items), len(query_index)), dtype=np.float64)
        lengths = np.zeros(len(items), dtype=np.float64)
        rows = [row for row, _ in counted]
        frequencies[rows] = [[doc.terms.get(term, 0) for term in query_index] for _, doc in counted]
        lengths[rows] = [doc.length for _, doc in counted]
        tokenised = [
            (row, doc) for row, doc in enumerate(documents) if not isinstance(doc, _Counted)
        ]
        if tokenised:
            rows = [row for row, _ in tokenised]
            frequencies[rows], lengths[rows] = _token_frequencies(
                [doc for _, doc in tokenised], query_index
            )
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
