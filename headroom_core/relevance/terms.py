"""Search terms that understand identifiers.

Tool outputs are full of ``snake_case`` keys, ``camelCase`` names, paths, dotted module names and
ids. A query for "user id" should match ``user_id`` and ``userId``; a query for ``user_id`` should
prefer the exact identifier. So every compound token yields itself *and* its parts, lowercased.
"""

from __future__ import annotations

import re

__all__ = ["compound_tokens", "search_terms", "token_terms"]

# A compound token: word characters joined by the separators identifiers use (. / : -).
_COMPOUND = re.compile(r"\w+(?:[./:\-]\w+)*")
# Parts of one ASCII segment: acronyms before a capitalised word, capitalised or lower words,
# digits.
_PARTS = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_SEPARATORS = re.compile(r"[./:\-_]+")

# The same tokens for ASCII text; an explicit class is much faster than Unicode-aware \w.
_COMPOUND_ASCII = re.compile(r"[A-Za-z0-9_]+(?:[./:\-][A-Za-z0-9_]+)*")


def compound_tokens(text: str) -> list[str]:
    """The compound tokens of ``text``, unsplit and in their original case.

    >>> compound_tokens("GET /api/v1/users?id=42 -> HTTP 200")
    ['GET', 'api/v1/users', 'id', '42', 'HTTP', '200']
    """
    return (_COMPOUND_ASCII if text.isascii() else _COMPOUND).findall(text)


def token_terms(token: str) -> tuple[str, ...]:
    """Terms of one compound token: the whole token lowercased, then its parts (no repeats).

    >>> token_terms("getUserName")
    ('getusername', 'get', 'user', 'name')
    >>> token_terms("src/app_main.py")
    ('src/app_main.py', 'src', 'app', 'main', 'py')
    """
    whole = token.lower()
    terms = [whole]
    for segment in _SEPARATORS.split(token):
        # camelCase splitting is for ASCII identifiers; other scripts keep their words whole
        pieces = _PARTS.findall(segment) if segment.isascii() else [segment]
        for piece in pieces:
            part = piece.lower()
            if part not in terms:
                terms.append(part)
    return tuple(terms)


def search_terms(text: str) -> list[str]:
    """Lowercased search terms of ``text``: each identifier whole and split into its parts.

    Numbers are kept as terms; punctuation is dropped.

    >>> search_terms("userId=42 failed in db_pool.acquire()")
    ['userid', 'user', 'id', '42', 'failed', 'in', 'db_pool.acquire', 'db', 'pool', 'acquire']
    """
    known: dict[str, tuple[str, ...]] = {}  # for this text only: no cache grows with ids seen
    terms: list[str] = []
    for token in compound_tokens(text):
        found = known.get(token)
        if found is None:
            found = known[token] = token_terms(token)
        terms.extend(found)
    return terms
