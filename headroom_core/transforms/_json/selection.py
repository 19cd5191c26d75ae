"""Lossy selection: which rows of an oversized table to keep, and why.

Kept, in order of precedence: error rows, anomalies, the first and last rows, and rows relevant to
the query (exact matches of quoted phrases, identifiers and numbers from the query, then the
relevance scorer above its threshold), best first, until the row allowance is used.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from headroom_core.relevance.terms import search_terms
from headroom_core.transforms._json.encoding import Table

__all__ = ["Selection", "query_terms", "relevance_scores", "row_texts", "select_rows"]

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


def row_texts(table: Table) -> list[str]:
    """Each row as one line of its values (split by a unit separator), for matching and scoring.

    Plain ``str()`` of each value: case and float spelling do not matter to matching.
    """
    join = SEPARATOR.join
    return [join(map(str, row.values())) for row in table.rows]


def relevance_scores(texts: Sequence[str], query: str, scorer: Any | None) -> list[float]:
    """Score each row text against ``query`` in [0, 1].

    1.0 for a row with a value equal to a quoted phrase, identifier or number of the query, 0.9
    for one containing it; otherwise the scorer's score. The scorer only sees rows that contain
    a query word at all (the others would score 0), which keeps it fast on long tables.
    """
    lowered = [text.lower() for text in texts]
    scores = [0.0] * len(texts)
    for term in query_terms(query):
        whole = f"{SEPARATOR}{term}{SEPARATOR}"
        for index, text in enumerate(lowered):
            if term in text:
                exact = whole in f"{SEPARATOR}{text}{SEPARATOR}"
                scores[index] = max(scores[index], 1.0 if exact else 0.9)
    words = [w for w in dict.fromkeys(search_terms(query)) if len(w) > 1 and w not in _STOPWORDS]
    candidates = [i for i, text in enumerate(lowered) if any(word in text for word in words)]
    if scorer is not None and candidates:
        found = scorer.score_items([texts[i] for i in candidates], query)
        for index, score in zip(candidates, found, strict=True):
            scores[index] = max(scores[index], float(score))
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
    next; relevant rows (score >= ``threshold``) fill what is left of the allowance, best first.
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
        room = allowance - len(kept)
        ranked = sorted(
            (i for i in range(count) if scores[i] >= threshold and i not in kept),
            key=lambda i: -scores[i],
        )
        if room > 0:
            take("relevant", ranked[:room])
        # Exact matches of the query are what it asks for: keep them past the allowance too.
        take("relevant", [i for i in ranked if scores[i] >= 1.0][: max(allowance, 1)])
    return Selection(sorted(kept), reasons)
