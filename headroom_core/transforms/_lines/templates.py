"""Reduce a line to its template: the text with its variable parts (times, ids, numbers) masked.

Two lines with the same template differ only in values, so a run of them can be shown as one
representative line plus a count and the range of each varying value.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["Template", "ValueRange", "template_of"]

_MONTH = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
_DAY = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)"

# Order matters: the first alternative that matches at a position wins.
_VALUE_PATTERNS: list[tuple[str, str]] = [
    ("time", rf"\b{_DAY}?,? ?{_MONTH} +\d{{1,2}} \d{{2}}:\d{{2}}:\d{{2}}(?: \d{{4}})?"),
    (
        "time",
        r"\b\d{2,4}[-/.]\d{1,2}(?:[-/.]\d{1,4})?[ T:_]+\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?"
        r"(?:Z|[+-]\d{2}:?\d{2})?",
    ),
    ("time", r"\b\d{1,2}:\d{2}:\d{2}(?:[.,]\d+)?"),
    ("time", r"\b\d{2,4}[-/]\d{1,2}[-/]\d{1,4}\b"),
    ("id", r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
    ("addr", r"\b[A-Za-z][\w-]*(?:\.[\w-]+)+:\d{1,5}\b"),
    (
        "host",
        r"\b(?:[A-Za-z0-9-]+\.){2,}(?:com|net|org|edu|gov|mil|int|info|biz|io|dev|app|cloud|[a-z]{2})\b",
    ),
    ("ip", r"\b\d{1,3}(?:\.\d{1,3}){3}(?::\d+)?\b"),
    ("hex", r"\b0[xX][0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{7,}\b"),
    ("path", r"(?:[A-Za-z]:)?(?:[\\/][\w.@~+-]+){2,}[\\/]?"),
    ("id", r"\b[A-Za-z][A-Za-z]*[_-]-?\d[\w-]*"),
    ("num", r"-?\d+(?:\.\d+)?"),
]

_VALUE_RE = re.compile(
    "|".join(f"(?P<{kind}{i}>{pattern})" for i, (kind, pattern) in enumerate(_VALUE_PATTERNS))
)
_GROUP_KIND = {f"{kind}{i}": kind for i, (kind, _pattern) in enumerate(_VALUE_PATTERNS)}
_SPACES_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Template:
    """A line's template and the values masked out of it, in order, as ``(kind, text)``."""

    text: str
    values: tuple[tuple[str, str], ...]


def template_of(line: str) -> Template:
    """The template of ``line``: each time, id, ip, hex, path and number replaced by ``<kind>``."""
    values: list[tuple[str, str]] = []

    def mask(match: re.Match[str]) -> str:
        kind = _GROUP_KIND[match.lastgroup or ""]
        values.append((kind, match.group()))
        return f"<{kind}>"

    masked = _VALUE_RE.sub(mask, line)
    return Template(_SPACES_RE.sub(" ", masked).strip(), tuple(values))


@dataclass
class ValueRange:
    """The values one masked slot took across a group of lines."""

    kind: str
    first: str
    last: str
    distinct: set[str] = field(default_factory=set)
    low: float | None = None
    high: float | None = None

    def add(self, value: str) -> None:
        """Record one more value of this slot."""
        if len(self.distinct) < 10_000:
            self.distinct.add(value)
        self.last = value
        if self.kind == "num":
            number = float(value)
            self.low = number if self.low is None else min(self.low, number)
            self.high = number if self.high is None else max(self.high, number)

    def describe(self) -> str | None:
        """Short marker text ('08:00:01 to 08:14:55', '3 ids blk_1..blk_9'); None if constant."""
        if len(self.distinct) <= 1:
            return None
        if self.kind == "num" and self.low is not None and self.high is not None:
            return f"{_number(self.low)}..{_number(self.high)}"
        if self.kind == "time":
            return f"{self.first} to {self.last}"
        return f"{len(self.distinct)} {self.kind}s {self.first}..{self.last}"


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
