"""Importance-scored context fitting: keep what the next reply is most likely to need."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

import numpy as np

from headroom_core._textmemo import BoundedMemo, text_key
from headroom_core.config import IntelligentContextConfig
from headroom_core.errors import ContextOverflowError
from headroom_core.messages import (
    content_text,
    last_user_query,
    tool_call_arguments,
    validate_messages,
    with_content,
)
from headroom_core.relevance import BM25Scorer, RelevanceScorer
from headroom_core.results import TransformResult
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms._task_fitting import Exchange, Lowered, TaskFit, TaskFitter
from headroom_core.transforms._turn_features import Piece, TurnFeatures, turn_features
from headroom_core.transforms._units import (
    Conversation,
    Option,
    Turn,
    assemble,
    keep_within_budget,
    split_conversation,
)
from headroom_core.transforms.base import Transform
from headroom_core.transforms.toin import ToolImportanceLearner

if TYPE_CHECKING:
    from headroom_core.transforms.router import ContentRouter

__all__ = ["IntelligentContextManager"]

logger = logging.getLogger(__name__)

# How much a kind of unit is worth on its own: user text carries intent, replies the model's
# conclusions, raw tool output is the easiest to re-fetch.
_ROLE_VALUE = {"user": 0.8, "reply": 0.5, "tool": 0.4}
_SHARED_TERMS_FOR_FULL_SCORE = 3
LOWERED_EXCHANGES = 4096  # exchanges of agent runs whose lowered form later steps send again


class _Item(NamedTuple):
    """A droppable piece of a turn at its positions in the request."""

    positions: tuple[int, ...]
    requires: tuple[int, ...]
    piece: Piece


class _Fitted(NamedTuple):
    """One fitting of a request: the messages, their tokens, what was done."""

    messages: list[dict[str, Any]]
    tokens: int
    details: dict[str, Any]
    task: TaskFit | None = None

    @property
    def over_budget(self) -> bool:
        return bool(self.details["over_budget"])


class IntelligentContextManager(Transform):
    """Fit a request into the model's window, dropping the least important material first.

    Keeps ``output_buffer_tokens`` free for the reply, the system prompt (``keep_system``) and the
    last ``keep_last_turns`` turns. Everything else is split into pieces (each tool exchange; each
    turn's own user message and replies) scored by the weighted sum of
    :class:`~headroom_core.config.ScoringWeights`: recency, BM25 relevance to the current query,
    role, tool value (from a :class:`ToolImportanceLearner`), error content, and forward reference
    (later messages repeat its ids and values); a signal with zero weight is not computed. Pieces
    are kept most important first while they fit, passing over any too big for the room left. A
    tool exchange is kept only with its turn's user message, so the result stays valid for OpenAI
    and Anthropic. With ``compress_before_drop`` tool results are first crushed by the content
    router, least important first, until the request fits. A system note after the system prompt
    says what was dropped.

    An agent task is one user message followed by many tool exchanges, so its turn alone can
    exceed the window. Then the task's own exchanges give way, least important first, while the
    newest ``keep_last_tool_exchanges`` stay: each is crushed harder from its original output,
    then replaced by a stub that keeps its ``tool_call_id``, names the tool, the output's size and
    kind, repeats its problem lines and gives the retrieval key; then its call loses the
    assistant's text. Each batch leaves room for a few more steps, and what an exchange was
    lowered to is remembered, so the next steps of the run send it byte for byte again (provider
    prompt caches keep hitting). Only when that is not enough are the kept exchanges lowered
    too, and finally the newest output is crushed to the room left; if the last turns still
    cannot fit, the turns before the last one give way first.

    What is known about each turn (token counts, identifier-like terms, each piece's text head and
    error flag) is remembered by the turn's content in a bounded per-process memo, and BM25
    remembers the term counts of long texts, so re-fitting a conversation that grew by one turn
    computes features for the new turn only; scoring is then vectorised arithmetic.

    When the kept minimum alone exceeds the budget: ``on_overflow="raise"`` raises
    :class:`~headroom_core.errors.ContextOverflowError` (a ``TransformError``) naming the sizes;
    ``"best_effort"`` returns the minimum with ``details["over_budget"] = True``.

    Args:
        config: Budget and scoring; defaults to :class:`IntelligentContextConfig`.
        toin: Learner of which tools' outputs the model uses; used when ``config.toin_integration``.
        scorer: Relevance of a piece to the query; BM25 by default (see ``create_scorer``).
        router: Tool-output crusher with ``route(text, query=..., tokenizer=..., tool_name=...)``;
            by default a :class:`~headroom_core.transforms.router.ContentRouter` with the default
            config. Pass the caller's router so its retrieval settings apply; the keys of the
            originals it stores are listed in ``details["retrieval_keys"]``.

    Examples:
        >>> manager = IntelligentContextManager(IntelligentContextConfig(output_buffer_tokens=0))
        >>> messages = [{"role": "system", "content": "Be brief."}]
        >>> for n in range(6):
        ...     messages += [{"role": "user", "content": f"Question {n}: " + "tell me more. " * 20},
        ...                  {"role": "assistant", "content": f"Answer {n}: " + "more. " * 20}]
        >>> result = manager.apply(messages, model_limit=400)
        >>> result.tokens_after <= 400, result.messages[0] == messages[0]
        (True, True)
        >>> result.messages[-1] == messages[-1]
        True
    """

    name: ClassVar[str] = "intelligent_context"

    def __init__(
        self,
        config: IntelligentContextConfig | None = None,
        toin: ToolImportanceLearner | None = None,
        *,
        scorer: RelevanceScorer | None = None,
        router: ContentRouter | None = None,
    ) -> None:
        self.config = config or IntelligentContextConfig()
        self.toin = toin
        self._scorer = scorer or BM25Scorer()
        self._router = router
        self._lowered: BoundedMemo[Lowered] = BoundedMemo(maxsize=LOWERED_EXCHANGES)

    def apply(
        self,
        messages: Sequence[dict[str, Any]],
        tokenizer: Tokenizer | None = None,
        model_limit: int | None = None,
        **context: Any,
    ) -> TransformResult:
        """Fit ``messages`` into ``model_limit`` minus the output buffer.

        ``model_limit`` defaults to the context window of ``context["model"]``; ``context["query"]``
        overrides the last user message as the query; ``context["output_buffer_tokens"]`` overrides
        the config's buffer.
        """
        messages = validate_messages(messages)
        tokenizer = self.resolve_tokenizer(tokenizer, context)
        limit = model_limit if model_limit is not None else _model_limit(context)
        buffer = context.get("output_buffer_tokens")
        buffer = self.config.output_buffer_tokens if buffer is None else int(buffer)
        budget = limit - buffer
        tokens_before = tokenizer.count_messages(messages)
        details: dict[str, Any] = {
            "budget": budget,
            "model_limit": limit,
            "dropped_messages": 0,
            "dropped_turns": 0,
            "compressed": [],
            "retrieval_keys": [],
            "lowered": [],
            "over_budget": False,
        }
        if not self.config.enabled or tokens_before <= budget:
            return TransformResult(list(messages), tokens_before, tokens_before, details=details)

        query = context.get("query") or last_user_query(messages)
        keep = self.config.keep_last_turns
        fitted = self._fit(messages, keep, budget, tokens_before, query, tokenizer, context)
        if fitted.over_budget and keep > 1:
            # the last turn may be a long agent task: the turns before it give way first
            keep = 1
            fitted = self._fit(messages, keep, budget, tokens_before, query, tokenizer, context)
        details.update(fitted.details)
        tokens_after = fitted.tokens
        if fitted.over_budget and self.config.on_overflow == "raise":
            kept_part = (
                "the system prompt, the task's user message, its newest tool output crushed as "
                "far as it goes and stubs of the earlier ones"
                if fitted.task is not None
                else "the system prompt and the last turn"
                if keep == 1
                else f"the system prompt and the last {keep} turns"
            )
            fix = "keep_last_tool_exchanges" if fitted.task is not None else "keep_last_turns"
            raise ContextOverflowError(
                f"The request cannot fit: the kept minimum ({kept_part}) is "
                f"{tokens_after:,} tokens, the budget is {budget:,} (model_limit {limit:,} minus "
                f"{buffer:,} output buffer). Lower {fix} or output_buffer_tokens, or use a model "
                "with a larger window.",
                details={
                    "minimum_tokens": tokens_after,
                    "budget": budget,
                    "model_limit": limit,
                    "output_buffer_tokens": buffer,
                },
            )
        dropped = details["dropped_messages"]
        changed = bool(dropped or details["compressed"] or details["lowered"])
        return TransformResult(
            messages=fitted.messages,
            tokens_before=tokens_before,
            tokens_after=tokens_after,
            transforms_applied=[self.name] if changed else [],
            description=(
                f"dropped {dropped} message(s), compressed {len(details['compressed'])} and "
                f"lowered {len(details['lowered'])} tool message(s)"
                if changed
                else "nothing droppable"
            ),
            details=details,
            warnings=[f"intelligent_context: {tokens_after} tokens exceed the budget of {budget}"]
            if fitted.over_budget
            else [],
        )

    def _fit(
        self,
        messages: list[dict[str, Any]],
        keep: int,
        budget: int,
        tokens_before: int,
        query: str,
        tokenizer: Tokenizer,
        context: Mapping[str, Any],
    ) -> _Fitted:
        """Drop whole turns but the last ``keep`` (least important first), then lower the older
        tool exchanges of the kept turns when that is not enough."""
        conversation = split_conversation(messages)
        free_turns = conversation.turns[:-keep] if len(conversation.turns) > keep else []
        features = _features(messages, conversation, tokenizer)
        frozen = int(context.get("frozen_message_count") or 0)
        # pieces within the frozen prefix are never dropped, compressed or lowered
        items = _items(free_turns, features, frozen)
        order = self._drop_order(messages, items, features, query)  # least important first

        working = list(messages)
        total = tokens_before
        tokens = [tokenizer.count_message(messages[unit.start]) for unit in conversation.system]
        tokens += [count for turn in features for count in turn.tokens]
        details: dict[str, Any] = {"compressed": [], "retrieval_keys": [], "lowered": []}
        if self.config.compress_before_drop:
            details["compressed"], total = self._compress(
                working, items, order, conversation, budget, total, query, tokenizer, keep, frozen
            )
            details["retrieval_keys"] = [
                change["retrieval_key"]
                for change in details["compressed"]
                if change["retrieval_key"]
            ]
            for change in details["compressed"]:
                tokens[change["index"]] = tokenizer.count_message(working[change["index"]])
        protected = conversation.turns[len(free_turns) :]
        fixed = [p for turn in protected for p in turn.indices]
        fixed += [p for p in range(min(frozen, len(messages))) if p not in fixed]
        options = [Option(items[i].positions, items[i].requires) for i in reversed(order)]
        if self.config.keep_system:
            fixed += conversation.system_indices
        else:
            options.append(Option(conversation.system_indices))
        fit = keep_within_budget(
            working,
            conversation,
            budget,
            tokenizer,
            fixed=fixed,
            options=options,
            total=total,
            skip_misfits=True,
            message_tokens=tokens,
        )
        kept = assemble(working, conversation, fit.dropped, fit.marker, frozen)
        details.update(fit.details(budget))
        if not details["over_budget"]:
            return _Fitted(kept, fit.tokens, details)
        task = self._fit_task(
            kept,
            messages,
            protected,
            items=[*items, *_items(protected, features[len(free_turns) :], frozen)],
            frozen=frozen,
            features=features,
            budget=budget,
            keep_exchanges=int(
                context.get("keep_last_tool_exchanges") or self.config.keep_last_tool_exchanges
            ),
            query=query,
            tokenizer=tokenizer,
            originals=context.get("original_outputs") or {},
        )
        if task is None:
            return _Fitted(kept, fit.tokens, details)
        details["over_budget"] = task.tokens > budget
        details["task_fit"] = {**task.levels, "reserve_tokens": task.reserve}
        details["lowered"] = task.changed
        details["retrieval_keys"] += [
            key for key in task.retrieval_keys if key not in details["retrieval_keys"]
        ]
        return _Fitted(task.messages, task.tokens, details, task)

    def _fit_task(
        self,
        kept: list[dict[str, Any]],
        messages: Sequence[dict[str, Any]],
        protected: Sequence[Turn],
        *,
        items: list[_Item],
        features: list[TurnFeatures],
        budget: int,
        keep_exchanges: int,
        query: str,
        tokenizer: Tokenizer,
        originals: Mapping[str, str],
        frozen: int = 0,
    ) -> TaskFit | None:
        """Lower the tool exchanges of the kept turns but the newest ``keep_exchanges``, least
        important first, then the newest ones; None when the kept turns hold no tool exchange.

        ``kept`` is the turn-level fit of ``messages``: the kept turns sit at its end.
        """
        units = [
            unit
            for turn in protected
            for unit in turn.units
            if unit.kind == "tool" and unit.start >= frozen
        ]
        if not units:
            return None
        shift = len(kept) - len(messages)
        exchanges = {
            unit.start: Exchange(
                unit.start + shift,
                tuple(p + shift for p in unit.indices if messages[p].get("role") == "tool"),
            )
            for unit in units
        }
        older = {unit.start for unit in units[: max(0, len(units) - keep_exchanges)]}
        pieces = [item for item in items if item.positions[0] in older]
        candidates = [
            exchanges[pieces[i].positions[0]]
            for i in self._drop_order(messages, pieces, features, query)
        ]
        task_start = protected[-1].start
        return TaskFitter(self._content_router(), self._lowered).fit(
            kept,
            candidates=candidates,
            kept=[exchanges[unit.start] for unit in units[-keep_exchanges:]],
            budget=budget,
            tokenizer=tokenizer,
            query=query,
            task_key=text_key(content_text(messages[task_start])),
            originals=originals,
        )

    def _drop_order(
        self,
        messages: Sequence[Mapping[str, Any]],
        items: list[_Item],
        features: list[TurnFeatures],
        query: str,
    ) -> list[int]:
        """Item positions, least important first (oldest first without importance scoring)."""
        if not self.config.use_importance_scoring:
            return sorted(range(len(items)), key=lambda i: items[i].positions[0])
        scores = self._scores(messages, items, features, query)
        firsts = np.array([item.positions[0] for item in items])
        return np.lexsort((firsts, scores)).tolist()

    def _scores(
        self,
        messages: Sequence[Mapping[str, Any]],
        items: list[_Item],
        features: list[TurnFeatures],
        query: str,
    ) -> np.ndarray:
        """Weighted importance of each item, in [0, 1]."""
        weights = self.config.scoring_weights
        # a signal with no weight is not computed: relevance and references are the costly ones
        relevance = (
            np.clip(
                np.nan_to_num(
                    self._scorer.score_items([item.piece.relevance_text for item in items], query)
                ),
                0.0,
                1.0,
            )
            if query and weights.relevance > 0
            else np.zeros(len(items))
        )
        forward = (
            _forward_references(len(items), features)
            if weights.forward_reference > 0
            else [0] * len(items)
        )
        stops = np.array([item.positions[-1] + 1 for item in items], dtype=np.float64)
        roles = [_ROLE_VALUE.get(item.piece.kind, 0.5) for item in items]
        errors = np.array([item.piece.has_error for item in items], dtype=np.float64)
        # summed in the order of the weights, as one float expression per item would be
        return (
            weights.recency * (stops / max(1, len(messages)))
            + weights.relevance * relevance
            + weights.role * np.array(roles)
            + weights.tool_value * np.array([self._tool_value(item) for item in items])
            + weights.error * errors
            + weights.forward_reference
            * np.minimum(1.0, np.array(forward) / _SHARED_TERMS_FOR_FULL_SCORE)
        )

    def _tool_value(self, item: _Item) -> float:
        names = item.piece.tool_names
        if not names or self.toin is None or not self.config.toin_integration:
            return 0.5
        return sum(self.toin.importance(name) for name in names) / len(names)

    def _compress(
        self,
        working: list[dict[str, Any]],
        items: list[_Item],
        order: list[int],
        conversation: Conversation,
        budget: int,
        total: int,
        query: str,
        tokenizer: Tokenizer,
        keep: int,
        frozen: int = 0,
    ) -> tuple[list[dict[str, Any]], int]:
        """Crush tool results, least important first, until the request fits (the last
        ``keep`` turns' too).

        Edits ``working`` in place; returns what was compressed and the new total.
        """
        protected_turns = conversation.turns[max(0, len(conversation.turns) - keep) :]
        positions = [p for i in order if items[i].requires for p in items[i].positions]
        positions += [
            p
            for turn in protected_turns
            for unit in turn.units
            if unit.kind == "tool"
            for p in unit.indices
        ]
        positions = [p for p in positions if working[p].get("role") == "tool" and p >= frozen]
        router = self._content_router() if positions and total > budget else None
        if router is None:
            return [], total
        names = tool_call_arguments(working)
        compressed = []
        for position in positions:
            if total <= budget:
                break
            message = working[position]
            tool_name = names.get(str(message.get("tool_call_id")), ("", ""))[0] or None
            try:
                crushed = router.remembered.route(
                    content_text(message), query=query, tokenizer=tokenizer, tool_name=tool_name
                )
            except Exception as exc:  # a crusher failure costs this compression, never the fit
                logger.warning(
                    "Could not compress tool result %d before dropping: %r", position, exc
                )
                continue
            if not crushed.changed or crushed.tokens_saved <= 0:
                continue
            working[position] = with_content(message, crushed.compressed)
            saved = tokenizer.count_message(message) - tokenizer.count_message(working[position])
            total -= saved
            compressed.append(
                {
                    "index": position,
                    "strategy": crushed.strategy,
                    "tokens_saved": saved,
                    "retrieval_key": crushed.retrieval_key,
                }
            )
        return compressed, total

    def _content_router(self) -> ContentRouter:
        if self._router is None:
            from headroom_core.transforms.router import ContentRouter

            self._router = ContentRouter()
        return self._router


def _model_limit(context: Mapping[str, Any]) -> int:
    if context.get("model_limit") is not None:
        return int(context["model_limit"])
    from headroom_core.providers import provider_for_model

    model = context.get("model") or "gpt-4o"
    return provider_for_model(model).get_context_limit(model)


def _features(
    messages: Sequence[Mapping[str, Any]], conversation: Conversation, tokenizer: Tokenizer
) -> list[TurnFeatures]:
    """Features of every turn: remembered by content, unless turns share tool-call ids.

    A piece's tool names and arguments come from the call with its id, the last one made in the
    whole request; only where no id is made in two turns is that always the turn's own call.
    """
    features = [turn_features(messages, turn, tokenizer) for turn in conversation.turns]
    calls = sum(len(turn.call_ids) for turn in features)
    system_stop = conversation.system[-1].stop if conversation.system else 0
    if calls == len(frozenset().union(*(turn.call_ids for turn in features))) and not any(
        messages[p].get("tool_calls") for p in range(system_stop)
    ):
        return features
    names = tool_call_arguments(messages)
    return [turn_features(messages, turn, tokenizer, names) for turn in conversation.turns]


def _items(
    turns: Sequence[Turn], features: Sequence[TurnFeatures], frozen: int = 0
) -> list[_Item]:
    """The droppable pieces of ``turns`` at their positions, none within the first ``frozen``
    messages."""
    items = []
    for turn, known in zip(turns, features, strict=False):
        shift = turn.start.__add__
        for piece in known.pieces:
            positions = tuple(map(shift, piece.positions))
            if min(positions) >= frozen:
                items.append(_Item(positions, tuple(map(shift, piece.requires)), piece))
    return items


def _forward_references(items: int, features: Sequence[TurnFeatures]) -> list[int]:
    """For each of the first ``items`` pieces (turn by turn), how many of its identifier-like
    terms messages after it repeat: later in its turn, or in any later turn."""
    shared: list[int] = []
    later: set[str] = set()  # terms of the turns after the one at hand
    for turn in reversed(features):
        for piece in reversed(turn.pieces):
            shared.append(len(piece.terms & later) + len(piece.terms & (piece.later_terms - later)))
        later |= turn.terms
    return shared[::-1][:items]
