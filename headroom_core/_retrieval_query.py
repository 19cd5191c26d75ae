"""Matching the queries a model writes against the items a crush left out.

A model asking for dropped rows writes ``id 200``, ``id=200``, ``status: failed``, a quoted
phrase or a few words. Field names are matched against the items' fields (nested fields by their
dotted path or last name) and values against values, so ``id 200`` finds the row whose ``id`` is
200 and not every row that holds a 200 somewhere. A value equal to a whole field value ranks
before one found as a word inside a longer text; numbers are never matched inside other numbers.
Every term that names something specific (a field and value, a phrase, a number or identifier)
must match; plain words only rank. When nothing matches every term, BM25 ranks the items that
share a word with the values of the query (a field name alone is in every item and tells none
apart), and the answer says so.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Ranking", "Term", "parse_query", "rank_items"]

# what a term's match is worth: a field holding the value and the words after it, the whole
# value, or a word inside a longer value
WHOLE, EXACT, WORD = 4, 3, 2
_QUOTED = re.compile(r'"([^"]+)"|\'([^\']+)\'')
_PAIR = re.compile(r"([A-Za-z_][\w.\-]*)\s*(?:=|:)\s*(\"[^\"]*\"|'[^']*'|[^\s,;]+)")
_TOKEN = re.compile(r"[^\s,;]+")
_EDGE = " \t.,;:!?()[]{}<>\"'"
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


@dataclass(frozen=True)
class Term:
    """One part of a query: a field, a value, or both; ``phrase`` for quoted text."""

    field: str | None
    value: str | None
    phrase: bool = False
    whole: str | None = None  # the value with the plain words after it, as a field may hold

    @property
    def specific(self) -> bool:
        """Whether the term must match (a plain word only ranks)."""
        if self.field is not None or self.phrase or self.value is None:
            return True
        return any(c.isdigit() or c in "_-./:@#" for c in self.value)


@dataclass(frozen=True)
class Ranking:
    """Positions of the matching items, best first; ``complete`` when each matched every term
    that had to match (else they are the items sharing a word with the query)."""

    positions: list[int]
    complete: bool


def parse_query(query: str, fields: frozenset[str] = frozenset()) -> list[Term]:
    """The terms of ``query``; ``fields`` (lower-case names) tell field names from values."""
    terms: list[Term] = []
    rest = _QUOTED.sub(lambda m: _keep(terms, Term(None, m[1] or m[2], phrase=True)), query)
    rest = _PAIR.sub(lambda m: _keep(terms, Term(m[1], m[2].strip("\"'"))), rest)
    words = [w.strip(_EDGE) for w in _TOKEN.findall(rest)]
    words = [w for w in words if w]
    index = 0
    while index < len(words):
        word = words[index]
        is_field = word.lower() in fields
        following = words[index + 1] if index + 1 < len(words) else None
        if is_field and following is not None and following.lower() not in fields:
            stop = index + 2
            while stop < len(words) and words[stop].lower() not in fields:
                stop += 1
            whole = " ".join(words[index + 1 : stop]) if stop > index + 2 else None
            terms.append(Term(word, following, whole=whole))
            index += 2
            continue
        terms.append(Term(word, None) if is_field else Term(None, word))
        index += 1
    return terms


def _keep(terms: list[Term], term: Term) -> str:
    terms.append(term)
    return " "


def rank_items(items: Sequence[Any], query: str) -> Ranking:
    """The items matching ``query``, best first (see the module docstring)."""
    flat = [list(_scalars(item)) for item in items]
    fields = frozenset(
        name for pairs in flat for path, _ in pairs if path for name in _names(path)
    )
    terms = parse_query(query, fields)
    if not terms:
        return Ranking(list(range(len(items))), True)
    required = [term for term in terms if term.specific] or None
    scores: list[tuple[int, int]] = []
    for position, pairs in enumerate(flat):
        levels = [_level(term, pairs) for term in terms]
        needed = required if required is not None else terms
        matched = [lvl for term, lvl in zip(terms, levels, strict=True) if term in needed and lvl]
        if required is not None and len(matched) < len(required):
            continue
        if required is None and not matched:
            continue
        scores.append((-sum(levels), position))
    if scores:
        return Ranking([position for _, position in sorted(scores)], True)
    # field names are in every item: only the values asked for can tell items apart
    values = " ".join(term.value for term in terms if term.value)
    return Ranking(_shared_words(items, values) if values else [], False)


def _level(term: Term, pairs: Sequence[tuple[str, str]]) -> int:
    best = 0
    for path, text in pairs:
        if term.field is not None and not (path and _field_matches(term.field, path)):
            continue
        if term.value is None:
            return WORD  # the item has the field
        if term.whole is not None and text.lower() == term.whole.lower():
            return WHOLE
        best = max(best, _value_level(term.value, text, term.phrase))
    if best == 0 and term.field is not None and term.value is not None:
        # items without fields (lines of a log): the field name and the value as words
        joined = " ".join(text for path, text in pairs if not path)
        if joined and _has_word(term.field, joined) and _has_word(term.value, joined):
            best = WORD
    return best


def _value_level(value: str, text: str, phrase: bool) -> int:
    if phrase:
        return WORD if value.lower() in text.lower() else 0
    if text.lower() == value.lower() or (
        _NUMBER.match(value) and _NUMBER.match(text) and float(value) == float(text)
    ):
        return EXACT
    return WORD if _has_word(value, text) else 0


def _has_word(word: str, text: str) -> bool:
    """Whether ``word`` stands in ``text`` on its own: not inside a longer word or number."""
    pattern = rf"(?<![\w.]){re.escape(word)}(?![\w]|\.\d)"
    return re.search(pattern, text, re.IGNORECASE) is not None


def _field_matches(field: str, path: str) -> bool:
    field, path = field.lower(), path.lower()
    return path == field or path.endswith("." + field)


def _names(path: str) -> Iterator[str]:
    """The names a model may use for a field: its dotted path and each of its parts."""
    lowered = path.lower()
    yield lowered
    yield from lowered.split(".")


def _scalars(item: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """(dotted path, text) of every scalar in ``item``; a plain string has the empty path."""
    if isinstance(item, dict):
        for key, value in item.items():
            yield from _scalars(value, f"{path}.{key}" if path else str(key))
    elif isinstance(item, list):
        for value in item:
            yield from _scalars(value, path)
    elif item is None:
        yield path, "null"
    elif isinstance(item, bool):
        yield path, "true" if item else "false"
    else:
        yield path, str(item)


def _shared_words(items: Sequence[Any], query: str) -> list[int]:
    from headroom_core.relevance.bm25 import BM25Scorer

    texts = [
        item if isinstance(item, str) else json.dumps(item, ensure_ascii=False, default=str)
        for item in items
    ]
    scores = BM25Scorer().score_items(texts, query)
    return sorted((i for i, score in enumerate(scores) if score > 0), key=lambda i: -scores[i])
