"""Recency-based context fitting: drop whole oldest turns until the request fits."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from headroom_core.config import RollingWindowConfig
from headroom_core.messages import validate_messages
from headroom_core.results import TransformResult
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms._units import (
    Option,
    assemble,
    keep_within_budget,
    split_conversation,
)
from headroom_core.transforms.base import Transform

__all__ = ["RollingWindow"]


class RollingWindow(Transform):
    """Fit a conversation into ``max_tokens`` by dropping whole turns, oldest first.

    A turn is a user message and everything up to the next user message, so an assistant
    message with tool calls always leaves together with all of its tool results. The system
    prompt and the last ``preserve_recent_turns`` turns (at least the last user turn) are never
    dropped; a short system note after the system prompt says how much was omitted. When even
    that minimum exceeds the budget, the minimum is returned and ``details["over_budget"]`` is True.

    Args:
        config: Budget and what to preserve; defaults to :class:`RollingWindowConfig`.

    Examples:
        >>> window = RollingWindow(RollingWindowConfig(max_tokens=60, preserve_recent_turns=1))
        >>> messages = [
        ...     {"role": "system", "content": "You are terse."},
        ...     {"role": "user", "content": "Tell me a long story about the sea. " * 5},
        ...     {"role": "assistant", "content": "Once upon a time the sea was calm. " * 5},
        ...     {"role": "user", "content": "Now a short one."},
        ... ]
        >>> result = window.apply(messages)
        >>> [m["role"] for m in result.messages], result.details["dropped_turns"]
        (['system', 'system', 'user'], 1)
    """

    name: ClassVar[str] = "rolling_window"

    def __init__(self, config: RollingWindowConfig | None = None) -> None:
        self.config = config or RollingWindowConfig()

    def apply(
        self,
        messages: Sequence[dict[str, Any]],
        tokenizer: Tokenizer | None = None,
        max_tokens: int | None = None,
        **context: Any,
    ) -> TransformResult:
        """Drop oldest turns until ``messages`` fit ``max_tokens`` (default: the config's)."""
        messages = validate_messages(messages)
        tokenizer = self.resolve_tokenizer(tokenizer, context)
        budget = max_tokens if max_tokens is not None else self.config.max_tokens
        tokens_before = tokenizer.count_messages(messages)
        details: dict[str, Any] = {
            "budget": budget,
            "dropped_turns": 0,
            "dropped_messages": 0,
            "over_budget": False,
        }
        if not self.config.enabled or tokens_before <= budget:
            return TransformResult(list(messages), tokens_before, tokens_before, details=details)

        conversation = split_conversation(messages)
        keep = max(1, self.config.preserve_recent_turns)
        frozen = int(context.get("frozen_message_count") or 0)
        droppable = conversation.turns[:-keep] if len(conversation.turns) > keep else []
        # a turn reaching into the frozen prefix stays: that prefix is returned as it was
        frozen_turns = [turn for turn in droppable if turn.start < frozen]
        droppable = droppable[len(frozen_turns) :]
        protected = [*frozen_turns, *conversation.turns[len(frozen_turns) + len(droppable) :]]
        # keeping the most recent droppable turns first is dropping the oldest first
        by_priority = droppable[::-1] if self.config.drop_oldest_first else droppable
        options = [Option(turn.indices) for turn in by_priority]
        fixed = [p for turn in protected for p in turn.indices]
        if self.config.preserve_system:
            fixed += conversation.system_indices
        else:  # dropped only once no turn is left to drop
            options.insert(0, Option(conversation.system_indices))
        fit = keep_within_budget(
            messages,
            conversation,
            budget,
            tokenizer,
            fixed=fixed,
            options=options,
            total=tokens_before,
            skip_misfits=False,
        )
        kept = assemble(messages, conversation, fit.dropped, fit.marker, frozen)
        tokens_after = fit.tokens
        details.update(fit.details(budget))
        warnings = []
        if details["over_budget"]:
            warnings.append(
                f"rolling_window: the kept minimum ({tokens_after} tokens: system prompt, frozen "
                f"prefix and last {keep} turns) exceeds max_tokens={budget}"
            )
        return TransformResult(
            messages=kept,
            tokens_before=tokens_before,
            tokens_after=tokens_after,
            transforms_applied=[self.name] if fit.dropped else [],
            description=f"dropped {fit.dropped_turns} oldest turn(s), {len(fit.dropped)} message(s)"
            if fit.dropped
            else "nothing droppable",
            details=details,
            warnings=warnings,
        )
