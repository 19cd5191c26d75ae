"""Reduce a line to its template: the text with its variable parts (times, ids, numbers) masked.

Two lines with the same template differ only in values, so a run of them can be shown as one
representative line plus a count and the range of each varying value.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from headroom_core._sequences import ComputedSequence

__all__ = ["LineTemplates", "Template", "ValueRange", "kinds_of", "template_of", "templates_of"]

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"

_MAX_DISTINCT = 10_000
_LISTED_VALUES = 3
_HOST_END = r"(?:com|net|org|edu|gov|mil|int|info|biz|io|dev|app|cloud|[a-z]{2})\b"

# Patterns grouped by the character a value starts with, so that the regex engine tries only the
# few that can match at a position; within a group the first alternative that matches wins.
_STARTING_WITH_DIGIT: list[tuple[str, str]] = [
    (
        "time",
        r"\d{2,4}[-/.]\d{1,2}(?:[-/.]\d{1,4})?[ T:_]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?",
    ),
    ("time", r"\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"),
    ("time", r"\d{2,4}[-/]\d{1,2}[-/]\d{1,4}\b"),
    ("id", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("ip", r"\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    ("hex", r"0[xX][0-9a-fA-F]+\b|(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{7,}\b"),
    ("host", rf"(?:[A-Za-z0-9-]+\.){{2,}}{_HOST_END}"),
    ("num", r"\d+(?:\.\d+)?"),
]
_STARTING_WITH_LETTER: list[tuple[str, str]] = [
    ("time", rf"(?:{_DAY},? )?{_MONTH} +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}}(?: \d{{4}})?"),
    ("id", r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("addr", r"[A-Za-z][\w-]*(?:\.[\w-]+)+:\d{1,5}\b"),
    ("host", rf"(?:[A-Za-z0-9-]+\.){{2,}}{_HOST_END}"),
    ("hex", r"(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{7,}\b"),
    ("path", r"[A-Za-z]:(?:[\\/][\w.@~+-]+){2,}[\\/]?"),
    ("id", r"[A-Za-z]+[_-]-?\d[\w-]*"),
]
_ANYWHERE: list[tuple[str, str]] = [
    ("path", r"(?:[\\/][\w.@~+-]+){2,}[\\/]?"),
    ("num", r"-\d+(?:\.\d+)?"),  # a negative number
    ("num", r"(?<=[A-Za-z_])\d+"),  # digits glued to a word: node4
]


def _alternatives(patterns: list[tuple[str, str]], offset: int) -> str:
    named = (f"(?P<{kind}{offset + i}>{pattern})" for i, (kind, pattern) in enumerate(patterns))
    return "|".join(named)


# Cheap guards in front of each group: a word of letters only (most words of a log) is skipped
# after one scan unless it opens a date, and a position that cannot open a path, a negative
# number or glued digits is skipped at once. They admit every position a pattern can match at.
_LETTER_VALUE_AHEAD = rf"(?=[A-Za-z][^\W\d_]*[.:\d_-]|{_DAY}|{_MONTH})"
_ANYWHERE_AHEAD = r"(?=[\\/\d-])"

_ALL_PATTERNS = [*_STARTING_WITH_DIGIT, *_STARTING_WITH_LETTER, *_ANYWHERE]
_VALUE_RE = re.compile(
    rf"\b(?=\d)(?:{_alternatives(_STARTING_WITH_DIGIT, 0)})"
    rf"|\b{_LETTER_VALUE_AHEAD}"
    rf"(?:{_alternatives(_STARTING_WITH_LETTER, len(_STARTING_WITH_DIGIT))})"
    rf"|{_ANYWHERE_AHEAD}"
    rf"(?:{_alternatives(_ANYWHERE, len(_STARTING_WITH_DIGIT) + len(_STARTING_WITH_LETTER))})"
)
_MARKS = {f"{kind}{i}": f"<{kind}>" for i, (kind, _pattern) in enumerate(_ALL_PATTERNS)}
_KIND_RE = re.compile(rf"<({'|'.join(sorted({kind for kind, _pattern in _ALL_PATTERNS}))})>")
_SPACES_RE = re.compile(r"\s+")


# Joins a line's values into one string: a line never holds a newline, so neither do its values.
_VALUE_SEPARATOR = "\n"


@dataclass(frozen=True, slots=True)
class Template:
    """A line's template and the values masked out of it, in order (their kinds are the
    ``<kind>`` marks of the template, see :func:`kinds_of`).

    The values are kept joined in one string: a large log has thousands of lines with several
    values each, and one string per line costs a fraction of a tuple of small strings.
    """

    text: str
    packed_values: str

    @classmethod
    def of(cls, text: str, values: Sequence[str]) -> Template:
        """The template ``text`` with its masked ``values``."""
        return cls(text, _VALUE_SEPARATOR.join(values))

    @property
    def values(self) -> tuple[str, ...]:
        """The masked values, in order."""
        packed = self.packed_values
        return tuple(packed.split(_VALUE_SEPARATOR)) if packed else ()


def template_of(line: str) -> Template:
    """The template of ``line``: each time, id, ip, hex, path and number replaced by ``<kind>``."""
    text, spans = _masked(line)
    return Template.of(text, [line[spans[k] : spans[k + 1]] for k in range(0, len(spans), 2)])


def _masked(line: str) -> tuple[str, list[int]]:
    """The template text of ``line`` and where its masked values are (start, end, start, ...)."""
    spans: list[int] = []

    def mask(match: re.Match[str]) -> str:
        spans.extend(match.span())
        return _MARKS[match.lastgroup or ""]

    masked = _VALUE_RE.sub(mask, line)
    return _SPACES_RE.sub(" ", masked).strip(), spans


class LineTemplates(ComputedSequence[Template]):
    """The template of each line in column form: its text (one string per distinct template)
    and where its values are in the line (a few integers in an array), not an object a line;
    a line's values are cut out of it when its :class:`Template` is read."""

    __slots__ = ("_counts", "_firsts", "_lines", "_spans", "texts")

    def __init__(self, lines: Sequence[str]) -> None:
        self.texts: list[str] = []
        self._lines = lines
        self._spans = array("i")  # start, end of every value of every distinct line
        self._firsts = array("i")  # per line: where its spans begin
        self._counts = array("i")  # per line: how many values it has

    def __len__(self) -> int:
        return len(self.texts)

    def _at(self, position: int) -> Template:
        line, spans = self._lines[position], self._spans
        first = self._firsts[position]
        stop = first + 2 * self._counts[position]
        values = [line[spans[k] : spans[k + 1]] for k in range(first, stop, 2)]
        return Template(self.texts[position], _VALUE_SEPARATOR.join(values))

    def add(self, text: str, spans: list[int]) -> None:
        """Record the next line's template text and value spans."""
        self.texts.append(text)
        self._firsts.append(len(self._spans))
        self._counts.append(len(spans) // 2)
        self._spans.extend(spans)

    def repeat(self, position: int) -> None:
        """Record the next line as equal to the line at ``position``."""
        self.texts.append(self.texts[position])
        self._firsts.append(self._firsts[position])
        self._counts.append(self._counts[position])


def templates_of(lines: Sequence[str]) -> LineTemplates:
    """The template of each line; equal lines share their spans, equal templates one text."""
    by_line: dict[str, int] = {}  # a line -> where it first appeared
    texts: dict[str, str] = {}
    templates = LineTemplates(lines)
    for position, line in enumerate(lines):
        first = by_line.get(line)
        if first is None:
            by_line[line] = position
            text, spans = _masked(line)
            templates.add(texts.setdefault(text, text), spans)
        else:
            templates.repeat(first)
    return templates


@lru_cache(maxsize=4096)
def kinds_of(text: str) -> tuple[str, ...]:
    """The kinds of the values masked in a template text, in order."""
    return tuple(_KIND_RE.findall(text))


@dataclass
class ValueRange:
    """The values one masked slot took across a group of lines (as written: never reformatted)."""

    kind: str
    first: str
    last: str
    # Every value's hash (a slot of ids has as many values as lines: their texts are not kept,
    # eight bytes each), and the first few distinct values as written.
    hashes: array[int] = field(default_factory=lambda: array("q"))
    listed: list[str] = field(default_factory=list)
    low: tuple[float, str] | None = None
    high: tuple[float, str] | None = None

    def add(self, value: str) -> None:
        """Record one more value of this slot."""
        self.hashes.append(hash(value))
        if len(self.listed) < _LISTED_VALUES and value not in self.listed:
            self.listed.append(value)
        self.last = value
        if self.kind == "num":
            number = (float(value), value)
            self.low = number if self.low is None or number[0] < self.low[0] else self.low
            self.high = number if self.high is None or number[0] > self.high[0] else self.high

    def describe(self) -> str | None:
        """Short marker text ('08:00:01 to 08:14:55', '3..17', 'ips a, b'); None if constant."""
        distinct = min(np.unique(np.frombuffer(self.hashes, dtype=np.int64)).size, _MAX_DISTINCT)
        if distinct <= 1:
            return None
        if self.kind == "num" and self.low is not None and self.high is not None:
            return f"{self.low[1]}..{self.high[1]}"
        if self.kind == "time":
            return f"{self.first} to {self.last}"
        if distinct <= _LISTED_VALUES:
            return f"{self.kind}s {', '.join(self.listed)}"
        count = f"{distinct}{'+' if distinct >= _MAX_DISTINCT else ''}"
        return f"{count} {self.kind}s {self.first}..{self.last}"
