"""Anthropic Claude: estimated counts, exact ones through the client's count-tokens API."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from headroom_core.providers.anthropic_format import to_anthropic
from headroom_core.providers.base import Provider
from headroom_core.tokenizer import Tokenizer

__all__ = ["AnthropicProvider", "AnthropicTokenCounter"]

logger = logging.getLogger(__name__)


class AnthropicTokenCounter(Tokenizer):
    """Counts Claude requests exactly with ``client.messages.count_tokens``.

    Single texts and messages are estimated (the API counts whole requests only), and so is a
    request whose count-tokens call fails (logged as a warning): an exact count is a refinement,
    never a reason for the caller's request to fail.
    """

    def __init__(self, model: str, client: Any) -> None:
        super().__init__(model)
        self.client = client
        self.is_exact = True

    def count_messages(
        self,
        messages: Iterable[Mapping[str, Any]],
        tools: Sequence[Mapping[str, Any]] | None = None,
    ) -> int:
        messages_list = list(messages)
        system, converted = to_anthropic(messages_list)
        request: dict[str, Any] = {"model": self.model, "messages": converted}
        if system:
            request["system"] = system
        if tools:
            request["tools"] = [
                {
                    "name": tool.get("function", tool).get("name"),
                    "description": tool.get("function", tool).get("description", ""),
                    "input_schema": tool.get("function", tool).get(
                        "parameters", {"type": "object"}
                    ),
                }
                for tool in tools
            ]
        try:
            return int(self.client.messages.count_tokens(**request).input_tokens)
        except Exception as exc:  # the SDK raises many error types; counting must not fail a call
            logger.warning(
                "Anthropic count_tokens failed for %s (%s: %s); using the estimate",
                self.model,
                type(exc).__name__,
                exc,
            )
            return super().count_messages(messages_list, tools=tools)


class AnthropicProvider(Provider):
    """Claude models.

    Args:
        client: An ``anthropic.Anthropic`` client; when given, message counts are exact (API).
        enable_cache_control: Mark the stable prefix with ``cache_control`` breakpoints.
    """

    name: ClassVar[str] = "anthropic"

    def __init__(
        self, client: Any = None, enable_cache_control: bool = True, **fallbacks: Any
    ) -> None:
        super().__init__(**fallbacks)
        self.client = client
        self.enable_cache_control = enable_cache_control

    def get_token_counter(self, model: str) -> Tokenizer:
        if self.client is not None:
            self.model_info(model)
            return AnthropicTokenCounter(model, self.client)
        return super().get_token_counter(model)

    def cache_hints(self) -> dict[str, Any]:
        return {"stable_first": True, "cache_control": self.enable_cache_control}
