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


# How to use a model no catalogue knows: a provider with fallbacks accepts any name.
_UNKNOWN_MODEL_HINT = (
    "To use it anyway, give the engine a provider with fallbacks: "
    "HeadroomEngine(provider=OpenAIProvider(fallback_context_limit=..., "
    "fallback_encoding=...)) (its window and encoding come from the fallbacks; it has no price)."
)


def provider_for_model(model: str) -> Provider:
    """The provider whose catalogue knows ``model``.

    Raises:
        ProviderError: No catalogue knows ``model`` (guessing a window and a price for it would
            be silently wrong); the message names the closest known models and how to use it
            anyway.
    """
    from headroom_core._catalog import require_model

    info = require_model(model, hint=_UNKNOWN_MODEL_HINT)
    if info.provider == "anthropic":
        return AnthropicProvider()
    if info.provider == "google":
        return GoogleProvider()
    return OpenAIProvider()
