"""Showing a selection of a text's lines honestly: every left-out run gets a marker in place.

Code outlines and documents keep whole lines verbatim; each run of lines they leave out becomes
one line saying which lines and what they held::

    ... [lines 120-164 omitted: body of parse_header]

so a reader can always tell shown from left out: two shown lines are adjacent in the original
unless a marker stands between them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

__all__ = ["MARKER_RE", "elided_runs", "render_elided"]

import re

#: A marker written by :func:`render_elided`.
MARKER_RE = re.compile(r"^\s*\.\.\. \[lines \d+-\d+ omitted: ")


def elided_runs(lines: Sequence[str], kept: Collection[int]) -> list[tuple[int, int]]:
    """Runs ``(start, end)`` of left-out lines worth a marker: two or more lines, not all blank.

    Blank lines closing a run stay shown (they separate what follows); a lone left-out line, or
    a run of blank lines, costs no more than its marker and is shown instead.
    """
    runs: list[tuple[int, int]] = []
    start = None
    for index in range(len(lines) + 1):
        if index < len(lines) and index not in kept:
            start = index if start is None else start
            continue
        if start is not None:
            end = index - 1
            while end > start and not lines[end].strip():
                end -= 1
            if end > start and any(lines[i].strip() for i in range(start, end + 1)):
                runs.append((start, end))
            start = None
    return runs


def render_elided(
    lines: Sequence[str],
    runs: Sequence[tuple[int, int]],
    what: Callable[[int, int], str],
    *,
    labels: Sequence[int] | None = None,
    indent_from: Sequence[str] | None = None,
) -> list[str]:
    """``lines`` with each run replaced by its marker.

    Args:
        lines: The text's lines, shown verbatim.
        runs: What :func:`elided_runs` returned.
        what: Says what a run held (``body of parse_header``).
        labels: Line numbers to name (a listing's own numbers); 1-based positions by default.
        indent_from: Lines whose indentation the marker takes (the run's first non-blank line);
            markers start at the margin when None.
    """
    out: list[str] = []
    position = 0
    for start, end in runs:
        out.extend(lines[position:start])
        indent = ""
        if indent_from is not None:
            first = next(i for i in range(start, end + 1) if indent_from[i].strip())
            line = indent_from[first]
            indent = line[: len(line) - len(line.lstrip(" \t"))]
        first_label, last_label = (labels[start], labels[end]) if labels else (start + 1, end + 1)
        out.append(f"{indent}... [lines {first_label}-{last_label} omitted: {what(start, end)}]")
        position = end + 1
    out.extend(lines[position:])
    return out
