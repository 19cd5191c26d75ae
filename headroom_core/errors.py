"""One error family for everything Headroom raises.

Every error carries a ``details`` dict so callers (and logs) get the context as data, not only as
prose. Catch :class:`HeadroomError` to handle all of them.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CacheError",
    "CompressionError",
    "ConfigurationError",
    "ContextOverflowError",
    "HeadroomError",
    "ProviderError",
    "StorageError",
    "TokenizationError",
    "TransformError",
    "ValidationError",
]


class HeadroomError(Exception):
    """Base class for all Headroom errors.

    Args:
        message: What went wrong and, where there is one, the fix.
        details: Machine-readable context (field names, sizes, model names...).
    """

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.message, self.details))


class ConfigurationError(HeadroomError, ValueError):
    """A configuration value is invalid.

    ``details`` names the field, the bad value and what is allowed.
    """


class ProviderError(HeadroomError):
    """A provider cannot serve the request (unknown model, missing client...)."""


class StorageError(HeadroomError):
    """The metrics or retrieval store failed."""


class CompressionError(HeadroomError):
    """Compressing a request failed."""


class ValidationError(HeadroomError, ValueError):
    """Messages or a setup are invalid; ``details`` names the message index and the problem."""


class TokenizationError(HeadroomError):
    """Counting tokens failed (for example a vocabulary failed its checksum)."""


class CacheError(HeadroomError):
    """A cache operation failed."""


class TransformError(HeadroomError):
    """A transform could not run on its input."""


class ContextOverflowError(TransformError):
    """A request cannot fit the model's window even after fitting: its kept minimum is too big.

    Raised before any provider call and never turned into a fail-open (sending the request would
    only get it rejected). ``details`` holds ``minimum_tokens``, ``budget``, ``model_limit`` and
    ``output_buffer_tokens``, and what the minimum is made of.
    """
