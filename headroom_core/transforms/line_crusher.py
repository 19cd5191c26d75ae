"""LineCrusher: compress logs, shell and build output, stack traces, search results and plain text.

Lossless first: runs of identical lines become one line with ``(xN)``. When the output is still
over its line or token budget, lines are grouped by template (numbers, ids, times, paths masked;
near-identical templates merged) or, for ``path:line:text`` search hits, by file. The crushed
output keeps, verbatim: every distinct error / warning / failure line with its context, the first
and last lines, the lines the query asks about, and one representative per pattern with a note
``[xN similar lines; <value ranges>]``. Dropped lines go to the originals store under a key the
closing marker names, unless retrieval is off (``store=None``): then the marker only says what
was left out.

Logs and search results are read as selections: the closing marker states once that the lines
shown are a selection of the output (how many of how many, and what the ``[xN]`` notes mean),
instead of a marker at every gap. Documents go to
:class:`~headroom_core.transforms.document.DocumentCrusher`, which marks every gap in place.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from headroom_core.config import LineCrusherConfig
from headroom_core.relevance.bm25 import BM25Scorer
from headroom_core.relevance.terms import search_terms
from headroom_core.results import CrushResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._counting import BackgroundCount
from headroom_core.transforms._lines import query as query_focus
from headroom_core.transforms._lines.render import group_note, is_crushed, omission_marker, render
from headroom_core.transforms._lines.search import definition_lines, grep_path, is_search_output
from headroom_core.transforms._lines.selection import (
    Group,
    Plan,
    Units,
    distinct_variants,
    fold_runs,
    group_by_key,
    group_by_template,
    select,
)
from headroom_core.transforms._lines.severity import is_problem_line, problem_flags
from headroom_core.transforms._lines.templates import templates_of
from headroom_core.transforms._oversized import MAX_CRUSH_CHARS
from headroom_core.transforms._store_choice import (
    DEFAULT_STORE,
    StoreChoice,
    StoresOriginals,
)
from headroom_core.transforms._text import looks_binary, require_text

if TYPE_CHECKING:
    from headroom_core.relevance import RelevanceScorer

__all__ = ["MAX_CRUSH_CHARS", "LineCrusher"]

logger = logging.getLogger(__name__)


# A query-relevant line must score at least this share of the best line's score.
_RELATIVE_RELEVANCE = 0.75
# From this many lines on, a query term found on most lines is dropped as telling none apart.
_COMMON_MIN_LINES = 20
# Lines a semantic (embedding) scorer sees at most: embedding every line of a big log is slow.
_SEMANTIC_LINES = 512
# Each budget retry keeps this share of the previous line budget.
_TIGHTEN = 0.5


class LineCrusher(StoresOriginals):
    """Compress line-oriented text so that problems, rare lines and query matches survive verbatim.

    Args:
        config: Thresholds and budgets; defaults to :class:`LineCrusherConfig`.
        scorer: Relevance scorer for query matching; BM25 by default.
        store: Where dropped lines are kept for retrieval; the process-wide default store when
            omitted. None turns retrieval off: nothing is stored and the marker names no key.
            When the store fails, the marker simply has no key.

    Examples:
        >>> from headroom_core.transforms import LineCrusher
        >>> log = "\\n".join(f"12:00:{i:02d} INFO request {i} ok" for i in range(60))
        >>> log += "\\n12:01:00 ERROR disk full on /dev/sda1"
        >>> result = LineCrusher().crush(log, query="disk")
        >>> "12:01:00 ERROR disk full on /dev/sda1" in result.compressed
        True
    """

    name: ClassVar[str] = "line_crusher"

    def __init__(
        self,
        config: LineCrusherConfig | None = None,
        *,
        scorer: RelevanceScorer | None = None,
        store: StoreChoice = DEFAULT_STORE,
    ) -> None:
        self.config = config or LineCrusherConfig()
        if isinstance(scorer, BM25Scorer):
            scorer = scorer.forgetful()  # the lines of one output are scored once
        self._scorer = scorer
        self._store = store

    @property
    def scorer(self) -> RelevanceScorer:
        """The relevance scorer (BM25 unless one was given)."""
        if self._scorer is None:
            self._scorer = BM25Scorer(remember_long_texts=False)
        return self._scorer

    def crush(
        self,
        text: str,
        query: str = "",
        *,
        tokenizer: Tokenizer | None = None,
        token_budget: int | None = None,
        max_lines: int | None = None,
        tool_name: str | None = None,
    ) -> CrushResult:
        """Compress ``text``.

        Args:
            text: The tool output.
            query: What the user asked; lines matching it are kept.
            tokenizer: Counts tokens; the shared gpt-4o tokenizer by default.
            token_budget: Target size in tokens; the line budget is tightened until the output
                fits or only must-keep lines remain.
            max_lines: Line budget overriding ``config.max_lines_after_crush``.
            tool_name: Tool that produced the output (recorded with the stored originals).

        Returns:
            A :class:`CrushResult`; ``strategy`` is ``"line_crusher"``, or ``"passthrough"`` with
            the reason when nothing was worth changing.

        Raises:
            TransformError: ``text`` is not a string.
        """
        text = require_text(text, "LineCrusher.crush")
        if len(text) > MAX_CRUSH_CHARS:
            estimate = len(text) // 4
            return CrushResult.unchanged(
                text,
                estimate,
                f"too large to crush ({len(text)} chars > {MAX_CRUSH_CHARS}); tokens estimated",
            )
        tokenizer = tokenizer or get_tokenizer()
        counting = BackgroundCount(tokenizer, text)  # a large text is counted while it is crushed
        if not counting.pending and counting.result() < self.config.min_tokens_to_crush:
            return CrushResult.unchanged(text, counting.result(), "below min_tokens_to_crush")
        if looks_binary(text):
            return CrushResult.unchanged(text, counting.result(), "binary content")
        if is_crushed(text):
            return CrushResult.unchanged(text, counting.result(), "already crushed")
        output = _Output(text, text.split("\n"), tokenizer, counting, tool_name)
        result = self._crush(output, query, token_budget, max_lines)
        if output.tokens_before < self.config.min_tokens_to_crush:  # a large text, counted late
            return CrushResult.unchanged(text, output.tokens_before, "below min_tokens_to_crush")
        return result

    def _crush(
        self, output: _Output, query: str, token_budget: int | None, max_lines: int | None
    ) -> CrushResult:
        limit = max_lines or self.config.max_lines_after_crush
        if len(output.units) <= limit:
            lossless = self._lossless(output)
            if token_budget is None or lossless.tokens_after <= token_budget:
                return lossless
        return self._lossy(output, query, token_budget, limit)

    def _lossless(self, output: _Output) -> CrushResult:
        lines, units = output.lines, output.units
        if len(units) == len(lines):
            return CrushResult.unchanged(
                output.text, output.tokens_before, "within the line budget, no repeated lines"
            )
        compressed = "\n".join(render(lines, units, Plan(set(range(len(units))), {}), {}))
        return CrushResult(
            compressed=compressed,
            original=output.text,
            tokens_before=output.tokens_before,
            tokens_after=output.tokenizer.count_text(compressed),
            strategy=self.name,
            reasons=[f"lossless: {len(lines) - len(units)} repeated lines folded into (xN)"],
            kept_indices=list(range(len(lines))),
        )

    def _lossy(
        self, output: _Output, query: str, token_budget: int | None, limit: int
    ) -> CrushResult:
        # Planning's templates and groups are freed before the dropped lines are stored: on a
        # large log the two would otherwise be held at once, the memory peak of a crush.
        plan, body, search = self._plan(output, query, token_budget, limit)
        return self._finish(output, plan, body, search)

    def _plan(
        self, output: _Output, query: str, token_budget: int | None, limit: int
    ) -> tuple[Plan, list[str], bool]:
        """The kept units and their rendered lines, tightened until they fit ``token_budget``;
        and whether the text is search output."""
        lines, units = output.lines, output.units
        texts = list(map(lines.__getitem__, units.starts))
        search = is_search_output(texts[:200])
        if search:
            problems = [is_problem_line(text) for text in texts]
            groups = group_by_key(grep_path(text) or "" for text in texts)
            templates = None
        else:
            templates = templates_of(texts)
            problems = problem_flags(templates.texts, texts)
            groups = group_by_template(
                templates.texts, self.config.similarity_threshold, problems
            )
        relevant = self._relevant(texts, query, search, groups)
        edges = _edges(len(units), self.config.keep_first, self.config.keep_last)
        while True:
            plan = select(
                groups,
                len(units),
                limit=limit,
                edges=edges,
                relevant=relevant,
                is_problem=problems.__getitem__,
                variants=lambda members: distinct_variants(members, templates),
                context=0 if search else self.config.context_lines,
            )
            notes = {
                unit: note
                for unit, group in plan.represents.items()
                if (note := group_note(group, plan, units, lines, templates))
            }
            body = render(lines, units, plan, notes)
            tokens_after = output.tokenizer.count_text("\n".join(body))
            if token_budget is None or tokens_after <= token_budget or limit <= 1:
                break
            limit = max(1, int(limit * _TIGHTEN))
        return plan, body, search

    def _relevant(
        self, texts: Sequence[str], query: str, search: bool, groups: Sequence[Group]
    ) -> list[int]:
        """Units the query asks about, best first.

        A keyword scorer only sees the lines sharing a term with the query (the others would
        score 0 anyway): on a large log that is most of the time and memory saved. Any other
        scorer (embeddings) sees at most :data:`_SEMANTIC_LINES` lines: those sharing a term,
        then one line per pattern.
        """
        if not query or not query.strip():
            return []
        focus = query_focus.focus_text(query)
        terms = set(search_terms(focus))
        hits: dict[int, tuple[str, ...]] = {}
        for index, text in enumerate(map(str.lower, texts)):
            found = tuple(term for term in terms if term in text)
            if found:
                hits[index] = found
        common = _common_terms(hits.values(), len(texts))
        if common:  # a term on most lines (the host a log is from) tells no line apart
            hits = {i: found for i, found in hits.items() if not common.issuperset(found)}
            if isinstance(self.scorer, BM25Scorer):
                focus = " ".join(sorted(terms - common))
        candidates = list(hits)
        if not isinstance(self.scorer, BM25Scorer):
            representatives = (group.representative for group in groups)
            candidates = list(dict.fromkeys([*candidates, *representatives]))[:_SEMANTIC_LINES]
        scored = self.scorer.score_items([texts[i] for i in candidates], focus)
        scores = dict(zip(candidates, scored, strict=True))
        if search:
            for index in definition_lines(texts, query_focus.query_names(query)):
                scores[index] = 1.0
        best = max(scores.values(), default=0.0)
        if best <= 0:
            return []
        floor = max(self.config.relevance_threshold, _RELATIVE_RELEVANCE * best)
        ranked = [index for index, score in scores.items() if score >= floor]
        return sorted(ranked, key=lambda index: (-scores[index], index))

    def _finish(self, output: _Output, plan: Plan, body: list[str], search: bool) -> CrushResult:
        """Store the dropped lines, close with the marker, and count what the crush saved."""
        lines, units = output.lines, output.units
        kept_lines = [
            index
            for position in sorted(plan.kept)
            for index in range(units[position].index, units[position].index + units[position].count)
        ]
        kept_set = set(kept_lines)
        dropped = [index for index in range(len(lines)) if index not in kept_set]
        key = self._put([lines[index] for index in dropped], output.tool_name) if dropped else None
        omitted = [
            (group.key, sum(units[m].count for m in group.members)) for group in plan.omitted
        ]
        marker = omission_marker(len(dropped), len(lines), omitted, key, name_groups=search)
        compressed = "\n".join([*body, marker])
        tokens_after = output.tokenizer.count_text(compressed)
        if tokens_after >= output.tokens_before:
            return CrushResult.unchanged(
                output.text, output.tokens_before, "crushing would not save tokens"
            )
        grouping = "search hits grouped by file" if search else "lines grouped by template"
        return CrushResult(
            compressed=compressed,
            original=output.text,
            tokens_before=output.tokens_before,
            tokens_after=tokens_after,
            strategy=self.name,
            reasons=[f"{grouping}: kept {len(kept_lines)} of {len(lines)} lines"],
            kept_indices=kept_lines,
            dropped_indices=dropped,
            retrieval_key=key,
        )

    def _put(self, dropped_lines: list[str], tool_name: str | None) -> str | None:
        """The key of the dropped lines; None when retrieval is off or the store failed."""
        store = self.store
        if store is None:
            return None
        try:
            return store.put(dropped_lines, tool_name=tool_name, kind="lines")
        except Exception as exc:  # a store that is down costs the key, never the crush
            logger.warning("Could not store dropped lines: %s", exc)
            return None


@dataclass
class _Output:
    """One tool output being crushed: its text, lines, line units and token count."""

    text: str
    lines: list[str]
    tokenizer: Tokenizer
    counting: BackgroundCount
    tool_name: str | None
    units: Units = field(init=False)

    def __post_init__(self) -> None:
        self.units = fold_runs(self.lines)

    @property
    def tokens_before(self) -> int:
        """The text's tokens (waits for a count still running)."""
        return self.counting.result()


def _common_terms(hits: Iterable[tuple[str, ...]], lines: int) -> set[str]:
    """Query terms found on more than half of a long output's lines."""
    if lines < _COMMON_MIN_LINES:
        return set()
    counts = Counter(term for found in hits for term in found)
    return {term for term, count in counts.items() if count > lines / 2}


def _edges(count: int, keep_first: int, keep_last: int) -> list[int]:
    """First and last units, alternating from the outside in (so a small budget keeps both ends)."""
    first = list(range(min(keep_first, count)))
    last = list(range(count - 1, max(-1, count - 1 - keep_last), -1))
    order: list[int] = []
    for pair in zip(first, last, strict=False):
        order.extend(pair)
    order.extend(first[len(last) :] + last[len(first) :])
    return list(dict.fromkeys(order))

