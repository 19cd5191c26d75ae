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
from headroom_core.transforms._json.encoding import (
    Table,
    dump_json,
    extract_tables,
    is_compact_output,
    render_document,
    render_table,
)
from headroom_core.transforms._json.parse import JsonFloat, NotJson, check_depth, parse_json_text
from headroom_core.transforms._json.selection import (
    relevance_scores,
    row_texts,
    select_rows,
)
from headroom_core.transforms._json.stats import anomaly_rows, error_rows, summarize_rows
from headroom_core.transforms.base import Transform

__all__ = ["CrushResult", "SmartCrusher"]

logger = logging.getLogger(__name__)

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
            count = tokenizer.count_text(text)
            return CrushResult(text, data, count, count, "passthrough", [reason])
        if len(text) < self.config.min_tokens_to_crush:  # a token is at least one character
            return self._passthrough(text, data, tokenizer, "below min_tokens_to_crush")
        tokens_before = tokenizer.count_text(text)
        if tokens_before < self.config.min_tokens_to_crush:
            return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                               [f"{tokens_before} tokens, below min_tokens_to_crush"])
        budget = token_budget if token_budget is not None else self.config.token_budget
        outcome = _Crush(self, value, exact_floats, query, tool_name).run(
            tokenizer, tokens_before, len(text), budget
        )
        if outcome.tokens >= tokens_before:
            return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                               ["compact form is not smaller"])
        return CrushResult(
            outcome.text, data, tokens_before, outcome.tokens, outcome.strategy, outcome.reasons,
            outcome.kept, outcome.dropped, outcome.key,
        )

    def _passthrough(self, text: str, data: Any, tokenizer: Tokenizer, reason: str) -> CrushResult:
        count = tokenizer.count_text(text)
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
                value = parse_json_text(data)
            except NotJson as exc:
                return data, None, False, str(exc)
            return data, value, _has_exact_floats(value), ""
        if not isinstance(data, (dict, list)):
            return _dump_parsed(data), None, False, "a JSON scalar has nothing to crush"
        try:
            check_depth(data)
        except NotJson as exc:
            raise TransformError(f"SmartCrusher cannot encode this data: {exc}.") from None
        return _dump_parsed(data), data, _has_exact_floats(data), ""

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


def _has_exact_floats(value: Any) -> bool:
    """Whether any float in ``value`` must keep its source text (iterative walk)."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, JsonFloat):
            return True
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


class _Outcome:
    __slots__ = ("dropped", "kept", "key", "reasons", "strategy", "text", "tokens")

    def __init__(self) -> None:
        self.text = ""
        self.tokens = 0
        self.strategy = "lossless"
        self.reasons: list[str] = []
        self.kept: list[int] = []
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

    def run(self, tokenizer: Tokenizer, tokens_before: int, chars_before: int,
            budget: int | None) -> _Outcome:
        outcome = _Outcome()
        lossless = [
            render_table(table, self._number(i), exact_floats=self.exact)
            for i, table in enumerate(self.tables)
        ]
        outcome.text = self._document(lossless)
        primary = max(range(len(self.tables)), key=lambda i: len(self.tables[i]), default=None)
        if primary is not None:
            outcome.kept = list(range(len(self.tables[primary])))
        outcome.reasons = [f"lossless: {len(self.tables)} tables"] if self.tables else ["minified"]
        if self.config.lossless_only or not self.tables:
            outcome.tokens = tokenizer.count_text(outcome.text)
            return outcome
        if budget is None:
            allowances = [
                self.config.max_items_after_crush if len(t) > self.config.max_items_after_crush
                else None
                for t in self.tables
            ]
        else:
            outcome.tokens = tokenizer.count_text(outcome.text)
            if outcome.tokens <= budget:
                return outcome
            share = budget / outcome.tokens
            allowances = [max(1, int(len(t) * share)) for t in self.tables]
        if all(a is None for a in allowances):
            outcome.tokens = tokenizer.count_text(outcome.text)
            return outcome
        self._lossy(outcome, lossless, allowances, primary)
        outcome.tokens = tokenizer.count_text(outcome.text)
        return outcome

    def _number(self, index: int) -> int | None:
        """A table's number in the output; None for a root table (it needs no reference)."""
        return None if self.skeleton == "<table 1>" else index + 1

    def _document(self, table_texts: Sequence[str]) -> str:
        if not self.tables:
            return dump_json(self.skeleton, self.exact)
        return render_document(self.skeleton, table_texts, exact_floats=self.exact)

    def _lossy(self, outcome: _Outcome, texts: list[str], allowances: Sequence[int | None],
               primary: int | None) -> None:
        reasons: list[str] = []
        for number, (table, allowance) in enumerate(zip(self.tables, allowances, strict=True)):
            if allowance is None or allowance >= len(table):
                continue
            kept, why = self._select(table, allowance)
            if len(kept) >= len(table):
                continue
            kept_set = set(kept)
            dropped = [i for i in range(len(table)) if i not in kept_set]
            key = self._store(table, dropped)
            marker = self._marker(table, dropped, key)
            texts[number] = render_table(
                table, self._number(number), kept, exact_floats=self.exact, marker=marker
            )
            reasons.append(f"{table.path}: kept {len(kept)} of {len(table)} ({why})")
            if number == primary:
                outcome.kept, outcome.dropped, outcome.key = kept, dropped, key
            elif outcome.key is None:
                outcome.key = key
        if reasons:
            outcome.strategy = "lossy"
            outcome.reasons = reasons
            outcome.text = self._document(texts)

    def _select(self, table: Table, allowance: int) -> tuple[list[int], str]:
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
        why = ", ".join(f"{count} {reason}" for reason, count in selection.reasons.items())
        return selection.kept, why

    def _store(self, table: Table, dropped: list[int]) -> str | None:
        try:
            items = [table.items[i] for i in dropped]
            return self.crusher.store().put(items, tool_name=self.tool_name, kind="json")
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
