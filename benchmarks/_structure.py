"""Does a compressed code or text output show its original honestly?

Marker-agnostic, so every compressor is judged alike: a line of the output that is not a line of
the original counts as a marker. Between two markers, the shown lines must be one contiguous run
of the original (else the reader sees lines as adjacent that are not: an unmarked gap), and code
fences must close.
"""

from __future__ import annotations

import re

__all__ = ["open_fence", "unmarked_gaps"]

_FENCE_RE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def unmarked_gaps(original: str, shown: str) -> int:
    """Places where lines shown next to each other are not next to each other in the original."""
    lines = original.split("\n")
    where: dict[str, list[int]] = {}
    for index, line in enumerate(lines):
        where.setdefault(line, []).append(index)
    gaps = 0
    candidates: list[int] | None = None  # where the current run may continue in the original
    for line in shown.split("\n"):
        places = where.get(line)
        if places is None:  # a marker: the next line may start anywhere
            candidates = None
            continue
        if candidates is not None:
            following = [p for p in places if p - 1 in candidates]
            if following:
                candidates = following
                continue
            gaps += 1
        candidates = places
    return gaps


def open_fence(shown: str) -> bool:
    """Whether a code fence is left open (or closed without being opened)."""
    opened: str | None = None
    for line in shown.split("\n"):
        fence = _FENCE_RE.match(line)
        if fence is None:
            continue
        stripped = line.strip()
        if opened is None:
            opened = fence.group(1)
        elif stripped.startswith(opened) and not stripped.strip(opened[0]):
            opened = None
    return opened is not None
