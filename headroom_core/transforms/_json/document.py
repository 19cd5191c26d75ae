"""One crush of one parsed JSON document: its tables found once, then rendered losslessly or
with rows and very long strings cut down to an allowance.

Without a token budget, tables longer than ``max_items_after_crush`` rows are reduced to about
that many rows (plus every error and anomaly) and strings over :data:`LONG_TEXT_CHARS` are
shortened. With a budget, the lossless form is kept when it fits; otherwise the row allowances
shrink until the output fits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from headroom_core.config import SmartCrusherConfig
from headroom_core.retrieval import InMemoryOriginalsStore, OriginalsStore, SQLOriginalsStore
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms._counting import count_tokens_split
from headroom_core.transforms._json.encoding import (
    LONG_TEXT_CHARS,
    dump_json,
    render_document,
    render_table,
    shorten_strings,
)
from headroom_core.transforms._json.long_text import shorten_text
from headroom_core.transforms._json.selection import (
    query_terms,
    query_words,
    relevance_scores,
    select_rows,
)
from headroom_core.transforms._json.stats import anomaly_rows, error_rows, summarize_rows
from headroom_core.transforms._json.table import Table, extract_tables

__all__ = ["DocumentCrush", "Outcome"]

logger = logging.getLogger(__name__)

MIN_DROP_SHARE = 0.25
"""Without a token budget a table is only reduced when that drops at least this share of it:
a marker and a retrieval round trip are not worth a handful of rows."""


@dataclass
class Outcome:
    """What one crush produced: the text, its tokens, and for the largest top-level table the
    rows kept and dropped and the retrieval key."""

    text: str
    tokens: int
    reasons: list[str]
    kept: list[int]
    strategy: str = "lossless"
    dropped: list[int] = field(default_factory=list)
    key: str | None = None


class DocumentCrush:
    """One crush of one parsed document: tables found once, rendered per row allowance.

    Args:
        value: The parsed JSON (a dict or list), handed over: the objects of its arrays are
            let go as their tables are built.
        config: The crusher's settings.
        query: What the user asked.
        exact_floats: Whether floats must keep their source text (see ``parse``).
        scorer: Returns the relevance scorer (called only when a query needs it).
        store: Returns the originals store, or None when retrieval is off (called only when
            something is dropped).
        tool_name: Stored with dropped items.
    """

    def __init__(
        self,
        value: Any,
        *,
        config: SmartCrusherConfig,
        query: str,
        exact_floats: bool,
        scorer: Callable[[], Any],
        store: Callable[[], OriginalsStore | None],
        tool_name: str | None,
    ) -> None:
        self.config = config
        self.exact = exact_floats
        self.query = query
        self.tool_name = tool_name
        self._scorer = scorer
        self._store = store
        self.skeleton, self.tables = extract_tables(value, release=True)
        top = [t for t in self.tables if t.parent is None]
        self.primary = max(top, key=len) if top else None
        self.terms = query_terms(query)
        self.words = [word for word in query_words(query) if len(word) >= 4]
        self.shortened: dict[str, tuple[str, str | None]] = {}  # text -> (short text, key)
        self._signal_cache: dict[int, tuple[dict[str, set[int]], list[float] | None]] = {}

    def run(self, tokenizer: Tokenizer, budget: int | None) -> Outcome:
        """Lossless when it fits; else reduce the tables over their allowance."""
        config = self.config
        if config.lossless_only or budget is not None:
            outcome = self._render({}, lossy=False)
            outcome.tokens = count_tokens_split(tokenizer, outcome.text)
            if config.lossless_only or budget is None or outcome.tokens <= budget:
                return outcome
            share = 1.0
            for _ in range(4):  # shrink the row allowances until the output fits the budget
                share *= 0.95 * budget / outcome.tokens
                allowances = {t.number: max(1, int(len(t) * share)) for t in self.tables}
                outcome = self._render(allowances, lossy=True)
                outcome.tokens = count_tokens_split(tokenizer, outcome.text)
                if outcome.tokens <= budget or not self.tables:
                    break
            return outcome
        limit = config.max_items_after_crush
        allowances = {t.number: limit for t in self.tables if len(t) > limit}
        outcome = self._render(allowances, lossy=True, min_drop_share=MIN_DROP_SHARE)
        outcome.tokens = count_tokens_split(tokenizer, outcome.text)
        return outcome

    def _render(
        self, allowances: dict[int, int], *, lossy: bool, min_drop_share: float = 0.0
    ) -> Outcome:
        """The document with each table in ``allowances`` reduced to about that many rows
        (unless that would drop less than ``min_drop_share`` of them) and, when ``lossy``,
        very long strings shortened."""
        shorten = self._shorten if lossy else None
        skeleton = shorten_strings(self.skeleton, shorten) if shorten else self.skeleton
        if not self.tables:
            outcome = Outcome(dump_json(skeleton, self.exact), 0, ["minified"], [])
            self._note_shortened(outcome, [])
            return outcome
        features: set[str] = set()
        texts: list[str] = []
        kept_rows: dict[int, set[int] | None] = {}  # None: every row is shown
        reasons: list[str] = []
        primary = self.primary
        outcome = Outcome("", 0, [], [])  # the loop fills in the primary table's rows
        for table in self.tables:
            candidates = self._candidates(table, kept_rows)
            allowance = allowances.get(table.number)
            if allowance is None or allowance >= len(candidates):
                kept = candidates
                marker, key, dropped = "", None, []
            else:
                kept, why = self._select(table, candidates, allowance)
                kept_set = set(kept)
                dropped = [i for i in candidates if i not in kept_set]
                if len(dropped) < min_drop_share * len(candidates):
                    kept, dropped = candidates, []
                key, marker = None, ""
                if dropped:
                    summary = summarize_rows(table, dropped)
                    key = self._put(table.items_at(dropped), kind="json")
                    marker = self._marker(len(dropped), summary, key)
                    reasons.append(f"{table.path}: kept {len(kept)} of {len(table)} ({why})")
            kept_rows[table.number] = None if len(kept) == len(table) else set(kept)
            indices = None if len(kept) == len(table) else kept
            texts.append(render_table(table, indices, exact_floats=self.exact, marker=marker,
                                      features=features, shorten=shorten))
            if table is primary:
                outcome.kept, outcome.dropped = list(kept), dropped
            if key and (table is primary or outcome.key is None):
                outcome.key = key
        outcome.text = render_document(skeleton, texts, features, exact_floats=self.exact)
        outcome.reasons = [f"lossless: {len(self.tables)} table(s)"]
        self._note_shortened(outcome, reasons)
        return outcome

    def _note_shortened(self, outcome: Outcome, reasons: list[str]) -> None:
        """Mark ``outcome`` lossy when rows were dropped or strings shortened, saying why; with
        no rows dropped, the key of a shortened string is the one to report."""
        if self.shortened:
            reasons.append(f"shortened {len(self.shortened)} strings over {LONG_TEXT_CHARS} chars")
            if outcome.key is None:
                outcome.key = next((key for _, key in self.shortened.values() if key), None)
        if reasons:
            outcome.strategy = "lossy"
            outcome.reasons = reasons

    def _shorten(self, text: str) -> str:
        """``text`` shortened, its whole stored for retrieval (once per distinct string)."""
        known = self.shortened.get(text)
        if known is None:
            key = self._put([text], kind="text")
            known = self.shortened[text] = (shorten_text(text, self.terms, self.words, key), key)
        return known[0]

    @staticmethod
    def _candidates(table: Table, kept_rows: dict[int, set[int] | None]) -> Sequence[int]:
        """Rows that may be shown: all, or for a child table those whose parent row is shown."""
        shown = None if table.parent is None else kept_rows[table.parent.number]
        if shown is None:
            return range(len(table))
        return [i for i, parent in enumerate(table.parent_rows) if parent in shown]

    def _signals(self, table: Table) -> tuple[dict[str, set[int]], list[float] | None]:
        """Rows that must stay (errors, anomalies) and query scores, computed once per table
        (a budget may render the document several times)."""
        known = self._signal_cache.get(table.number)
        if known is None:
            scores = None  # first: the column caches the statistics build are not needed here
            if self.query.strip():
                scores = relevance_scores(table, self.query, self._scorer())
            must_keep: dict[str, set[int]] = {}
            if self.config.preserve_errors:
                must_keep["errors"] = error_rows(table)
            must_keep["anomalies"] = anomaly_rows(table, self.config.anomaly_std_threshold)
            known = self._signal_cache[table.number] = (must_keep, scores)
        return known

    def _select(
        self, table: Table, candidates: Sequence[int], allowance: int
    ) -> tuple[list[int], str]:
        must_keep, scores = self._signals(table)
        selection = select_rows(
            len(table),
            allowance=allowance,
            must_keep=must_keep,
            keep_first=self.config.keep_first,
            keep_last=self.config.keep_last,
            scores=scores,
            threshold=self.config.relevance_threshold,
        )
        kept = selection.kept
        if len(candidates) < len(table):
            allowed = set(candidates)
            kept = [i for i in kept if i in allowed]
        why = ", ".join(f"{count} {reason}" for reason, count in selection.reasons.items())
        return kept, why

    def _put(self, items: Sequence[Any], *, kind: str) -> str | None:
        """The key of ``items`` in the store; None when retrieval is off or the store failed.

        The built-in stores read ``items`` a slice at a time; any other store gets a list.
        """
        try:
            store = self._store()
            if store is None:
                return None
            if isinstance(store, (InMemoryOriginalsStore, SQLOriginalsStore)):
                return store.put(items, tool_name=self.tool_name, kind=kind)
            return store.put(list(items), tool_name=self.tool_name, kind=kind)
        except Exception as exc:  # a store that is down costs the key, never the crush
            logger.warning("Could not store dropped items: %s", exc)
            return None

    @staticmethod
    def _marker(dropped: int, summary: str, key: str | None) -> str:
        text = f"[{dropped} more rows not shown"
        if summary:
            text += f"; they have {summary}"
        if key:
            text += f'; call headroom_retrieve with key "{key}" to get them'
        return text + "]"
