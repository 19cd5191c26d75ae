"""Where a text can be cut so that its token count is the sum of its pieces' counts.

Byte-pair merges never cross the pieces the pre-tokenizer splits a text into, and for
``o200k_base`` and ``cl100k_base`` two kinds of position always start a new piece: just after a
line break followed by a character that is neither whitespace nor ``/``, and just after the last
digit of a run of ASCII digits followed by an ASCII character (digits only ever form pieces of
their own). Counting a long text piece by piece at such positions gives its exact count while
holding the token ids of one piece at a time.
"""

from __future__ import annotations

import re

__all__ = ["safe_cut"]

_CUT = re.compile(r"\n(?=[^\s/])|[0-9](?=[\x00-/:-\x7f])")


def safe_cut(text: str, start: int, stop: int | None = None) -> int | None:
    """The first position in ``text[start:stop]`` after which the token count splits exactly,
    or None when there is none.

    >>> text = '[{"id":17,"name":"a"}]'
    >>> cut = safe_cut(text, 0)
    >>> text[:cut], text[cut:]
    ('[{"id":17', ',"name":"a"}]')
    """
    match = _CUT.search(text, start, len(text) if stop is None else stop)
    return None if match is None else match.end()
