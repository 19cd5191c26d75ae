"""The contract every transform follows, so the pipeline and the engine can chain them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

from headroom_core.results import TransformResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer

__all__ = ["Transform"]


class Transform(ABC):
    """A step that takes chat messages and returns new ones (inputs are never mutated).

    ``apply`` must be idempotent: applying a transform to its own output changes nothing.
    Context keys a transform may read: ``model``, ``query``, ``model_limit``, ``max_tokens``,
    ``tool_profiles``, ``output_buffer_tokens``.
    """

    name: ClassVar[str] = "transform"

    @abstractmethod
    def apply(
        self,
        messages: Sequence[dict[str, Any]],
        tokenizer: Tokenizer | None = None,
        **context: Any,
    ) -> TransformResult:
        """Transform ``messages``; return the new list and what it saved."""

    @staticmethod
    def resolve_tokenizer(tokenizer: Tokenizer | None, context: dict[str, Any]) -> Tokenizer:
        """The given tokenizer, else the shared one for ``context['model']`` (gpt-4o by default)."""
        if tokenizer is not None:
            return tokenizer
        return get_tokenizer(context.get("model") or "gpt-4o")
