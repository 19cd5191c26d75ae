"""Lossy selection: which rows of an oversized table to keep, and why.

Kept, in order of precedence: error rows, anomalies, the first and last rows, rows relevant to
the query (exact matches of quoted phrases, identifiers and numbers from the query, then the
relevance scorer above its threshold, best first), and an even sample of the rest until the row
allowance is used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from headroom_core.relevance.terms import search_terms
from headroom_core.transforms._json.table import Table

__all__ = [
    "Selection",
    "query_terms",
    "query_words",
    "relevance_scores",
    "row_texts",
    "select_rows",
]

SEPARATOR = "\x1f"
_STOPWORDS = frozenset(
    {
        "a", "an", "and", "are", "as", "at", "be", "by", "did", "do", "does", "for", "from", "has",
        "have", "how", "i", "in", "is", "it", "me", "my", "need", "of", "on", "or", "show", "tell",
        "that", "the", "this", "to", "was", "were", "what", "when", "where", "which", "who", "why",
        "with",
    }
)
_QUOTED = re.compile(r"""["'`‘’“”]([^"'`‘’“”]{2,200})["'`‘’“”]""")
_EXACT_TERM = re.compile(r"[\w.\-/:@#]*\d[\w.\-/:@#]*|[A-Za-z]+[_\-./][\w.\-/]+|[a-z]+[A-Z]\w*")


@dataclass
class Selection:
    """Rows to keep (sorted) with the count of rows kept for each reason."""

    kept: list[int]
    reasons: dict[str, int] = field(default_factory=dict)


def query_terms(query: str) -> list[str]:
    """Fragments of ``query`` a row must contain verbatim to match exactly: quoted phrases,
    identifiers and numbers (lower-cased)."""
    terms = [match.strip().lower() for match in _QUOTED.findall(query)]
    terms.extend(match.strip(".:/-").lower() for match in _EXACT_TERM.findall(query))
    return [term for term in dict.fromkeys(terms) if len(term) >= 2]


def query_words(query: str) -> list[str]:
    """The lower-cased search words of ``query`` that carry meaning (no stop words)."""
    return [w for w in dict.fromkeys(search_terms(query)) if len(w) > 1 and w not in _STOPWORDS]


ROWS_PER_PASS = 256
"""Rows whose texts exist at once while scoring: only the texts of matching rows are kept."""


def row_texts(rows: Sequence[Sequence[Any]]) -> list[str]:
    """Each row (its values, see :meth:`Table.row_values`) as one lower-cased line split by a
    unit separator, for matching and scoring. Plain ``str()`` of each value: case and float
    spelling do not matter here."""
    join = SEPARATOR.join
    return [join(map(str, values)).lower() for values in rows]


def relevance_scores(table: Table, query: str, scorer: Any | None) -> list[float]:
    """Score each row of ``table`` against ``query`` in [0, 1].

    1.0 for a row with a value equal to a quoted phrase, identifier or number of the query, 0.9
    for one containing it; otherwise the scorer's score. The scorer only sees rows that contain
    a query word at all (the others would score 0), which keeps it fast on long tables. Row texts
    (see :func:`row_texts`) are made a slice of rows at a time and kept only for those rows.
    """
    terms = [(term, f"{SEPARATOR}{term}{SEPARATOR}") for term in query_terms(query)]
    words = query_words(query)
    scores = [0.0] * len(table)
    candidates: list[int] = []
    candidate_texts: list[str] = []
    for start in range(0, len(table), ROWS_PER_PASS):
        texts = row_texts(table.row_values(start, start + ROWS_PER_PASS))
        for term, whole in terms:
            for index in [i for i, text in enumerate(texts) if term in text]:
                exact = whole in f"{SEPARATOR}{texts[index]}{SEPARATOR}"
                row = start + index
                scores[row] = max(scores[row], 1.0 if exact else 0.9)
        matched: set[int] = set()
        for word in words:
            matched.update([i for i, text in enumerate(texts) if word in text])
        for index in sorted(matched):
            candidates.append(start + index)
            candidate_texts.append(texts[index])
    if scorer is not None and candidates:
        found = scorer.score_items(candidate_texts, query)
        for row, score in zip(candidates, found, strict=True):
            scores[row] = max(scores[row], float(score))
    return scores


def select_rows(
    count: int,
    *,
    allowance: int,
    must_keep: dict[str, set[int]],
    keep_first: int,
    keep_last: int,
    scores: Sequence[float] | None,
    threshold: float,
) -> Selection:
    """Choose the rows of a ``count``-row table to keep.

    ``must_keep`` rows (errors, anomalies) are kept even beyond ``allowance``; first/last rows
    next; relevant rows (score >= ``threshold``) fill what is left of the allowance, best first,
    and always get at least half of it: what the user asked about is never crowded out. Rows
    matching the query exactly are all kept (up to ``allowance`` of them). Whatever room is left
    goes to evenly spaced rows, a sample of the rest.
    """
    kept: set[int] = set()
    reasons: dict[str, int] = {}

    def take(reason: str, indices: Sequence[int] | set[int]) -> None:
        new = [i for i in indices if i not in kept]
        if new:
            kept.update(new)
            reasons[reason] = reasons.get(reason, 0) + len(new)

    for reason, indices in must_keep.items():
        take(reason, indices)
    take("first", range(min(keep_first, count)))
    take("last", range(max(0, count - keep_last), count))
    if scores is not None:
        room = max(allowance - len(kept), allowance // 2)
        ranked = sorted(
            (i for i in range(count) if scores[i] >= threshold and i not in kept),
            key=lambda i: -scores[i],
        )
        take("relevant", ranked[:room])
        take("relevant", [i for i in ranked if scores[i] >= 1.0][: max(allowance, 1)])
    room = allowance - len(kept)
    if room > 0:
        rest = [i for i in range(count) if i not in kept]
        step = len(rest) / room
        take("sample", [rest[int((k + 0.5) * step)] for k in range(min(room, len(rest)))])
    return Selection(sorted(kept), reasons)
