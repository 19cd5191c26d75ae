"""``compress()``: the one-call form of tool-output compression (the Python twin of the
TypeScript SDK's ``compress``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from headroom_core._catalog import require_model
from headroom_core.config import HeadroomConfig
from headroom_core.errors import ValidationError
from headroom_core.messages import validate_messages
from headroom_core.providers.anthropic_format import find_anthropic_block
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
        messages: OpenAI-style chat messages (the list is not changed).
        model: Model whose tokenizer counts the tokens.
        query: What the outputs should answer; the last user message by default.
        token_budget: When the result is still over this many tokens, the crushers are tightened
            (fewer kept items and lines) until it fits or only must-keep content remains.
        config: Crusher settings; defaults to :class:`HeadroomConfig`.

    Returns:
        A :class:`CompressResult` with the messages to send, the token counts and the keys
        under which dropped items were stored (none when ``config.retrieval.enabled`` is off).

    Raises:
        ValidationError: ``messages`` is not a valid chat request, holds Anthropic
            ``tool_use`` / ``tool_result`` blocks (convert it first, see below), or
            ``token_budget`` < 1.
        ProviderError: No catalogue knows ``model``; the message names the closest known ones.

    Anthropic messages: convert them with ``from_anthropic(messages, system)`` and the result
    back with ``to_anthropic(result.messages)`` (``headroom_core.providers.anthropic_format``).
    ``compress()`` does not do it for you, because that round trip does not give back the
    caller's blocks as they were: it drops ``cache_control`` (and any other extra field) of
    ``tool_use`` and ``tool_result`` blocks, and splits a user turn that holds tool results
    and text into two, so doing it silently would move prompt-cache breakpoints.

    Examples:
        >>> from headroom_core import compress
        >>> result = compress(messages, model="gpt-4o")  # doctest: +SKIP
        >>> result.tokens_saved, result.compression_ratio  # doctest: +SKIP
        (18204, 0.12)
    """
    validate_messages(messages)
    _refuse_anthropic_blocks(messages)
    require_model(model, hint=_UNKNOWN_MODEL_HINT)
    if token_budget is not None and (not isinstance(token_budget, int) or token_budget < 1):
        raise ValidationError(
            f"token_budget must be a positive int or None, got {token_budget!r}.",
            details={"field": "token_budget", "value": token_budget},
        )
    tokenizer = get_tokenizer(model)
    result = ToolOutputCompressor(config).apply(
        list(messages), tokenizer, query=query, token_budget=token_budget, model=model
    )
    return CompressResult(
        messages=result.messages,
        tokens_before=result.tokens_before,
        tokens_after=result.tokens_after,
        transforms_applied=result.transforms_applied,
        details={**result.details, "warnings": result.warnings},
        retrieval_keys=list(result.details.get("retrieval_keys", [])),
    )


def _refuse_anthropic_blocks(messages: Sequence[dict[str, Any]]) -> None:
    """Anthropic tool blocks would pass validation and never be compressed: say how to convert."""
    found = find_anthropic_block(messages)
    if found is None:
        return
    index, block_type = found
    raise ValidationError(
        f"Message {index} holds an Anthropic {block_type!r} block; compress() takes OpenAI chat "
        "messages. Convert first: compress(from_anthropic(messages, system)), then "
        "to_anthropic(result.messages) (from headroom_core.providers.anthropic_format).",
        details={"index": index, "problem": f"anthropic {block_type} block"},
    )
