"""LlamaIndex instrumentation events carrying Headroom's savings.

Emitted through LlamaIndex's dispatcher, so any ``BaseEventHandler`` registered on the root
dispatcher (observability integrations, custom handlers) sees them next to LlamaIndex's own
query, retrieval and LLM events, inside the same span.
"""

from __future__ import annotations

from llama_index.core.bridge.pydantic import Field
from llama_index.core.instrumentation.events import BaseEvent

__all__ = ["HeadroomChatOptimizeEvent", "HeadroomPostprocessEvent"]


class _SavingsEvent(BaseEvent):
    """Token counts before and after a Headroom step, and whether it failed (and passed the input
    through)."""

    tokens_before: int = 0
    tokens_after: int = 0
    failed: bool = False

    @property
    def tokens_saved(self) -> int:
        """Tokens removed (never negative)."""
        return max(0, self.tokens_before - self.tokens_after)

    @classmethod
    def class_name(cls) -> str:
        """Stable name of the event type: the class name."""
        return cls.__name__


class HeadroomPostprocessEvent(_SavingsEvent):
    """What :class:`HeadroomNodePostprocessor` did to one set of retrieved nodes.

    Token counts are of the nodes' LLM-mode content (metadata header and text), as the response
    synthesizer sends it.
    """

    query_str: str = ""
    nodes_in: int = 0
    nodes_out: int = 0
    nodes_merged: int = 0
    nodes_compressed: int = 0
    latency_ms: float = 0.0


class HeadroomChatOptimizeEvent(_SavingsEvent):
    """What the engine did to one chat request sent through :class:`HeadroomLLM`."""

    model: str = ""
    mode: str = ""
    messages_in: int = 0
    messages_out: int = 0
    transforms_applied: list[str] = Field(default_factory=list)
