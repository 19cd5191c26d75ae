"""``compress()``: the one-call form of tool-output compression (the Python twin of the
TypeScript SDK's ``compress``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headroom_core._catalog import require_model
from headroom_core.config import HeadroomConfig
from headroom_core.errors import ValidationError
from headroom_core.messages import validate_messages
from headroom_core.providers.anthropic_format import (
    find_anthropic_block,
    from_anthropic,
    to_anthropic,
)
from headroom_core.results import CompressResult
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms.tool_outputs import ToolOutputCompressor

__all__ = ["compress"]

_UNKNOWN_MODEL_HINT = (
    "compress() counts with the model's tokenizer: for another model, pass a known one with the "
    "same tokenizer (gpt-4o for o200k_base, gpt-4 for cl100k_base)."
)


def compress(
    messages: Sequence[dict[str, Any]],
    model: str = "gpt-4o",
    query: str | None = None,
    token_budget: int | None = None,
    config: HeadroomConfig | None = None,
) -> CompressResult:
    """Compress the tool outputs of a chat request; no message is dropped or reordered.

    Args:
        messages: Chat messages, OpenAI-style or Anthropic Messages API ``messages`` (with
            ``tool_use`` / ``tool_result`` blocks); the list is not changed.
        model: Model whose tokenizer counts the tokens.
        query: What the outputs should answer; by default each output's own turn's user
            message (the last one before it).
        token_budget: When the result is still over this many tokens, the crushers are tightened
            (fewer kept items and lines) until it fits or only must-keep content remains.
        config: Crusher settings; defaults to :class:`HeadroomConfig`.

    Returns:
        A :class:`CompressResult` with the messages to send, in the form they came in, the
        token counts and the keys under which dropped items were stored (none when
        ``config.retrieval.enabled`` is off).

    Raises:
        ValidationError: ``messages`` is not a valid chat request, mixes a ``system`` message
            into Anthropic messages (Anthropic takes the system prompt apart), or
            ``token_budget`` < 1.
        ProviderError: No catalogue knows ``model``; the message names the closest known ones.

    Anthropic messages come back as Anthropic messages: only the ``content`` of the tool results
    that were compressed differs, so every other block, ``cache_control`` included, is sent as
    the caller wrote it.

    Examples:
        >>> from headroom_core import compress
        >>> result = compress(messages, model="gpt-4o")  # doctest: +SKIP
        >>> result.tokens_saved, result.compression_ratio  # doctest: +SKIP
        (18204, 0.12)
    """
    validate_messages(messages)
    anthropic = _is_anthropic(messages)
    require_model(model, hint=_UNKNOWN_MODEL_HINT)
    if token_budget is not None and (not isinstance(token_budget, int) or token_budget < 1):
        raise ValidationError(
            f"token_budget must be a positive int or None, got {token_budget!r}.",
            details={"field": "token_budget", "value": token_budget},
        )
    tokenizer = get_tokenizer(model)
    core = from_anthropic(messages) if anthropic else list(messages)
    result = ToolOutputCompressor(config).apply(
        core, tokenizer, query=query, token_budget=token_budget, model=model
    )
    return CompressResult(
        messages=to_anthropic(result.messages)[1] if anthropic else result.messages,
        tokens_before=result.tokens_before,
        tokens_after=result.tokens_after,
        transforms_applied=result.transforms_applied,
        details={**result.details, "warnings": result.warnings},
        retrieval_keys=list(result.details.get("retrieval_keys", [])),
    )


def _is_anthropic(messages: Sequence[dict[str, Any]]) -> bool:
    """Whether ``messages`` are Anthropic's (they hold ``tool_use`` / ``tool_result`` blocks);
    such a list cannot also hold a system message."""
    if find_anthropic_block(messages) is None:
        return False
    for index, message in enumerate(messages):
        if message.get("role") in ("system", "developer"):
            raise ValidationError(
                f"Message {index} is a {message['role']} message in Anthropic messages (they hold "
                "tool_use / tool_result blocks); Anthropic takes the system prompt apart: leave it "
                "out of the list.",
                details={"index": index, "problem": "system message in anthropic messages"},
            )
    return True
