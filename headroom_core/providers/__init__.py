"""Providers: token counters, context limits, prices and prompt-cache switches per vendor."""

from headroom_core.providers.anthropic import AnthropicProvider
from headroom_core.providers.base import Provider
from headroom_core.providers.google import GoogleProvider
from headroom_core.providers.openai import OpenAIProvider

__all__ = [
    "AnthropicProvider",
    "GoogleProvider",
    "OpenAIProvider",
    "Provider",
    "provider_for_model",
]


def provider_for_model(model: str) -> Provider:
    """The provider whose catalogue knows ``model`` (OpenAI when none does)."""
    from headroom_core._catalog import find_model

    info = find_model(model)
    if info is not None and info.provider == "anthropic":
        return AnthropicProvider()
    if info is not None and info.provider == "google":
        return GoogleProvider()
    return OpenAIProvider(fallback_context_limit=128_000)
