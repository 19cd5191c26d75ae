"""DocumentCrusher: shrink Markdown and prose by sections, showing every gap.

A document is read by its structure (:mod:`headroom_core.transforms._markdown`): headings are
structure, never lines to collapse, and the section (a heading and its body) is the unit. The
sections the question points at (a phrase it quotes in their heading or body, BM25 over heading
and body, the tool call's arguments) are kept whole with their subsections; the others shrink to
their heading and first line, then to their heading alone, then out (the marker of their run
names the first and last heading left out), least relevant first, until the document fits its
target; the first and last non-blank lines always show. Without headings,
paragraphs are the units. Code blocks, lists,
tables and front matter are kept whole or left out whole, so fences stay balanced.

Every shown line is verbatim; each left-out run becomes one marker in place::

    ... [lines 40-52 omitted: rest of "Basic authentication"]

and a closing line says how much was left out and, when retrieval is on, the key under which
each shortened section can be fetched back whole (ask with its heading).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

import numpy as np

from headroom_core.config import LineCrusherConfig
from headroom_core.results import CrushResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._elision import elided_runs, render_elided
from headroom_core.transforms._lines.query import quoted_phrases
from headroom_core.transforms._lines.severity import is_problem_line
from headroom_core.transforms._markdown import Section, parse_blocks, parse_sections
from headroom_core.transforms._store_choice import (
    DEFAULT_STORE,
    StoreChoice,
    StoresOriginals,
)
from headroom_core.transforms._text import require_text

if TYPE_CHECKING:
    from headroom_core.relevance import RelevanceScorer

__all__ = ["DocumentCrusher", "is_shortened_document"]

logger = logging.getLogger(__name__)

# a unit shown whole, as heading and first line, as heading only, or left out (named by the
# marker of its run)
WHOLE, BRIEF, TITLE, OUT = 3, 2, 1, 0
# Without a token budget a document is shortened to about this share of its tokens, never
# below MIN_TARGET_TOKENS; sections the question points at stay whole regardless.
TARGET_SHARE = 0.3
MIN_TARGET_TOKENS = 600
# A section whose BM25 score reaches this share of the best one counts as pointed at.
_RELATIVE_RELEVANCE = 0.5
_MAX_PICKED = 3  # units BM25 alone may keep whole beyond the target
_RELEVANCE_CHARS = 4000  # of a unit's body, with its title three times
_MAX_QUERY_CHARS = 2000  # of the query (a question; not a pasted document)
_PATH_RE = re.compile(r"\S*/\S*|\S+\.(?:md|mdx|txt|rst|adoc|html?|pdf|docx?)\b", re.IGNORECASE)
_CLOSING_RE = re.compile(r"^\.\.\. \[document of \d+ lines: ")


def is_shortened_document(text: str) -> bool:
    """Whether ``text`` already is a shortened document (it ends with the closing marker)."""
    tail = text.rstrip().rsplit("\n", 1)[-1]
    return _CLOSING_RE.match(tail) is not None


class DocumentCrusher(StoresOriginals):
    """Shorten Markdown and other prose by sections, with a marker in place of every gap.

    Args:
        config: ``min_tokens_to_crush`` is used; defaults to :class:`LineCrusherConfig`.
        scorer: Relevance of a section to the query; BM25 by default.
        store: Where shortened sections are kept whole for retrieval; the process-wide default
            store when omitted; None turns retrieval off (no key in the closing marker).

    Examples:
        >>> doc = "# Guide\\n\\nIntro line.\\n\\n## Install\\n\\n" + "pip install x\\n" * 40
        >>> doc += "\\n## Timeouts\\n\\nSet `timeout=5.0` on the client.\\n" + "More.\\n" * 40
        >>> result = DocumentCrusher(store=None).crush(doc, 'What about "Timeouts"?')
        >>> print(result.compressed.splitlines()[4])
        ## Install
        >>> "Set `timeout=5.0` on the client." in result.compressed
        True
    """

    name: ClassVar[str] = "document"

    def __init__(
        self,
        config: LineCrusherConfig | None = None,
        *,
        scorer: RelevanceScorer | None = None,
        store: StoreChoice = DEFAULT_STORE,
    ) -> None:
        self.config = config or LineCrusherConfig()
        self._scorer = scorer
        self._store = store

    @property
    def scorer(self) -> RelevanceScorer:
        """The relevance scorer sections are ranked with."""
        if self._scorer is None:
            from headroom_core.relevance import BM25Scorer

            self._scorer = BM25Scorer()
        return self._scorer

    def crush(
        self,
        text: str,
        query: str = "",
        *,
        tokenizer: Tokenizer | None = None,
        token_budget: int | None = None,
        tool_name: str | None = None,
    ) -> CrushResult:
        """Shorten ``text``, or pass it through with the reason.

        Args:
            text: The document (Markdown, reStructuredText-like titles, plain prose).
            query: What the user asked, plus the tool call's arguments.
            tokenizer: Counts tokens; the shared gpt-4o tokenizer by default.
            token_budget: Target size in tokens; about ``TARGET_SHARE`` of the document (at
                least ``MIN_TARGET_TOKENS``) by default. Sections the query points at stay
                whole even beyond it.
            tool_name: Tool that produced the output (recorded with the stored sections).

        Returns:
            A :class:`CrushResult`; ``strategy`` is ``"document"``, or ``"passthrough"`` when
            the document is small, already shortened, or would keep every line.

        Raises:
            TransformError: ``text`` is not a string.
        """
        text = require_text(text, "DocumentCrusher.crush")
        tokenizer = tokenizer or get_tokenizer()
        tokens_before = tokenizer.count_text(text)
        if tokens_before < self.config.min_tokens_to_crush:
            return CrushResult.unchanged(
                text, tokens_before, "below line_crusher.min_tokens_to_crush"
            )
        if is_shortened_document(text):
            return CrushResult.unchanged(text, tokens_before, "already a shortened document")
        lines = text.split("\n")
        units = _units(lines)
        target = token_budget or max(MIN_TARGET_TOKENS, int(tokens_before * TARGET_SHARE))
        plan = _Plan(lines, units, chars_per_token=len(text) / max(1, tokens_before))
        plan.choose(self._relevance(lines, units, query), _pointed_at(lines, units, query), target)
        kept = plan.kept_lines()
        runs = elided_runs(lines, kept)
        if not runs:
            return CrushResult.unchanged(text, tokens_before, "the document would keep every line")
        key = self._put(lines, units, runs, tool_name)
        body = render_elided(lines, runs, plan.describe)
        dropped_lines = {i for start, end in runs for i in range(start, end + 1)}
        dropped = len(dropped_lines)
        compressed = "\n".join([*body, _closing(len(lines), dropped, len(runs), key)])
        tokens_after = tokenizer.count_text(compressed)
        if tokens_after >= tokens_before:
            return CrushResult.unchanged(
                text, tokens_before, "the shortened document would not be smaller"
            )
        levels = plan.levels
        return CrushResult(
            compressed=compressed,
            original=text,
            tokens_before=tokens_before,
            tokens_after=tokens_after,
            strategy=self.name,
            reasons=[
                f"document: {len(units)} sections, {levels.count(WHOLE)} whole, "
                f"{levels.count(BRIEF)} by heading and first line, {levels.count(TITLE)} by "
                f"heading, {levels.count(OUT)} left out; {dropped} of {len(lines)} lines "
                f"omitted in {len(runs)} places"
            ],
            kept_indices=[i for i in range(len(lines)) if i not in dropped_lines],
            dropped_indices=sorted(dropped_lines),
            retrieval_key=key,
        )

    def _relevance(self, lines: list[str], units: Sequence[Section], query: str) -> np.ndarray:
        """Each unit's relevance to ``query`` in [0, 1] (its title counts three times).

        Sections are scored against the whole question: a quoted string in it (a heading it
        names, a tool call's arguments) points at headings, and must not replace the words that
        find the answer in a body. File paths (the tool call's ``docs/LICENSE.txt``) name the
        document, not a part of it: they are left out.
        """
        focus = _PATH_RE.sub(" ", query[:_MAX_QUERY_CHARS])
        if not focus.strip():
            return np.zeros(len(units))
        texts = []
        for unit in units:
            title = unit.title(lines)
            body = "\n".join(lines[unit.start : unit.end + 1])[:_RELEVANCE_CHARS]
            texts.append(f"{title}\n{title}\n{title}\n{body}")
        scores = np.nan_to_num(np.asarray(self.scorer.score_items(texts, focus), dtype=float))
        best = float(scores.max(initial=0.0))
        return scores / best if best > 0 else scores

    def _put(
        self,
        lines: list[str],
        units: Sequence[Section],
        runs: list[tuple[int, int]],
        tool_name: str | None,
    ) -> str | None:
        """Store every unit with left-out lines, whole; the key, or None (off or failed)."""
        store = self.store
        if store is None:
            return None
        items = [
            {
                "section": unit.title(lines) or f"lines {unit.start + 1}-{unit.end + 1}",
                "lines": f"{unit.start + 1}-{unit.end + 1}",
                "text": "\n".join(lines[unit.start : unit.end + 1]),
            }
            for unit in units
            if any(start <= unit.end and end >= unit.start for start, end in runs)
        ]
        try:
            return store.put(items, tool_name=tool_name, kind="document")
        except Exception as exc:  # a store that is down costs the key, never the document
            logger.warning("Could not store the sections left out of a document: %s", exc)
            return None


def _units(lines: list[str]) -> list[Section]:
    """Sections when the document has headings; else one unit per block (paragraphs)."""
    sections = parse_sections(lines)
    if any(section.heading is not None for section in sections):
        return sections
    return [Section(None, [block]) for block in parse_blocks(lines)]


def _pointed_at(lines: list[str], units: Sequence[Section], query: str) -> set[int]:
    """Units whose heading holds a phrase the query quotes, with their subsections."""
    phrases = [phrase.lower() for phrase in quoted_phrases(query)]
    chosen: set[int] = set()
    for index, unit in enumerate(units):
        title = unit.title(lines).lower()
        if title and any(phrase in title for phrase in phrases):
            chosen.add(index)
            below = index + 1
            while below < len(units) and units[below].level > unit.level:
                chosen.add(below)
                below += 1
    return chosen


class _Plan:
    """Which level each unit is shown at, and the lines that makes."""

    def __init__(self, lines: list[str], units: Sequence[Section], chars_per_token: float) -> None:
        self.lines = lines
        self.units = units
        self.levels = [BRIEF] * len(units)
        self._chars_per_token = chars_per_token
        self._owner = [0] * len(lines)  # the unit of each line (blank lines: the one before)
        for index, unit in enumerate(units):
            stop = units[index + 1].start if index + 1 < len(units) else len(lines)
            for position in range(unit.start, stop):
                self._owner[position] = index

    def choose(self, relevance: np.ndarray, pointed: set[int], target: int) -> None:
        """Pointed-at units whole (without a quoted phrase, the best BM25 ones); then the next
        most relevant, then the others in order, whole while the document fits ``target``; then
        the least relevant shrink to their heading until it fits."""
        best = float(relevance.max(initial=0.0))
        if not pointed and best > 0:
            ranked_best = np.argsort(-relevance, kind="stable")[:_MAX_PICKED]
            pointed = {int(i) for i in ranked_best if relevance[i] >= _RELATIVE_RELEVANCE * best}
        for index in pointed:
            self.levels[index] = WHOLE
        cost = {
            level: [self._cost(i, level) for i in range(len(self.units))]
            for level in (WHOLE, BRIEF, TITLE, OUT)
        }
        total = sum(cost[level][i] for i, level in enumerate(self.levels))
        ranked = sorted(range(len(self.units)), key=lambda i: (-relevance[i], i))
        for index in ranked:  # the rest in order, while it fits: a short text stays whole
            extra = cost[WHOLE][index] - cost[self.levels[index]][index]
            if extra > 0 and total + extra <= target:
                self.levels[index] = WHOLE
                total += extra
        framing = self._ancestors({i for i, level in enumerate(self.levels) if level == WHOLE})
        framing.add(0)  # the document's title and opening
        for lower in (TITLE, OUT):
            for index in reversed(ranked):
                if total <= target:
                    return
                if self.levels[index] != lower + 1 or index in framing:
                    continue
                # a section left out takes its subsections with it: none is shown orphaned
                for member in [index, *self._descendants(index)] if lower == OUT else [index]:
                    total -= cost[self.levels[member]][member] - cost[lower][member]
                    self.levels[member] = min(self.levels[member], lower)

    def _descendants(self, index: int) -> list[int]:
        level = self.units[index].level
        below = index + 1
        while below < len(self.units) and self.units[below].level > level > 0:
            below += 1
        return list(range(index + 1, below))

    def _ancestors(self, chosen: set[int]) -> set[int]:
        """The sections enclosing ``chosen`` ones (a release above its "Features"): they keep
        their heading and first line, which say what the chosen section belongs to."""
        above: set[int] = set()
        for index in chosen:
            level = self.units[index].level
            for before in range(index - 1, -1, -1):
                if 0 < self.units[before].level < level:
                    above.add(before)
                    level = self.units[before].level
        return above

    def _cost(self, index: int, level: int) -> float:
        """About how many tokens unit ``index`` costs at ``level`` (a unit left out costs
        nothing: the marker of its run stands for its neighbours too)."""
        if level == OUT:
            return 0.0
        shown = self._shown(index, level)
        chars = sum(len(self.lines[position]) + 1 for position in shown)
        unit = self.units[index]
        if len(shown) < unit.end - unit.start + 1:
            chars += 48  # its marker
        return chars / self._chars_per_token

    def _shown(self, index: int, level: int) -> list[int]:
        unit = self.units[index]
        if level == WHOLE:
            return list(range(unit.start, unit.end + 1))
        if level == OUT:
            return []
        shown = list(range(unit.heading.start, unit.heading.end + 1)) if unit.heading else []
        if level == BRIEF and unit.blocks:
            first = unit.blocks[0]
            if first.kind == "front_matter":
                shown.extend(range(first.start, first.end + 1))
            elif first.kind == "table":
                shown.extend(range(first.start, min(first.end, first.start + 1) + 1))
            elif first.kind in ("paragraph", "list"):
                shown.append(first.start)
        return shown

    def kept_lines(self) -> set[int]:
        """The lines shown: each unit's at its level; in text without headings (a test run,
        an installer: output with no timestamps to call it a log) every line reporting a
        problem; and the document's first and last non-blank lines (its title, its closing
        words); none of the last two kinds from inside a code block."""
        kept: set[int] = set()
        for index, level in enumerate(self.levels):
            kept.update(self._shown(index, level))
        filled = [i for i, line in enumerate(self.lines) if line.strip()]
        fenced = {
            position
            for unit in self.units
            for block in unit.blocks
            if block.kind == "code"
            for position in range(block.start, block.end + 1)
        }
        # a lone line of a code block would leave its fence open: those stay out
        kept.update(i for i in filled[:1] + filled[-1:] if i not in fenced)
        if not any(unit.heading for unit in self.units):
            kept.update(i for i in filled if i not in fenced and is_problem_line(self.lines[i]))
        return kept

    def describe(self, start: int, end: int) -> str:
        """What a left-out run held: the body or rest of a section, or sections (named by the
        first and last heading), or paragraphs."""
        first, last = self._owner[start], self._owner[end]
        unit = self.units[first]
        title = unit.title(self.lines)
        if first == last:
            if not title:
                return "part of a paragraph" if self.levels[first] != OUT else "a paragraph"
            if self.levels[first] == OUT:
                return f'section "{title}"'
            body = unit.heading is not None and start <= unit.heading.end + 1
            return f'{"body" if body and self.levels[first] == TITLE else "rest"} of "{title}"'
        spanned = [self.units[i] for i in range(first, last + 1)]
        if not any(unit.heading for unit in spanned):
            return f"{len(spanned)} paragraphs"
        top = min(unit.level for unit in spanned if unit.heading)
        named = [unit.title(self.lines) for unit in spanned if unit.heading and unit.level == top]
        ends = f'"{named[0]}" to "{named[-1]}"' if len(named) > 1 else f'"{named[0]}"'
        return f"{len(spanned)} sections, {ends}"


def _closing(total: int, dropped: int, places: int, key: str | None) -> str:
    text = (
        f"... [document of {total} lines: {dropped} lines omitted in {places} places, each "
        "marked '... [lines A-B omitted: ...]'; headings and every other line are verbatim"
    )
    if key:
        return (
            text + f'; to read a section whole call headroom_retrieve with key "{key}" and its '
            "heading]"
        )
    return text + "]"

