"""What a query asks for in a text output: quoted phrases and the identifiers it names."""

from __future__ import annotations

import re

from headroom_core.relevance.terms import compound_tokens

__all__ = ["focus_text", "query_names"]

_QUOTED_RE = re.compile(r"""(?<![\w])(?:'([^'\n]{2,200})'|"([^"\n]{2,200})"|`([^`\n]{1,200})`)""")


def quoted_phrases(query: str) -> list[str]:
    """Phrases the user quoted ('...', "...", `...`): the part of a question to match literally."""
    return [
        next(group for group in match.groups() if group) for match in _QUOTED_RE.finditer(query)
    ]


def focus_text(query: str) -> str:
    """The text to score lines against: the quoted phrases when there are any, else the query."""
    phrases = quoted_phrases(query)
    return " ".join(phrases) if phrases else query


def query_names(query: str) -> set[str]:
    """Tokens of the query as written (case kept), to spot definitions of what it names."""
    return {token for token in compound_tokens(query) if len(token) > 1}
