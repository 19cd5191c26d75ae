"""CodeOutliner: shrink a large source file to an outline that keeps what the question needs.

Code is never edited: every line of the outline is a line of the file, verbatim. What is left out
is a run of whole lines, replaced by one marker at the run's indentation::

        ... [lines 120-164 omitted: body of parse_header]

The outline keeps the first and last lines of the file, every definition's signature (with its
decorators and the first line of its docstring), top-level constants, and the whole body of every
block the question points at: blocks it names (``get_repo``, ``getRepo``,
``Repository.get_pulls``), blocks holding lines with an identifier or phrase it quotes, and the
blocks of the lines BM25 ranks best for it. A closing marker says how much was left out and, when
retrieval is on, the key under which the left-out runs can be fetched back.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from headroom_core.config import LineCrusherConfig
from headroom_core.relevance.bm25 import BM25Scorer
from headroom_core.results import CrushResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._code.blocks import (
    Block,
    find_blocks,
    outside_docstrings,
    top_level_constants,
)
from headroom_core.transforms._code.focus import CodeFocus
from headroom_core.transforms._code.numbering import strip_line_numbers
from headroom_core.transforms._elision import elided_runs, render_elided
from headroom_core.transforms._lines.query import focus_text
from headroom_core.transforms._store_choice import (
    DEFAULT_STORE,
    StoreChoice,
    StoresOriginals,
)
from headroom_core.transforms._text import looks_binary, require_text

if TYPE_CHECKING:
    pass

__all__ = ["CodeOutliner", "is_outline"]

logger = logging.getLogger(__name__)

# Files with lines this long are minified or generated: an outline of them would say nothing.
_MAX_LINE_CHARS = 1000
_MAX_MEAN_LINE_CHARS = 200
# Scripts, configs and snippets with fewer definitions have no structure to outline.
_MIN_DEFINITIONS = 2
# A relevant block longer than this keeps its head and the lines around its matches only.
_BLOCK_MAX_LINES = 200
# outlines tighten in steps when over a token budget (see CodeOutliner.outline)
_TIGHTEST = 3
_HEAD_LINES = 30
_CONTEXT_LINES = 3
# Lines above an error-raising line kept with it (where its message is built).
_MESSAGE_LINES = 2
# An identifier on more lines than this is a common word of the file: its lines stay, their
# blocks do not.
_MANY_HITS = 12
# A name defined more often than this keeps only its definitions inside other named blocks.
_MANY_DEFINITIONS = 3
# Lines BM25 ranks best whose blocks stay, and the share of the best score they must reach.
_BEST_LINES = 3
_RELATIVE_RELEVANCE = 0.75
# Query text BM25 ranks lines against (a question; not a pasted document).
_MAX_QUERY_CHARS = 2000

_PYTHON_HINT_RE = re.compile(r"^\s*(?:def|class|import|from\s+\S+\s+import)\b", re.MULTILINE)
_ERROR_LINE_RE = re.compile(r"\b(?:raise|throw|throws|panic!?|abort|Err\(|errors?\.New|fatal)\b")
_BARE_CLOSER_RE = re.compile(r"^\s*(?:[)\]}]+[;,]?|end)\s*$")
_OUTLINE_END_RE = re.compile(r"^\.\.\. \[outline of \d+ lines: ")


def is_outline(text: str) -> bool:
    """Whether ``text`` is already an outline (it ends with the outline's closing marker)."""
    tail = text.rstrip().rsplit("\n", 1)[-1]
    return _OUTLINE_END_RE.match(tail) is not None


class CodeOutliner(StoresOriginals):
    """Outline large source files around the blocks a question points at.

    Args:
        config: ``code_min_tokens``, ``code_min_savings``, ``keep_first`` and ``keep_last`` are
            used; defaults to :class:`~headroom_core.config.LineCrusherConfig`.
        store: Where the left-out runs are kept for retrieval; the process-wide default store
            when omitted. None turns retrieval off: nothing is stored and the marker names no
            key. When the store fails, the marker simply has no key.

    Examples:
        >>> import inspect, json.decoder
        >>> source = inspect.getsource(json.decoder)
        >>> result = CodeOutliner(store=None).outline(source, "what does py_scanstring return?")
        >>> result.strategy, result.tokens_after < result.tokens_before
        ('code_outline', True)
        >>> "    return ''.join(chunks), end" in result.compressed.splitlines()
        True
    """

    name: ClassVar[str] = "code_outline"

    def __init__(
        self, config: LineCrusherConfig | None = None, *, store: StoreChoice = DEFAULT_STORE
    ) -> None:
        self.config = config or LineCrusherConfig()
        self._store = store

    def outline(
        self,
        text: str,
        query: str = "",
        *,
        tokenizer: Tokenizer | None = None,
        tool_name: str | None = None,
        token_budget: int | None = None,
    ) -> CrushResult:
        """Outline ``text``, or pass it through with the reason.

        Args:
            text: The source file (or a large piece of one).
            query: What the user asked (plus the tool call's arguments).
            tokenizer: Counts tokens; the shared gpt-4o tokenizer by default.
            tool_name: Tool that produced the output (recorded with the stored lines).
            token_budget: Target size in tokens. An outline over it is tightened, a step at a
                time, until it fits: the signatures of every definition and the blocks the
                query names; then top-level signatures and those blocks; then those blocks and
                the file's ends alone. The named blocks stay whole at every step.

        Returns:
            A :class:`CrushResult`; ``strategy`` is ``"code_outline"``, or ``"passthrough"``
            when the file is small, minified, has no definitions, is already an outline, or the
            outline would not save ``config.code_min_savings`` of its tokens.

        Raises:
            TransformError: ``text`` is not a string.
        """
        text = require_text(text, "CodeOutliner.outline")
        tokenizer = tokenizer or get_tokenizer()
        tokens_before = tokenizer.count_text(text)
        if tokens_before < self.config.code_min_tokens:
            return CrushResult.unchanged(text, tokens_before, "below line_crusher.code_min_tokens")
        if looks_binary(text):
            return CrushResult.unchanged(text, tokens_before, "binary content")
        if is_outline(text):
            return CrushResult.unchanged(text, tokens_before, "already an outline")
        lines = text.split("\n")
        if _is_minified(lines):
            return CrushResult.unchanged(text, tokens_before, "minified or very long lines")
        listing = strip_line_numbers(lines)
        code, labels = listing or (lines, list(range(1, len(lines) + 1)))
        python = _PYTHON_HINT_RE.search("\n".join(code)) is not None
        blocks = find_blocks(code, python=python)
        if len(blocks) < _MIN_DEFINITIONS:
            return CrushResult.unchanged(text, tokens_before, "no definitions to outline")
        for tightness in range(_TIGHTEST + 1):
            plan = _Plan(code, blocks)
            plan.keep_skeleton(self.config.keep_first, self.config.keep_last, tightness)
            plan.keep_relevant(query, named_only=tightness > 0)
            runs = plan.elided_runs()
            if not runs:
                return CrushResult.unchanged(
                    text, tokens_before, "the outline would keep every line"
                )
            body = plan.render(lines, labels, runs)
            dropped = [index for start, end in runs for index in range(start, end + 1)]
            closing = _closing(len(lines), dropped, runs, None)
            draft = tokenizer.count_text("\n".join([*body, closing]))
            if token_budget is None or draft <= token_budget:
                break
        if draft > tokens_before * (1 - self.config.code_min_savings):
            return CrushResult.unchanged(
                text, tokens_before, "the outline would save less than code_min_savings"
            )
        key = self._put(lines, labels, runs, tool_name)
        compressed = "\n".join([*body, _closing(len(lines), dropped, runs, key)])
        dropped_set = set(dropped)
        return CrushResult(
            compressed=compressed,
            original=text,
            tokens_before=tokens_before,
            tokens_after=tokenizer.count_text(compressed),
            strategy=self.name,
            reasons=[
                f"outline: kept {len(lines) - len(dropped)} of {len(lines)} lines verbatim, "
                f"{len(plan.blocks)} definitions, {len(plan.relevant)} relevant blocks whole"
            ],
            kept_indices=[index for index in range(len(lines)) if index not in dropped_set],
            dropped_indices=dropped,
            retrieval_key=key,
        )

    def _put(
        self,
        lines: list[str],
        labels: list[int],
        runs: list[tuple[int, int]],
        tool_name: str | None,
    ) -> str | None:
        """Store each left-out run with its line range; the key, or None (off or failed)."""
        store = self.store
        if store is None:
            return None
        items = [
            {"lines": f"{labels[start]}-{labels[end]}", "code": "\n".join(lines[start : end + 1])}
            for start, end in runs
        ]
        try:
            return store.put(items, tool_name=tool_name, kind="code")
        except Exception as exc:  # a store that is down costs the key, never the outline
            logger.warning("Could not store the lines left out of an outline: %s", exc)
            return None


@dataclass
class _Plan:
    """Which lines of one file the outline keeps."""

    code: list[str]  # the file's lines, line-number prefixes removed
    blocks: list[Block]

    def __post_init__(self) -> None:
        self.kept: set[int] = set()
        self.relevant: set[str] = set()
        self.query = ""
        self.owner: list[Block | None] = [None] * len(self.code)
        for block in sorted(self.blocks, key=lambda b: -b.size):  # inner blocks overwrite outer
            for index in range(block.header, block.end + 1):
                self.owner[index] = block

    def keep_skeleton(self, keep_first: int, keep_last: int, tightness: int = 0) -> None:
        """First and last lines; then, by ``tightness``: 0, signatures with decorators,
        docstring summaries and constants; 1, signatures alone; 2, top-level signatures; 3,
        nothing more."""
        count = len(self.code)
        self.kept.update(range(min(keep_first, count)))
        self.kept.update(range(max(0, count - keep_last), count))
        if tightness >= _TIGHTEST:
            return
        for block in self.blocks:
            if tightness == 2 and self._owner_above(block) is not None:
                continue
            self.kept.update(range(block.decorated, block.signature_end + 1))
            if tightness == 0 and block.doc is not None:
                self.kept.add(block.doc)
            if block.end > block.signature_end and _BARE_CLOSER_RE.match(self.code[block.end]):
                self.kept.add(block.end)
        if tightness == 0:
            self.kept.update(top_level_constants(self.code))

    def _owner_above(self, block: Block) -> Block | None:
        """The innermost block enclosing ``block``; None at top level."""
        enclosing = [
            other
            for other in self.blocks
            if other is not block and other.header < block.header and block.end <= other.end
        ]
        return min(enclosing, key=lambda other: other.size, default=None)

    def keep_relevant(self, query: str, *, named_only: bool = False) -> None:
        """The blocks (or lines) the query names, quotes, or BM25 ranks best; with
        ``named_only``, the blocks it names alone."""
        self.query = query or ""
        focus = CodeFocus.of(self.query)
        if not focus:
            return
        for block in self._named_blocks(focus):
            self._keep_block(block, [])
        if named_only:
            return
        named = {block.header for block in self.blocks if focus.names_block(block.name)}
        for found in focus.matching_lines(self.code).values():
            hits = [index for index in found if index not in named]  # chosen above
            if len(hits) > _MANY_HITS:
                self.kept.update(hits)
                continue
            for index in hits:
                self._keep_around(index)
        for index in self._best_lines(query):
            self._keep_around(index)

    def _named_blocks(self, focus: CodeFocus) -> list[Block]:
        """The blocks the query names. When a name is defined in many places (``mergeFrom`` in
        every class), the ones inside a block the query also names, if any."""
        named = [block for block in self.blocks if focus.names_block(block.name)]
        by_name: dict[str, list[Block]] = {}
        for block in named:
            by_name.setdefault(block.name, []).append(block)
        chosen: list[Block] = []
        for same in by_name.values():
            if len(same) > _MANY_DEFINITIONS:
                inside = [block for block in same if self._inside_named(block, named)]
                same = inside or same
            chosen.extend(same)
        return chosen

    def _inside_named(self, block: Block, named: list[Block]) -> bool:
        return any(
            outer.header < block.header and block.end <= outer.end and outer.name != block.name
            for outer in named
        )

    def _best_lines(self, query: str, within: range | None = None) -> list[int]:
        """The lines BM25 ranks best for ``query`` (in the whole file or ``within`` a block)."""
        span = within if within is not None else range(len(self.code))
        candidates = [index for index in span if self.code[index].strip()]
        texts = [self.code[index] for index in candidates]
        scores = BM25Scorer().score_items(texts, focus_text(query)[:_MAX_QUERY_CHARS])
        best = max(scores, default=0.0)
        if best <= 0:
            return []
        ranked = sorted(range(len(scores)), key=lambda i: -scores[i])[:_BEST_LINES]
        return [candidates[i] for i in ranked if scores[i] >= _RELATIVE_RELEVANCE * best]

    def _keep_around(self, index: int) -> None:
        """A matched line: its whole block, or the lines around it when it is at top level."""
        block = self.owner[index]
        if block is None:
            self._keep_window(index, _CONTEXT_LINES)
        else:
            self._keep_block(block, [index])

    def _keep_block(self, block: Block, anchors: list[int]) -> None:
        """A relevant block whole; a very long one by its head, all its code when that is short
        (a long docstring is what made it long), else the lines around ``anchors``
        and its own best lines for the query, and its error-raising lines with the message
        above."""
        self.relevant.add(block.name)
        if block.size <= _BLOCK_MAX_LINES:
            self.kept.update(range(block.start, block.end + 1))
            return
        span = range(block.start, block.end + 1)
        self.kept.update(range(block.start, min(block.end, block.signature_end + _HEAD_LINES) + 1))
        code = outside_docstrings(self.code, span)
        if len(code) <= _BLOCK_MAX_LINES:
            self.kept.update(code)
        for anchor in [*anchors, *self._best_lines(self.query, span)]:
            self._keep_window(anchor, _CONTEXT_LINES)
        for index in span:
            if _ERROR_LINE_RE.search(self.code[index]):
                self.kept.update(range(max(block.start, index - _MESSAGE_LINES), index + 1))

    def _keep_window(self, index: int, reach: int) -> None:
        self.kept.update(range(max(0, index - reach), min(len(self.code), index + reach + 1)))

    def elided_runs(self) -> list[tuple[int, int]]:
        """Runs of left-out lines worth a marker (see :func:`elided_runs`)."""
        return elided_runs(self.code, self.kept)

    def render(self, lines: list[str], labels: list[int], runs: list[tuple[int, int]]) -> list[str]:
        """The kept ``lines`` verbatim, one marker per run in its place, at the run's
        indentation, naming the run by its line ``labels``."""
        return render_elided(lines, runs, self._what, labels=labels, indent_from=self.code)

    def _what(self, start: int, end: int) -> str:
        """``body of NAME`` when the run is all of a block's body, else ``part of NAME``."""
        first = next(i for i in range(start, end + 1) if self.code[i].strip())
        block = self.owner[first]
        if block is None:
            return "top-level code"
        body_start = max(block.signature_end, block.doc or 0) + 1
        body_end = block.end - 1 if block.end in self.kept else block.end
        before = range(body_start, start)
        whole = end >= body_end and not any(self.code[i].strip() for i in before)
        return f"{'body' if whole else 'part'} of {block.name}"


def _is_minified(lines: list[str]) -> bool:
    filled = [len(line) for line in lines if line.strip()]
    if not filled:
        return False
    return max(filled) > _MAX_LINE_CHARS or sum(filled) / len(filled) > _MAX_MEAN_LINE_CHARS


def _closing(total: int, dropped: list[int], runs: list[tuple[int, int]], key: str | None) -> str:
    text = (
        f"... [outline of {total} lines: {len(dropped)} lines omitted in {len(runs)} places, "
        "each marked '... [lines A-B omitted: ...]'; every other line is verbatim"
    )
    if key:
        return text + f'; to see omitted lines call headroom_retrieve with key "{key}"]'
    return text + "; ask for a line range to see it]"

