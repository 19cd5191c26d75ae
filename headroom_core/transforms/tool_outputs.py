"""ToolOutputCompressor: crush every tool result in a request with the crusher that fits it.

Each output is crushed against the question it serves: the explicit query, else the user message
it answers (the last one before it: in a multi-turn chat an earlier turn's output keeps the
question it was fetched for, so it is crushed the same way, byte for byte, in every later request
and provider prompt caches keep serving it), plus the name and arguments of the tool call that
produced it. What ``headroom_retrieve``
answered passes through: the model asked for exactly those items. Only the content of tool
messages changes (and, when ``compress_user_messages`` is set, outputs the user pasted, and the
retrieved documents the caller names inside a prompt); roles, ids and tool-call pairs stay as
they are.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from headroom_core.config import HeadroomConfig
from headroom_core.errors import HeadroomError
from headroom_core.messages import content_text, last_user_query, tool_call_arguments, with_content
from headroom_core.results import CrushResult, TransformResult
from headroom_core.retrieval import RETRIEVAL_TOOL_NAME
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms._documents import crush_documents
from headroom_core.transforms.base import Transform
from headroom_core.transforms.router import ContentRouter

__all__ = ["ToolOutputCompressor"]

_TOOL_ROLES = frozenset({"tool", "function"})
_PASTED_KINDS = frozenset({"json", "log", "search"})
_RETRIEVED = {"skip_compression": True}


class ToolOutputCompressor(Transform):
    """Compress tool outputs (JSON, logs, search results, text) inside a list of chat messages.

    Args:
        config: The Headroom config (crusher settings, ``compress_user_messages``, and
            ``retrieval``: when ``retrieval.enabled`` is False no dropped item is stored and no
            marker names a key).
        router: The content router to use; one built from ``config`` by default.

    Examples:
        >>> get_logs = {"name": "get_logs", "arguments": "{}"}
        >>> messages = [
        ...     {"role": "user", "content": "Which requests failed?"},
        ...     {"role": "assistant", "content": None,
        ...      "tool_calls": [{"id": "c1", "type": "function", "function": get_logs}]},
        ...     {"role": "tool", "tool_call_id": "c1", "content": log_text},
        ... ]
        >>> result = ToolOutputCompressor().apply(messages)  # doctest: +SKIP
        >>> result.details["by_strategy"]  # doctest: +SKIP
        {'line_crusher': 5120}
    """

    name: ClassVar[str] = "tool_output_compression"

    def __init__(
        self, config: HeadroomConfig | None = None, *, router: ContentRouter | None = None
    ) -> None:
        self.config = config or HeadroomConfig()
        self.router = router or ContentRouter(self.config)

    def apply(
        self,
        messages: Sequence[dict[str, Any]],
        tokenizer: Tokenizer | None = None,
        *,
        query: str | None = None,
        tool_profiles: Mapping[str, Mapping[str, Any]] | None = None,
        token_budget: int | None = None,
        frozen_message_count: int = 0,
        documents: Sequence[str] = (),
        **context: Any,
    ) -> TransformResult:
        """Crush every tool output in ``messages`` (the input list is not changed).

        Args:
            messages: OpenAI-style chat messages.
            tokenizer: Counts tokens; the shared one for ``context["model"]`` by default.
            query: What the user asked; when omitted, each output's own turn's user message
                (the last one before it), and the last user message for documents.
            tool_profiles: Per-tool settings, e.g. ``{"search": {"skip_compression": True},
                "list_rows": {"max_items": 20}}``.
            token_budget: When the crushed request is still over this many tokens, tool outputs
                are crushed again with budgets shared out in proportion to their size.
            frozen_message_count: The first N messages are left as they are.
            documents: Retrieved documents inside the messages (a RAG prompt's context): each
                one found is crushed for the query like a tool output, in place.
            **context: Other pipeline context (``model``...).

        Returns:
            The new messages; ``details["by_strategy"]`` maps each crusher to the tokens it saved,
            ``details["retrieval_keys"]`` lists the keys of stored originals.
        """
        tokenizer = self.resolve_tokenizer(tokenizer, context)
        base_query = query if query is not None else last_user_query(messages)
        turn_queries = _turn_queries(messages) if query is None else {}
        calls = tool_call_arguments(messages)
        profiles = tool_profiles or {}

        def crush_all(budgets: Mapping[int, int]) -> dict[int, CrushResult | HeadroomError]:
            return {
                index: self._crush(
                    messages[index],
                    calls,
                    turn_queries.get(index, base_query),
                    tokenizer,
                    profiles,
                    budgets.get(index),
                )
                for index in self._targets(messages)
                if index >= frozen_message_count
            }

        def crush_document(text: str) -> CrushResult | HeadroomError:
            try:
                return self.router.remembered.route(text, query=base_query, tokenizer=tokenizer)
            except HeadroomError as exc:
                return exc

        results = crush_all({})
        out = _rebuild(messages, results)
        before = tokenizer.count_messages(messages)
        after = tokenizer.count_messages(out) if out != list(messages) else before
        if token_budget is not None and after > token_budget and results:
            results = crush_all(_share_budget(results, after - token_budget))
            out = _rebuild(messages, results)
            after = tokenizer.count_messages(out)
        outcomes = [(f"message {index}", result) for index, result in results.items()]
        if documents:
            out, crushed = crush_documents(
                out, documents, crush_document, start=frozen_message_count
            )
            outcomes += [(f"document {number}", result) for number, result in enumerate(crushed)]
            after = tokenizer.count_messages(out) if crushed else after
        return _summarise(messages, out, outcomes, before, after, self.name)

    def _targets(self, messages: Sequence[Mapping[str, Any]]) -> list[int]:
        """Indices of the messages whose content is a tool output to crush."""
        targets = []
        for index, message in enumerate(messages):
            if not isinstance(message, Mapping) or not isinstance(
                message.get("content"), (str, list)
            ):
                continue
            role = message.get("role")
            if role in _TOOL_ROLES:
                targets.append(index)
            elif role == "user" and self.config.compress_user_messages:
                text = content_text(message)
                if text and self.router.detect(text) in _PASTED_KINDS:
                    targets.append(index)
        return targets

    def _crush(
        self,
        message: Mapping[str, Any],
        calls: Mapping[str, tuple[str, str]],
        base_query: str,
        tokenizer: Tokenizer,
        profiles: Mapping[str, Mapping[str, Any]],
        token_budget: int | None,
    ) -> CrushResult | HeadroomError:
        """Crush one message's text against the query and the call that produced it."""
        tool_name, arguments = calls.get(str(message.get("tool_call_id")), ("", ""))
        tool_name = tool_name or str(message.get("name") or "")
        # what headroom_retrieve answers was asked for item by item: it is never crushed again
        profile = _RETRIEVED if tool_name == RETRIEVAL_TOOL_NAME else profiles.get(tool_name)
        try:
            return self.router.remembered.route(
                content_text(message),
                query=" ".join(
                    part for part in (base_query, tool_name, argument_terms(arguments)) if part
                ),
                tokenizer=tokenizer,
                tool_name=tool_name or None,
                profile=profile,
                token_budget=token_budget,
            )
        except HeadroomError as exc:
            return exc


def argument_terms(arguments: str) -> str:
    """The values of a tool call's JSON arguments as plain words.

    Keys and JSON quoting are left out: crushers read quoted text in a query as a phrase the user
    asked for, and ``{"path": "app.log"}`` must not outweigh the user's own question.
    """
    try:
        parsed = json.loads(arguments)
    except (TypeError, ValueError, RecursionError):
        return arguments.replace('"', " ").strip()
    words: list[str] = []
    pending = [parsed]
    while pending:  # iterative: arguments may nest deeply
        value = pending.pop()
        if isinstance(value, dict):
            pending.extend(reversed(list(value.values())))
        elif isinstance(value, list):
            pending.extend(reversed(value))
        elif value is not None and not isinstance(value, bool):
            words.append(str(value))
    return " ".join(words)


def _turn_queries(messages: Sequence[Mapping[str, Any]]) -> dict[int, str]:
    """For each tool message, the text of the last user message before it (its turn's
    question); tool messages before any user message are left to the default."""
    queries: dict[int, str] = {}
    asked: str | None = None
    for index, message in enumerate(messages):
        role = message.get("role") if isinstance(message, Mapping) else None
        if role == "user":
            asked = content_text(message)
        elif role in _TOOL_ROLES and asked is not None:
            queries[index] = asked
    return queries


def _rebuild(
    messages: Sequence[dict[str, Any]], results: Mapping[int, CrushResult | HeadroomError]
) -> list[dict[str, Any]]:
    out = list(messages)
    for index, result in results.items():
        if isinstance(result, CrushResult) and result.changed:
            out[index] = with_content(messages[index], result.compressed)
    return out


def _share_budget(
    results: Mapping[int, CrushResult | HeadroomError], excess: int
) -> dict[int, int]:
    """Per-output budgets removing ``excess`` tokens in proportion to each output's size."""
    sizes = {index: r.tokens_after for index, r in results.items() if isinstance(r, CrushResult)}
    total = sum(sizes.values()) or 1
    return {index: max(1, size - -(-excess * size // total)) for index, size in sizes.items()}


def _summarise(
    messages: Sequence[dict[str, Any]],
    out: list[dict[str, Any]],
    outcomes: Sequence[tuple[str, CrushResult | HeadroomError]],
    before: int,
    after: int,
    name: str,
) -> TransformResult:
    by_strategy: dict[str, int] = {}
    keys: list[str] = []
    warnings: list[str] = []
    for label, result in outcomes:
        if isinstance(result, HeadroomError):
            warnings.append(f"{label} left as it was: {result.message}")
            continue
        if result.changed:
            by_strategy[result.strategy] = by_strategy.get(result.strategy, 0) + result.tokens_saved
        if result.retrieval_key:
            keys.append(result.retrieval_key)
    changed = sum(1 for old, new in zip(messages, out, strict=True) if old is not new)
    return TransformResult(
        messages=out,
        tokens_before=before,
        tokens_after=after,
        transforms_applied=[name] if changed else [],
        description=f"changed {changed} messages ({len(outcomes)} outputs and documents)",
        details={"by_strategy": by_strategy, "retrieval_keys": keys},
        warnings=warnings,
    )
