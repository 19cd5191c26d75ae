"""A chat message history that reads back under a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage

from headroom_core.config import HeadroomConfig
from headroom_core.errors import ConfigurationError
from headroom_integrations.langchain._optimizer import DEFAULT_MODEL, MessageOptimizer

if TYPE_CHECKING:
    from headroom_core.engine import HeadroomEngine

__all__ = ["HeadroomChatMessageHistory"]


class HeadroomChatMessageHistory(BaseChatMessageHistory):
    """Wraps any chat history; ``messages`` returns the history optimized to ``max_tokens``.

    The full history stays in the wrapped store; each read compresses tool results and, when the
    history is still too long, fits it with the engine's context fitting (which keeps the system
    prompt, the last user turn and every tool call together with its result).

    ``BaseChatMessageHistory`` is deprecated since langchain-core 1.6.4 (removal in 2.0); this
    wrapper serves applications still on ``RunnableWithMessageHistory``. Agents keeping their
    memory in LangGraph state get the same effect from :class:`HeadroomMiddleware` or
    :func:`create_headroom_node`.

    Args:
        history: The store to wrap (``InMemoryChatMessageHistory``, a SQL or Redis history...).
        max_tokens: Tokens the returned messages may use.
        model_name: Model whose tokenizer counts them.
        config: Engine configuration.
        engine: Share one :class:`headroom_core.engine.HeadroomEngine` between adapters.

    Raises:
        ConfigurationError: ``max_tokens`` is not positive.

    Examples:
        ```python
        history = HeadroomChatMessageHistory(InMemoryChatMessageHistory(), max_tokens=8000)
        chain_with_history = RunnableWithMessageHistory(chain, lambda session_id: history)
        ```
    """

    def __init__(
        self,
        history: BaseChatMessageHistory,
        max_tokens: int,
        *,
        model_name: str = DEFAULT_MODEL,
        config: HeadroomConfig | None = None,
        engine: HeadroomEngine | None = None,
    ) -> None:
        if max_tokens <= 0:
            raise ConfigurationError(
                f"Invalid value for max_tokens: {max_tokens!r}. Allowed: a positive integer.",
                details={"field": "max_tokens", "value": max_tokens},
            )
        self.history = history
        self.max_tokens = max_tokens
        self.model_name = model_name
        self._optimizer = MessageOptimizer(
            config, engine=engine, source="langchain.history", model_name=model_name
        )

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """The stored messages, optimized to fit ``max_tokens``."""
        engine_config = self._optimizer.engine.config
        reply_buffer = engine_config.intelligent_context.output_buffer_tokens
        optimization = self._optimizer.optimize(
            self.history.messages,
            self.model_name,
            model_limit=self.max_tokens + reply_buffer,
            retrieval=False,  # a history is read by chains whose model has no retrieval tool
        )
        return optimization.messages

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Store messages in the wrapped history, unchanged."""
        self.history.add_messages(messages)

    def clear(self) -> None:
        """Clear the wrapped history."""
        self.history.clear()
