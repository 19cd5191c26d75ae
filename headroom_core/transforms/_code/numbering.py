"""Line-numbered listings (``cat -n``, editor tools' ``  12→code``, ``12:code``).

Agents often read files with a line number in front of every line. The outline must keep those
lines as they are, but find definitions and indentation in the code after the number.
"""

from __future__ import annotations

import itertools
import re

__all__ = ["strip_line_numbers"]

_NUMBER_RE = re.compile(r"^\s*(\d+)(?:\t|→|:|\s\|\s?|\|)")
# Share of lines that must carry a number, and of neighbours whose numbers follow each other.
_NUMBERED_SHARE = 0.9
_CONSECUTIVE_SHARE = 0.9


def strip_line_numbers(lines: list[str]) -> tuple[list[str], list[int]] | None:
    """The lines without their number prefixes, and each line's number (counting on from the
    last one for an unnumbered line); None when ``lines`` are not a numbered listing."""
    matches = [_NUMBER_RE.match(line) for line in lines]
    numbers = [int(match.group(1)) for match in matches if match]
    filled = sum(1 for line in lines if line.strip())
    if len(numbers) < 2 or len(numbers) < _NUMBERED_SHARE * filled:
        return None
    steps = sum(1 for a, b in itertools.pairwise(numbers) if b == a + 1)
    if steps < _CONSECUTIVE_SHARE * (len(numbers) - 1):
        return None
    code: list[str] = []
    labels: list[int] = []
    last = numbers[0] - 1
    for line, match in zip(lines, matches, strict=True):
        last = int(match.group(1)) if match else last + 1
        code.append(line[match.end() :] if match else line)
        labels.append(last)
    return code, labels
