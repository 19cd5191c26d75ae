"""Shorten one very long string value (a patch, a log blob, a signature) inside a JSON output.

A single value of tens of thousands of characters outweighs every row around it. What is kept:
the head and the tail, and the lines in between that name the query's identifiers or phrases,
mention an error, or hold a rare query word; every gap says how many lines it hides, an overlong
line is clipped in its middle, and a closing marker gives the size and the retrieval key.
"""

from __future__ import annotations

from collections.abc import Sequence

from headroom_core.transforms._json.stats import mentions_error

__all__ = ["shorten_text"]

HEAD_CHARS = 1000
TAIL_CHARS = 300
MIDDLE_CHARS = 1500
LINE_CHARS = 400
RARE_WORD_SHARE = 0.1
"""A query word found in more than this share of the lines says little about any one of them."""


def shorten_text(text: str, terms: Sequence[str], words: Sequence[str], key: str | None) -> str:
    """``text`` cut to its head, its tail and the telling lines between.

    Args:
        text: The long value.
        terms: Lower-cased identifiers, numbers and phrases of the query (strong matches).
        words: Lower-cased words of the query (kept only where rare in ``text``).
        key: Retrieval key of the full text, named in the closing marker when given.
    """
    lines = [_clip(line) for line in text.split("\n")]
    head = _prefix_length(lines, HEAD_CHARS)
    tail = len(lines) - _prefix_length(lines[head:][::-1], TAIL_CHARS)
    middle = range(head, tail)
    chosen = _telling_lines(lines, middle, terms, words)
    parts = lines[:head]
    previous = head
    for index in [*chosen, tail]:
        if index > previous:
            parts.append(f"[... {index - previous} lines ...]")
        if index < tail:
            parts.append(lines[index])
        previous = index + 1
    parts.extend(lines[tail:])
    where = f'; headroom_retrieve with key "{key}" returns it whole' if key else ""
    parts.append(f"[long text of {len(text)} chars shortened{where}]")
    return "\n".join(parts)


def _clip(line: str) -> str:
    if len(line) <= LINE_CHARS:
        return line
    return f"{line[:300]}[... {len(line) - 380} chars ...]{line[-80:]}"


def _prefix_length(lines: Sequence[str], budget: int) -> int:
    """How many leading ``lines`` fit in ``budget`` characters."""
    used = 0
    for count, line in enumerate(lines):
        used += len(line) + 1
        if used > budget:
            return count
    return len(lines)


def _telling_lines(
    lines: Sequence[str], middle: range, terms: Sequence[str], words: Sequence[str]
) -> list[int]:
    """Middle lines worth keeping, best first within :data:`MIDDLE_CHARS`, in text order."""
    lowered = {i: lines[i].lower() for i in middle}
    rare = [
        word for word in words
        if sum(word in line for line in lowered.values()) <= RARE_WORD_SHARE * len(lowered)
    ]
    scored = []
    for index, line in lowered.items():
        score = 3 * any(term in line for term in terms) + 2 * mentions_error(line)
        score += any(word in line for word in rare)
        if score:
            scored.append((-score, index))
    chosen, used = [], 0
    for _, index in sorted(scored):
        used += len(lines[index]) + 1
        if used > MIDDLE_CHARS:
            break
        chosen.append(index)
    return sorted(chosen)
