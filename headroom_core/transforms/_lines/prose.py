"""What prose and Markdown look like, line by line: telling documents from code and logs."""

from __future__ import annotations

import re

__all__ = ["FENCE_RE", "MARKDOWN_BLOCK_RE", "PROSE_LINE_RE"]

#: A line that opens a Markdown block: a heading, list item (nested ones too), quote, table row,
#: link definition, or a link or image. Code-like punctuation on such a line
#: (``* [setup](#setup)``, ``* `x`:``) is Markdown's, not a program's.
MARKDOWN_BLOCK_RE = re.compile(
    r"""
    ^\#{1,6}\s+(?!(?:include|define|undef|if|ifdef|ifndef|elif|else|endif|pragma|error)\b)\S
    | ^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[|`|\*\*|[^\W\d_])
    | ^\s{0,3}>
    | ^\s*\|.*\|\s*$
    | ^\s{0,3}\[[^\]]+\]:\s+\S
    | ^\s*\[?!?\[[^\]]*\]\(                     # a link or image (a badge) opening the line
    """,
    re.VERBOSE,
)
#: A line of prose: a heading, list item, quote, table row, or a run of words (wrapped lines
#: included, and words in Markdown's `code`, *emphasis* and [links][]).
PROSE_LINE_RE = re.compile(
    r"""
    ^\#{1,6}\s+\S                                      # heading
    | ^\s{0,3}(?:[-*+]|\d{1,3}[.)])\s+\S               # list item
    | ^\s{0,3}>                                        # quote
    | ^\s*\|.*\|\s*$                                   # table row
    | ^\s{0,12}["'(`*_\[]*[^\W\d_][\w'’,.;:)"`*\[\]!?-]*        # words, Markdown's inline
      (?:\s+["'(`*_\[]*[\w'’,.;:()"/`*\[\]!?<>&+%$\#@~-]+){2,}     # code and links included
    """,
    re.VERBOSE,
)
#: A Markdown code fence: three or more backticks or tildes, indented at most three spaces.
FENCE_RE = re.compile(r"^ {0,3}(?:`{3,}|~{3,})", re.MULTILINE)
