"""Checks that a compressed text shows its original honestly: verbatim lines, marked gaps."""

from __future__ import annotations

import re

from benchmarks._structure import open_fence
from headroom_core.transforms._elision import MARKER_RE

_CLOSING_RE = re.compile(r"^\.\.\. \[(?:(?:document|outline) of \d+ lines|output of [\d,]+ lines)")


def shown_segments(compressed: str) -> list[list[str]]:
    """The runs of shown lines between markers."""
    segments: list[list[str]] = [[]]
    for line in compressed.split("\n"):
        if MARKER_RE.match(line) or _CLOSING_RE.match(line):
            segments.append([])
        else:
            segments[-1].append(line)
    return [segment for segment in segments if segment]


def assert_no_unmarked_gap(original: str, compressed: str) -> None:
    """Fail unless every run of shown lines stands in the original as one contiguous run, in
    order: two shown lines that are not adjacent there have a marker between them."""
    lines = original.split("\n")
    position = 0
    for segment in shown_segments(compressed):
        size = len(segment)
        found = next(
            (i for i in range(position, len(lines) - size + 1) if lines[i : i + size] == segment),
            None,
        )
        assert found is not None, f"lines shown as adjacent are not adjacent: {segment[:3]}"
        position = found + size


def assert_fences_balanced(compressed: str) -> None:
    """Fail when a code fence is opened and not closed (or closed without being opened)."""
    assert not open_fence(compressed), "a code fence is left open"
