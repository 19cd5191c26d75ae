"""SmartCrusher: compress JSON tool outputs, losslessly first, lossily only when still too big.

Lossless: minified JSON where arrays of objects become compact tables (see
:mod:`headroom_core.transforms._json.encoding`); every value keeps its exact text.

Lossy (only for tables over the budget): rows are chosen by
:mod:`~headroom_core.transforms._json.selection` (errors, anomalies, first/last, query matches);
a one-line marker says how many rows were left out, their value ranges and the key under which
the dropped items can be fetched back (``headroom_retrieve``).

Budget: ``token_budget`` (argument, else the config) caps the output; without one, tables longer
than ``max_items_after_crush`` rows are reduced to that many rows plus every error and anomaly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import Any

from headroom_core.config import SmartCrusherConfig
from headroom_core.errors import TransformError
from headroom_core.messages import content_text, last_user_query, tool_call_arguments, with_content
from headroom_core.relevance import create_scorer
from headroom_core.results import CrushResult, TransformResult
from headroom_core.retrieval import default_originals_store
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._json.counting import (
    BackgroundCount,
    count_tokens,
    count_tokens_split,
)
from headroom_core.transforms._json.encoding import (
    LONG_TEXT_CHARS,
    Table,
    dump_json,
    extract_tables,
    is_compact_output,
    render_document,
    render_table,
    shorten_strings,
)
from headroom_core.transforms._json.long_text import shorten_text
from headroom_core.transforms._json.parse import NotJson, parse_json_text
from headroom_core.transforms._json.selection import (
    query_terms,
    query_words,
    relevance_scores,
    row_texts,
    select_rows,
)
from headroom_core.transforms._json.stats import anomaly_rows, error_rows, summarize_rows
from headroom_core.transforms.base import Transform

__all__ = ["CrushResult", "SmartCrusher"]

logger = logging.getLogger(__name__)

MIN_DROP_SHARE = 0.25
"""Without a token budget a table is only reduced when that drops at least this share of it:
a marker and a retrieval round trip are not worth a handful of rows."""

MAX_INPUT_CHARS = 4_000_000
"""Larger inputs are refused (TransformError): counting them alone would exceed a second."""


class SmartCrusher(Transform):
    """Compress JSON tool outputs so what the question needs survives.

    Args:
        config: Thresholds and budget; defaults to :class:`SmartCrusherConfig`.
        scorer: A relevance scorer (``score_items(items, query)``); BM25 by default.
        store: Where dropped items go (``put``/``get``); the process-wide originals store by
            default. When it is unavailable the marker simply has no retrieval key.

    Example:
        >>> crusher = SmartCrusher()
        >>> result = crusher.crush(data={"results": [...]}, query="failed payments")
        >>> result.strategy, result.tokens_saved  # doctest: +SKIP
        ('lossless', 812)
    """

    name = "smart_crusher"

    def __init__(
        self,
        config: SmartCrusherConfig | None = None,
        *,
        scorer: Any | None = None,
        store: Any | None = None,
    ) -> None:
        self.config = config if config is not None else SmartCrusherConfig()
        self._scorer = scorer
        self._store = store

    # -- one output -------------------------------------------------------------------------

    def crush(
        self,
        data: Any = None,
        query: str = "",
        *,
        tokenizer: Tokenizer | None = None,
        token_budget: int | None = None,
        tool_name: str | None = None,
    ) -> CrushResult:
        """Compress one tool output.

        Args:
            data: A JSON string (or UTF-8 bytes) or already-parsed JSON (dicts, lists, scalars).
            query: What the user asked; rows matching it survive lossy selection.
            tokenizer: Counts tokens before and after (gpt-4o's when omitted).
            token_budget: Target size in tokens; overrides ``config.token_budget``.
            tool_name: The tool that produced the output, stored with dropped items.

        Returns:
            A :class:`CrushResult`; ``strategy`` is ``"passthrough"`` (with the reason),
            ``"lossless"`` or ``"lossy"``.

        Raises:
            TransformError: The input is bytes that are not UTF-8, parsed data that is not JSON,
                or larger than :data:`MAX_INPUT_CHARS`.
        """
        tokenizer = tokenizer if tokenizer is not None else get_tokenizer("gpt-4o")
        text, value, exact_floats, reason = self._load(data)
        if value is None:
            return self._passthrough(text, data, tokenizer, reason)
        if len(text) < self.config.min_tokens_to_crush:  # a token is at least one character
            return self._passthrough(text, data, tokenizer, "below min_tokens_to_crush")
        counting = BackgroundCount(tokenizer, text)  # runs while the document is crushed
        budget = token_budget if token_budget is not None else self.config.token_budget
        try:
            crush = _Crush(self, value, exact_floats, query, tool_name)
            tokens_before = counting.result()
            if tokens_before < self.config.min_tokens_to_crush:
                return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                                   [f"{tokens_before} tokens, below min_tokens_to_crush"])
            outcome = crush.run(tokenizer, budget)
        except RecursionError:
            tokens_before = counting.result()
            return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                               ["JSON nested too deeply to encode"])
        if outcome.tokens >= tokens_before:
            return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                               ["compact form is not smaller"])
        return CrushResult(
            outcome.text, data, tokens_before, outcome.tokens, outcome.strategy, outcome.reasons,
            outcome.kept, outcome.dropped, outcome.key,
        )

    def _passthrough(self, text: str, data: Any, tokenizer: Tokenizer, reason: str) -> CrushResult:
        count = count_tokens(tokenizer, text)
        return CrushResult(text, data, count, count, "passthrough", [reason])

    @staticmethod
    def _load(data: Any) -> tuple[str, Any, bool, str]:
        """``(text, parsed value or None, exact_floats, reason)`` for any input."""
        if isinstance(data, (bytes, bytearray)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TransformError(
                    "SmartCrusher got bytes that are not UTF-8 text.",
                    details={"position": exc.start, "size": len(data)},
                ) from None
        if isinstance(data, str):
            if len(data) > MAX_INPUT_CHARS:
                raise TransformError(
                    f"Tool output of {len(data)} characters exceeds the SmartCrusher limit of "
                    f"{MAX_INPUT_CHARS}; send it through a truncating step first.",
                    details={"size": len(data), "limit": MAX_INPUT_CHARS},
                )
            if is_compact_output(data):
                return data, None, False, "already in compact form"
            try:
                value, exact_floats = parse_json_text(data)
            except NotJson as exc:
                return data, None, False, str(exc)
            return data, value, exact_floats, ""
        if not isinstance(data, (dict, list)):
            return _dump_parsed(data), None, False, "a JSON scalar has nothing to crush"
        return _dump_parsed(data), data, False, ""

    # -- messages ---------------------------------------------------------------------------

    def apply(
        self,
        messages: Sequence[dict[str, Any]],
        tokenizer: Tokenizer | None = None,
        **context: Any,
    ) -> TransformResult:
        """Crush the JSON content of every tool message.

        The query is ``context["query"]``, else the last user message; the arguments of the tool
        call that produced an output are added to it. Outputs that cannot be crushed stay as they
        are (with a warning when the input was bad).
        """
        tokenizer = self.resolve_tokenizer(tokenizer, context)
        base_query = context.get("query") or last_user_query(messages)
        calls = tool_call_arguments(messages)
        out: list[dict[str, Any]] = []
        warnings: list[str] = []
        strategies: dict[str, int] = {}
        keys: list[str] = []
        for index, message in enumerate(messages):
            if message.get("role") != "tool" or message.get("content") is None:
                out.append(message)
                continue
            tool_name, arguments = calls.get(str(message.get("tool_call_id")), ("", ""))
            try:
                result = self.crush(
                    content_text(message), f"{base_query} {arguments}".strip(),
                    tokenizer=tokenizer, tool_name=tool_name or message.get("name"),
                )
            except TransformError as exc:
                warnings.append(f"message {index}: {exc.message}")
                out.append(message)
                continue
            if not result.changed:
                out.append(message)
                continue
            out.append(with_content(message, result.compressed))
            strategies[result.strategy] = strategies.get(result.strategy, 0) + result.tokens_saved
            if result.retrieval_key:
                keys.append(result.retrieval_key)
        before = tokenizer.count_messages(messages)
        after = tokenizer.count_messages(out) if strategies else before
        return TransformResult(
            messages=out,
            tokens_before=before,
            tokens_after=after,
            transforms_applied=[self.name] if strategies else [],
            description=f"crushed {sum(1 for m in out if m not in messages)} tool outputs",
            details={"by_strategy": strategies, "retrieval_keys": keys},
            warnings=warnings,
        )

    # -- collaborators ----------------------------------------------------------------------

    def scorer(self) -> Any:
        """The relevance scorer (BM25 unless one was given), created on first use."""
        if self._scorer is None:
            self._scorer = create_scorer("bm25")
        return self._scorer

    def store(self) -> Any:
        """The originals store for dropped items (the process-wide one unless one was given)."""
        if self._store is None:
            self._store = default_originals_store()
        return self._store


def _dump_parsed(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TransformError(f"SmartCrusher got data that is not JSON: {exc}.") from None
    except RecursionError:
        raise TransformError("SmartCrusher got data nested too deeply to encode.") from None


class _Outcome:
    """What one crush produced (before it becomes a :class:`CrushResult`)."""

    __slots__ = ("dropped", "kept", "key", "reasons", "strategy", "text", "tokens")

    def __init__(self, text: str, tokens: int, reasons: list[str], kept: list[int]) -> None:
        self.text = text
        self.tokens = tokens
        self.strategy = "lossless"
        self.reasons = reasons
        self.kept = kept
        self.dropped: list[int] = []
        self.key: str | None = None


class _Crush:
    """One crush of one parsed document: tables found once, rendered per row allowance."""

    def __init__(self, crusher: SmartCrusher, value: Any, exact: bool, query: str,
                 tool_name: str | None) -> None:
        self.crusher = crusher
        self.config = crusher.config
        self.exact = exact
        self.query = query
        self.tool_name = tool_name
        self.skeleton, self.tables = extract_tables(value)
        top = [t for t in self.tables if t.parent is None]
        self.primary = max(top, key=len) if top else None
        self.terms = query_terms(query)
        self.words = [word for word in query_words(query) if len(word) >= 4]
        self.shortened: dict[str, str] = {}

    def run(self, tokenizer: Tokenizer, budget: int | None) -> _Outcome:
        """Lossless when it fits; else reduce the tables over their allowance."""
        config = self.config
        if config.lossless_only or budget is not None:
            outcome = self._render({}, lossy=False)
            outcome.tokens = count_tokens_split(tokenizer, outcome.text)
            if config.lossless_only or outcome.tokens <= budget:
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
    ) -> _Outcome:
        """The document with each table in ``allowances`` reduced to about that many rows
        (unless that would drop less than ``min_drop_share`` of them) and, when ``lossy``,
        very long strings shortened."""
        shorten = self._shorten if lossy else None
        skeleton = shorten_strings(self.skeleton, shorten) if shorten else self.skeleton
        if not self.tables:
            outcome = _Outcome(dump_json(skeleton, self.exact), 0, ["minified"], [])
            self._note_shortened(outcome, [])
            return outcome
        features: set[str] = set()
        texts: list[str] = []
        kept_rows: dict[int, set[int]] = {}
        reasons: list[str] = []
        primary = self.primary
        outcome = _Outcome("", 0, [], list(range(len(primary))) if primary else [])
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
                items = [table.items[i] for i in dropped]
                key = self._put(items, kind="json") if dropped else None
                marker = self._marker(table, dropped, key) if dropped else ""
                if dropped:
                    reasons.append(f"{table.path}: kept {len(kept)} of {len(table)} ({why})")
            kept_rows[table.number] = set(kept)
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

    def _note_shortened(self, outcome: _Outcome, reasons: list[str]) -> None:
        """Mark ``outcome`` lossy when rows were dropped or strings shortened, saying why."""
        if self.shortened:
            reasons.append(f"shortened {len(self.shortened)} strings over {LONG_TEXT_CHARS} chars")
        if reasons:
            outcome.strategy = "lossy"
            outcome.reasons = reasons

    def _shorten(self, text: str) -> str:
        """``text`` shortened, its whole stored for retrieval (once per distinct string)."""
        short = self.shortened.get(text)
        if short is None:
            key = self._put([text], kind="text")
            short = self.shortened[text] = shorten_text(text, self.terms, self.words, key)
        return short

    @staticmethod
    def _candidates(table: Table, kept_rows: dict[int, set[int]]) -> list[int]:
        """Rows that may be shown: all, or for a child table those whose parent row is shown."""
        if table.parent is None or len(kept_rows[table.parent.number]) == len(table.parent):
            return list(range(len(table)))
        shown = kept_rows[table.parent.number]
        return [i for i, parent in enumerate(table.parent_rows) if parent in shown]

    def _select(self, table: Table, candidates: list[int], allowance: int) -> tuple[list[int], str]:
        must_keep: dict[str, set[int]] = {}
        if self.config.preserve_errors:
            must_keep["errors"] = error_rows(table)
        must_keep["anomalies"] = anomaly_rows(table, self.config.anomaly_std_threshold)
        scores = None
        if self.query.strip():
            scores = relevance_scores(row_texts(table), self.query, self.crusher.scorer())
        selection = select_rows(
            len(table),
            allowance=allowance,
            must_keep=must_keep,
            keep_first=self.config.keep_first,
            keep_last=self.config.keep_last,
            scores=scores,
            threshold=self.config.relevance_threshold,
        )
        allowed = set(candidates)
        kept = [i for i in selection.kept if i in allowed]
        why = ", ".join(f"{count} {reason}" for reason, count in selection.reasons.items())
        return kept, why

    def _put(self, items: list[Any], *, kind: str) -> str | None:
        try:
            return self.crusher.store().put(items, tool_name=self.tool_name, kind=kind)
        except Exception as exc:  # a store that is down costs the key, never the crush
            logger.warning("Could not store dropped items: %s", exc)
            return None

    @staticmethod
    def _marker(table: Table, dropped: list[int], key: str | None) -> str:
        summary = summarize_rows(table, dropped)
        text = f"[{len(dropped)} more rows not shown"
        if summary:
            text += f"; they have {summary}"
        if key:
            text += f'; call headroom_retrieve with key "{key}" to get them'
        return text + "]"
