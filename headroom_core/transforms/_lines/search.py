"""Recognise grep / search-result output (``path:line:text``) and the definitions it holds."""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["definition_lines", "grep_line_number", "grep_path", "is_search_output"]

# ``path:12:text`` (a hit) or ``path-12-text`` (a context line of ``grep -C``); the path has a
# directory or an extension and no spaces, so timestamps (``2016-09-28 04:30:30``) and log file
# prefixes (``nova-api.log.1.2017-05-16_13:53:08``) do not qualify.
_GREP_RE = re.compile(
    r"^(?P<path>[^\s:]{0,300}?(?:/[^\s:]*|\.[A-Za-z]\w{0,9}))(?::(?P<line>\d+):|-(?P<context>\d+)-)"
)
_DEFINITION_RE = re.compile(
    r"\b(?:def|class|function|func|fn|interface|struct|enum|trait|type|module|const|let|var|val"
    r"|sub|procedure|macro)\s+(?P<name>[A-Za-z_$][\w$]*)"
)
_SEARCH_SHARE = 0.6


def grep_path(line: str) -> str | None:
    """The file path of a ``path:line:text`` search hit, or None if ``line`` is not one."""
    match = _GREP_RE.match(line)
    return match.group("path") if match else None


def grep_line_number(line: str) -> str | None:
    """The line number of a ``path:line:text`` search hit, or None."""
    match = _GREP_RE.match(line)
    return (match.group("line") or match.group("context")) if match else None


def is_search_output(lines: Sequence[str]) -> bool:
    """Whether most non-empty lines of ``lines`` are ``path:line:text`` search hits."""
    filled = [line for line in lines if line.strip()]
    if not filled:
        return False
    hits = sum(1 for line in filled if _GREP_RE.match(line))
    return hits >= _SEARCH_SHARE * len(filled)


def definition_lines(lines: Sequence[str], names: set[str]) -> set[int]:
    """Indices of lines that define one of ``names`` (``def name``, ``class name``, ...)."""
    if not names:
        return set()
    found = set()
    for index, line in enumerate(lines):
        for match in _DEFINITION_RE.finditer(line):
            if match.group("name") in names:
                found.add(index)
                break
    return found
