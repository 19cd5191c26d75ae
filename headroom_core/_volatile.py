"""Finding volatile values (dates, times, ids, counters) in prompt text.

Shared by the cache aligner, which moves them out of the stable prefix, and by waste detection,
which counts their tokens. A value is volatile when it changes from one request to the next while
the text around it stays the same, so it breaks provider prompt caches.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["VolatileSpan", "find_volatile"]

_WEEKDAY = r"(?:Mon|Tues|Tue|Wednes|Wed|Thurs|Thu|Fri|Satur|Sat|Sun)(?:day)?"
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept|Sep|Oct|Nov|Dec)"
)
_ZONE = r"(?:UTC|GMT|Z|[+-]\d{2}:?\d{2})"
_CLOCK = rf"\d{{1,2}}:\d{{2}}(?::\d{{2}}(?:\.\d+)?)?(?:\s?[AaPp]\.?[Mm]\.?)?(?:\s?{_ZONE})?"
_ID_LABEL = (
    r"(?:request|req|session|trace|span|correlation|conversation|thread|run|transaction|user)"
)

# (kind, pattern, group holding the value). Earlier entries win when matches overlap equally.
_PATTERNS: tuple[tuple[str, re.Pattern[str], int], ...] = (
    (
        "date",
        re.compile(
            rf"\b{_WEEKDAY},\s+\d{{1,2}}\s+{_MONTH}\s+\d{{4}}\s+\d{{2}}:\d{{2}}(?::\d{{2}})?"
            r"(?:\s+(?:[+-]\d{4}|GMT|UTC|[A-Z]{3}))?"
        ),
        0,
    ),
    (
        "date",
        re.compile(
            r"\b\d{4}-\d{2}-\d{2}"
            r"(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?)?\b"
        ),
        0,
    ),
    (
        "date",
        re.compile(
            rf"\b(?:{_WEEKDAY},?\s+)?{_MONTH}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
            rf"(?:,?\s+(?:at\s+)?{_CLOCK})?"
        ),
        0,
    ),
    (
        "date",
        re.compile(rf"\b(?:{_WEEKDAY},?\s+)?\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}\.?,?\s+\d{{4}}"),
        0,
    ),
    ("date", re.compile(r"\b\d{1,2}/\d{1,2}/\d{4}\b"), 0),
    (
        "time",
        re.compile(
            r"\b\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?(?:\s?[AaPp][Mm])?|\s?[AaPp][Mm]\b|\s?(?:UTC|GMT)\b)"
            r"(?:\s?(?:UTC|GMT|[+-]\d{2}:?\d{2}))?"
        ),
        0,
    ),
    (
        "timestamp",
        re.compile(
            r"(?i)\b(?:timestamp|epoch|unix|time|now|generated|current|date)\b[^\n\d]{0,24}?(\d{10}(?:\d{3})?)\b"
        ),
        1,
    ),
    (
        "uuid",
        re.compile(
            r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"
        ),
        0,
    ),
    (
        "id",
        re.compile(
            rf"(?i)\b{_ID_LABEL}[ _-]?id\b\s*(?:[:=#]|is)?\s*[\"'`]?([A-Za-z0-9][\w.:-]{{2,}}\w)"
        ),
        1,
    ),
    (
        "counter",
        re.compile(
            r"(?i)\b(?:request|call|turn|attempt|iteration|step|run|message|session|conversation)"
            r"\s*(?:#|no\.?\s?|number\s)\s*(\d+)\b"
        ),
        1,
    ),
)


@dataclass(frozen=True)
class VolatileSpan:
    """One volatile value in a text: ``text[start:end] == value``."""

    start: int
    end: int
    kind: str
    value: str


def find_volatile(text: str) -> list[VolatileSpan]:
    """Volatile values in ``text``, in order and never overlapping (the longest match wins)."""
    candidates: list[tuple[int, int, int, str]] = []
    for priority, (kind, pattern, group) in enumerate(_PATTERNS):
        for match in pattern.finditer(text):
            start, end = match.span(group)
            if end > start:
                candidates.append((start, -(end - start), priority, kind))
    candidates.sort()
    spans: list[VolatileSpan] = []
    covered_until = -1
    for start, negative_length, _priority, kind in candidates:
        end = start - negative_length
        if start < covered_until:
            continue
        spans.append(VolatileSpan(start, end, kind, text[start:end]))
        covered_until = end
    return spans
