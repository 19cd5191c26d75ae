"""OpenAI: exact tiktoken counts and automatic prefix caching."""

from __future__ import annotations

from typing import Any, ClassVar

from headroom_core.providers.base import Provider

__all__ = ["OpenAIProvider"]


class OpenAIProvider(Provider):
    """OpenAI chat models.

    Args:
        enable_prefix_caching: Order the request stable-first so OpenAI's automatic prefix cache
            hits (it caches prompts of 1,024 tokens and more by their prefix).

    Examples:
        >>> provider = OpenAIProvider()
        >>> provider.get_context_limit("gpt-4o")
        128000
    """

    name: ClassVar[str] = "openai"

    def __init__(self, enable_prefix_caching: bool = True, **fallbacks: Any) -> None:
        super().__init__(**fallbacks)
        self.enable_prefix_caching = enable_prefix_caching

    def cache_hints(self) -> dict[str, Any]:
        return {"stable_first": self.enable_prefix_caching, "cache_control": False}
