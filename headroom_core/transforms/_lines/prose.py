"""What prose and Markdown look like, line by line: telling documents from code and logs."""

from __future__ import annotations

import re

__all__ = ["FENCE_RE", "PROSE_LINE_RE"]

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
#: A Markdown code fence: three or more backticks or tildes, indented at most three spaces.
FENCE_RE = re.compile(r"^ {0,3}(?:`{3,}|~{3,})", re.MULTILINE)
