"""Google Gemini: estimated counts and explicit context caching."""

from __future__ import annotations

from typing import Any, ClassVar

from headroom_core.providers.base import Provider

__all__ = ["GoogleProvider"]


class GoogleProvider(Provider):
    """Gemini models. Counts are an estimate (``is_exact`` is False on the counter).

    Args:
        enable_context_caching: Keep the stable prefix byte-identical so it can be stored once as a
            Gemini cached context.
    """

    name: ClassVar[str] = "google"

    def __init__(self, enable_context_caching: bool = False, **fallbacks: Any) -> None:
        super().__init__(**fallbacks)
        self.enable_context_caching = enable_context_caching

    def cache_hints(self) -> dict[str, Any]:
        return {"stable_first": self.enable_context_caching, "cache_control": False}
