"""Okapi BM25 over a batch of items, vectorised with numpy.

Scores are normalised per batch: an item that contains every query term found in the batch once,
at average length, scores about 1. Query words absent from the whole batch are ignored, so filler
words of a natural-language question do not dilute the score of the item holding the one rare id
the user asked about. Because IDF comes from the batch, a batch of one only tells whether the item
holds the query's terms.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from itertools import compress
from operator import not_
from typing import NamedTuple

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
_CHUNKS = 24
"""Items are tokenised in about this many chunks (of at least :data:`_MIN_CHUNK_ITEMS`): a
chunk's tokens cost some ten times its text, so a chunk stays a small share of the batch."""
_MIN_CHUNK_ITEMS = 8
_SCREEN_FROM_ITEMS = 256
"""Batches of more items screen tokens with one compiled pattern of the query's terms."""
_KNOWN_TOKENS = 4096


@text_memo(maxsize=1024)
def _counted(text: str) -> _Counted:
    tokens = Counter(compound_tokens(text))
    terms: Counter[str] = Counter()
    for token, count in tokens.items():
        for term in token_terms(token):
            terms[term] += count
    return _Counted(tokens.total(), terms)


class _TokenSearch:
    """What one scoring call knows about tokens: which may hold a query term (a test in C),
    and the terms of the words among those it has split (up to :data:`_KNOWN_TOKENS` of them;
    words recur from chunk to chunk, ids and paths hardly ever)."""

    __slots__ = ("known", "may_hold", "query_index")

    def __init__(self, query_index: dict[str, int], *, screen: bool) -> None:
        self.query_index = query_index
        # A small batch is cheaper to split token by token than to build a pattern for.
        self.may_hold = _query_text_search(query_index) if screen else bool
        self.known: dict[str, tuple[str, ...]] = {}

    def terms(self, token: str) -> tuple[str, ...]:
        terms = self.known.get(token)
        if terms is None:
            terms = token_terms(token)
            if token.isalpha() and len(self.known) < _KNOWN_TOKENS:
                self.known[token] = terms
        return terms


def _matching_tokens(
    tokens: set[str], search: _TokenSearch
) -> tuple[dict[str, int], np.ndarray]:
    """The distinct tokens holding query terms (token -> row) and each one's query-term counts.

    The scan over all distinct tokens runs in C (filter, map, compress): only tokens that may
    hold a query term are split into terms, and Python only sees the matches.
    """
    query_index = search.query_index
    unique = list(filter(search.may_hold, tokens))
    terms_of = list(map(search.terms, unique))
    has_query_term = map(not_, map(query_index.keys().isdisjoint, terms_of))
    token_ids: dict[str, int] = {}
    counts: list[np.ndarray] = []
    for token, terms in compress(zip(unique, terms_of, strict=True), has_query_term):
        token_ids[token] = len(counts)
        columns = [query_index[term] for term in terms if term in query_index]
        counts.append(np.bincount(columns, minlength=len(query_index)))
    return token_ids, np.array(counts, dtype=np.float64).reshape(len(counts), len(query_index))


def _query_text_search(query_index: dict[str, int]) -> Callable[[str], object]:
    """A test that is true for every token holding a query term (and for some others): the
    token holds one of the terms, in any case. Non-ASCII terms (whose lowercase may not match
    case-insensitively) make it pass everything."""
    if not all(term.isascii() for term in query_index):
        return bool
    longest_first = sorted(query_index, key=len, reverse=True)
    return re.compile("|".join(map(re.escape, longest_first)), re.IGNORECASE).search


def _token_frequencies(tokens_per_item: list[list[str]], search: _TokenSearch) -> np.ndarray:
    """Counts of each query term per tokenised item."""
    frequencies = np.zeros((len(tokens_per_item), len(search.query_index)), dtype=np.float64)
    token_ids, term_counts = _matching_tokens(set().union(*tokens_per_item), search)
    if not token_ids:
        return frequencies
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
    return frequencies


class BM25Scorer(RelevanceScorer):
    """Keyword relevance (BM25) that understands identifiers; no optional dependencies.

    Args:
        k1: Term-frequency saturation; higher lets repeated terms count more.
        b: Length normalisation, from 0 (none) to 1 (full).
        remember_long_texts: Keep the term counts of texts of 1K to 32K characters between
            calls (they cost two to three times the text): right for conversation turns scored
            again each request, wasted on the lines of one log.

    Examples:
        >>> scorer = BM25Scorer()
        >>> scores = scorer.score_items(["disk full on node-7", "all good"], "node-7 disk")
        >>> scores[0] > scores[1]
        True
    """

    name = "bm25"

    def __init__(
        self, k1: float = 1.5, b: float = 0.75, *, remember_long_texts: bool = True
    ) -> None:
        self.k1 = k1
        self.b = b
        self.remember_long_texts = remember_long_texts

    def __repr__(self) -> str:
        return f"BM25Scorer(k1={self.k1}, b={self.b})"

    def forgetful(self) -> BM25Scorer:
        """This scorer, or a twin with the same parameters that remembers no long texts."""
        if not self.remember_long_texts:
            return self
        return BM25Scorer(self.k1, self.b, remember_long_texts=False)

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
        """Counts of each query term per item, and each item's length in tokens.

        Items are tokenised a chunk at a time: the tokens of a whole long log would cost
        several times its size. Counts are whole numbers, kept in 32 bits.
        """
        frequencies = np.zeros((len(items), len(query_index)), dtype=np.int32)
        lengths = np.zeros(len(items), dtype=np.float64)
        try:
            remembered: list[int] = []
            if self.remember_long_texts:
                remembered = [
                    row for row, item in enumerate(items) if len(item) in _REMEMBERED_CHARS
                ]
            if remembered:
                counted = [_counted(items[row]) for row in remembered]
                frequencies[remembered] = [
                    [doc.terms.get(term, 0) for term in query_index] for doc in counted
                ]
                lengths[remembered] = [doc.length for doc in counted]
            tokenised: Sequence[int] = range(len(items))
            if remembered:
                skip = set(remembered)
                tokenised = [row for row in tokenised if row not in skip]
            search = _TokenSearch(query_index, screen=len(tokenised) > _SCREEN_FROM_ITEMS)
            chunk = max(_MIN_CHUNK_ITEMS, -(-len(tokenised) // _CHUNKS))
            for start in range(0, len(tokenised), chunk):
                rows = tokenised[start : start + chunk]
                tokens = [compound_tokens(items[row]) for row in rows]
                lengths[rows] = list(map(len, tokens))
                frequencies[rows] = _token_frequencies(tokens, search)
        except (TypeError, AttributeError):
            ensure_texts(items, "")
            raise
        return frequencies, lengths

    def _bm25(self, counts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
        """Scores from the term counts; query terms found in no item add nothing and are left
        out of the arithmetic (a question's filler words would double its size)."""
        count = counts.shape[0]
        document_frequency = np.count_nonzero(counts, axis=0)
        present = document_frequency > 0
        if not present.any():
            return np.zeros(count)
        frequencies = counts[:, present].astype(np.float64)
        document_frequency = document_frequency[present]
        idf = np.log1p((count - document_frequency + 0.5) / (document_frequency + 0.5))
        average_length = max(float(lengths.mean()), 1.0)
        norm = np.maximum(self.k1 * (1.0 - self.b + self.b * lengths / average_length), 1e-9)
        # f * (k1 + 1) / (f + norm), the same operations in the same order, two arrays at most
        saturated = frequencies * (self.k1 + 1.0)
        np.add(frequencies, norm[:, None], out=frequencies)
        np.divide(saturated, frequencies, out=saturated)
        raw = saturated @ idf
        ideal = float(idf.sum())
        return np.clip(raw / ideal, 0.0, 1.0)
