"""What every provider offers the engine: token counters, context limits and prices."""

from __future__ import annotations

from typing import Any, ClassVar

from headroom_core._catalog import ModelInfo, find_model, prices_as_of, require_model
from headroom_core.errors import ConfigurationError
from headroom_core.tokenizer import Tokenizer, get_tokenizer

__all__ = ["Provider"]


class Provider:
    """Base of the provider family.

    Args:
        fallback_context_limit: Context window to assume for models the catalogue does not know;
            without it an unknown model raises :class:`~headroom_core.errors.ProviderError`.
        fallback_encoding: tiktoken encoding used to count unknown models.
    """

    name: ClassVar[str] = ""

    def __init__(
        self, *, fallback_context_limit: int | None = None, fallback_encoding: str | None = None
    ) -> None:
        if fallback_context_limit is not None and fallback_context_limit <= 0:
            raise ConfigurationError(
                f"Invalid value for fallback_context_limit: {fallback_context_limit!r}. "
                "Allowed: a positive number of tokens.",
                details={"field": "fallback_context_limit", "value": fallback_context_limit},
            )
        self.fallback_context_limit = fallback_context_limit
        self.fallback_encoding = fallback_encoding

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def model_info(self, model: str) -> ModelInfo | None:
        """Catalogue entry for ``model``; None only when a fallback is configured."""
        if self.fallback_context_limit is not None or self.fallback_encoding is not None:
            return find_model(model, self.name)
        return require_model(model, self.name)

    def supports_model(self, model: str) -> bool:
        """Whether the catalogue knows ``model`` for this provider."""
        return find_model(model, self.name) is not None

    def get_token_counter(self, model: str) -> Tokenizer:
        """A counter for ``model`` (``is_exact`` tells whether its counts are exact)."""
        info = self.model_info(model)
        if info is None:
            return get_tokenizer(model, self.fallback_encoding)
        return get_tokenizer(model)

    def get_context_limit(self, model: str) -> int:
        """The model's context window in tokens."""
        info = self.model_info(model)
        if info is None:
            return self.fallback_context_limit or 128_000
        return info.context_window

    def get_output_limit(self, model: str) -> int:
        """The most tokens the model may produce in one reply."""
        info = self.model_info(model)
        return info.max_output_tokens if info is not None else 4096

    def estimate_cost(
        self,
        input_tokens: int,
        output_tokens: int = 0,
        model: str = "",
        cached_input_tokens: int = 0,
    ) -> float | None:
        """Cost in USD at the catalogue's list prices; None when the model's price is unknown.

        ``cached_input_tokens`` is the part of ``input_tokens`` served from the provider's cache.
        """
        info = find_model(model, self.name)
        if info is None:
            return None
        cached = min(max(cached_input_tokens, 0), input_tokens)
        cached_price = info.cached_input_per_mtok
        if cached_price is None:
            cached_price = info.input_per_mtok
        cost = (input_tokens - cached) * info.input_per_mtok + cached * cached_price
        cost += output_tokens * info.output_per_mtok
        return cost / 1_000_000

    @staticmethod
    def prices_as_of() -> str:
        """The date the price table was read."""
        return prices_as_of()

    def cache_hints(self) -> dict[str, Any]:
        """How this provider's prompt cache should be used (read by the cache aligner)."""
        return {}
