"""Prose in a line-oriented output: paragraphs and the headings they sit under.

A question about a document is answered by a sentence, and a sentence in hard-wrapped prose
spans several lines; the heading above it says what it belongs to (a release, a section). So
prose keeps whole paragraphs around the lines the query matches, with their section headings.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence

__all__ = ["FENCE_RE", "PROSE_LINE_RE", "Sections"]

#: A line of prose: a heading, list item, quote, table row, or a run of words.
PROSE_LINE_RE = re.compile(
    r"""
    ^\#{1,6}\s+\S                                      # heading
    | ^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S               # list item
    | ^\s{0,3}>                                        # quote
    | ^\s*\|.*\|\s*$                                   # table row
    | ^\s{0,12}["'(]?[^\W\d_][\w'’,.;:)"-]*(?:\s+["'(]?[\w'’,.;:()"/-]+){2,}  # words
    """,
    re.VERBOSE,
)
# A paragraph longer than this many lines on either side of a match is cut there.
_MAX_REACH = 12
# Section levels named above a match at most.
_MAX_LEVELS = 4
#: A Markdown code fence: three or more backticks or tildes, indented at most three spaces.
FENCE_RE = re.compile(r"^ {0,3}(?:`{3,}|~{3,})", re.MULTILINE)
_MARKDOWN_HEADING_RE = re.compile(r"^(#{1,6})\s+\S")
_UNDERLINE_RE = re.compile(r"^\s{0,3}([=\-~^*+#\"'`])\1{2,}\s*$")


class Sections:
    """The paragraphs and headings of one document's lines."""

    def __init__(self, texts: Sequence[str]) -> None:
        self._texts = texts
        self._headings: list[tuple[int, str]] = []
        fenced = False
        for position, text in enumerate(texts):
            if FENCE_RE.match(text):
                fenced = not fenced  # a ``# comment`` in a fenced example is no heading
            elif not fenced and (level := _heading_level(texts, position)) is not None:
                self._headings.append((position, level))

    def around(self, index: int) -> list[int]:
        """Lines to keep with line ``index``: its paragraph (up to :data:`_MAX_REACH` lines each
        way) and the nearest heading of each enclosing section level."""
        texts = self._texts
        start = index
        while start > 0 and index - start < _MAX_REACH and texts[start - 1].strip():
            start -= 1
        end = index
        while end + 1 < len(texts) and end - index < _MAX_REACH and texts[end + 1].strip():
            end += 1
        return [*range(start, end + 1), *self._headings_above(start)]

    def _headings_above(self, index: int) -> list[int]:
        """The title lines (and underlines) of the sections enclosing line ``index``.

        Walking up, a heading counts when it is of a level not met yet; for Markdown, only
        when it is shallower than every heading met (deeper ones above belong to siblings).
        """
        kept: list[int] = []
        seen: set[str] = set()
        below = bisect.bisect_left(self._headings, (index, ""))
        for position, level in reversed(self._headings[:below]):
            markdown = level.startswith("#")
            if level in seen or (
                markdown and any(s.startswith("#") and len(s) <= len(level) for s in seen)
            ):
                continue
            seen.add(level)
            kept.extend((position,) if markdown else (position, position + 1))
            if len(seen) == _MAX_LEVELS or level == "#":
                break
        return kept


def _heading_level(texts: Sequence[str], position: int) -> str | None:
    """``"#"``, ``"##"``... for a Markdown heading; the underline character for a title line
    underlined with ``===``/``---``...; None for any other line."""
    text = texts[position]
    match = _MARKDOWN_HEADING_RE.match(text)
    if match:
        return match.group(1)
    if position + 1 < len(texts) and text.strip() and not _UNDERLINE_RE.match(text):
        underline = _UNDERLINE_RE.match(texts[position + 1])
        if underline and len(texts[position + 1].strip()) >= len(text.strip()) // 2:
            return underline.group(1)
    return None
