"""A documented cut for outputs too large to crush: head, tail, every problem line, a key.

Crushers handle outputs up to :data:`MAX_CRUSH_CHARS` (tens of megabytes) in time and memory
linear in their size. Above that, parsing and scoring would cost more than a request should
spend here, so the output is cut instead of passed through whole: its first
:data:`HEAD_LINES` and last :data:`TAIL_LINES` lines and every line reporting a problem (up to
:data:`MAX_PROBLEM_LINES`) are shown verbatim, each gap is marked in place, and the whole output
is stored for retrieval. Lines longer than :data:`MAX_LINE_CHARS` (a minified document) are
shown by their head only, and the marker says so.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from headroom_core.results import CrushResult
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms._elision import elided_runs, render_elided
from headroom_core.transforms._lines.severity import is_problem_line

if TYPE_CHECKING:
    from headroom_core.retrieval import OriginalsStore

__all__ = ["MAX_CRUSH_CHARS", "cut_oversized"]

logger = logging.getLogger(__name__)

MAX_CRUSH_CHARS = 32_000_000
HEAD_LINES = 200
TAIL_LINES = 100
MAX_PROBLEM_LINES = 2_000
MAX_LINE_CHARS = 4_000
CHARS_PER_TOKEN = 4  # the size of the whole is estimated: counting it would cost seconds


def cut_oversized(
    text: str,
    *,
    tokenizer: Tokenizer,
    store: OriginalsStore | None,
    tool_name: str | None = None,
) -> CrushResult:
    """The cut of ``text`` (see the module docstring); ``tokens_before`` is an estimate."""
    lines = text.split("\n")
    count = len(lines)
    kept = set(range(min(HEAD_LINES, count))) | set(range(max(0, count - TAIL_LINES), count))
    problems = 0
    for index in range(HEAD_LINES, max(HEAD_LINES, count - TAIL_LINES)):
        if problems < MAX_PROBLEM_LINES and is_problem_line(lines[index][:MAX_LINE_CHARS]):
            kept.add(index)
            problems += 1
    runs = elided_runs(lines, kept)
    shown = [line if len(line) <= MAX_LINE_CHARS else _head_of(line) for line in lines]
    body = render_elided(shown, runs, lambda start, end: _lines(end - start + 1))
    key = _store(lines, store, tool_name)
    omitted = sum(end - start + 1 for start, end in runs)
    closing = (
        f"... [output of {count:,} lines and {len(text):,} characters, above what Headroom "
        f"crushes ({MAX_CRUSH_CHARS:,}): shown are its first {HEAD_LINES} and last {TAIL_LINES} "
        f"lines and {_lines(problems)} reporting problems"
        f"{' (the first ' + str(MAX_PROBLEM_LINES) + ')' if problems == MAX_PROBLEM_LINES else ''}"
        f"; {omitted:,} lines omitted in {len(runs)} places, each marked; lines over "
        f"{MAX_LINE_CHARS:,} characters are cut where marked"
    )
    closing += f'; call headroom_retrieve with key "{key}" for the rest]' if key else "]"
    compressed = "\n".join([*body, closing])
    return CrushResult(
        compressed=compressed,
        original=text,
        tokens_before=len(text) // CHARS_PER_TOKEN,
        tokens_after=tokenizer.count_text(compressed),
        strategy="oversized_cut",
        reasons=[
            f"oversized: {len(text):,} characters > {MAX_CRUSH_CHARS:,}; cut to head, tail and "
            f"{problems} problem lines (tokens before estimated)"
        ],
        retrieval_key=key,
    )


def _head_of(line: str) -> str:
    return f"{line[:MAX_LINE_CHARS]} ... [line cut: {len(line) - MAX_LINE_CHARS:,} more characters]"


def _store(lines: list[str], store: OriginalsStore | None, tool_name: str | None) -> str | None:
    if store is None:
        return None
    try:
        return store.put(lines, tool_name=tool_name, kind="lines")
    except Exception as exc:  # a store that is down costs the key, never the cut
        logger.warning("Could not store an oversized output: %s", exc)
        return None


def _lines(count: int) -> str:
    return f"{count:,} line" if count == 1 else f"{count:,} lines"
