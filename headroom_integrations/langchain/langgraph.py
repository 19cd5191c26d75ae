"""A LangGraph node that compresses the tool results in a ``MessagesState``.

Nothing here imports LangGraph: the node is a plain Runnable over the state, and it returns only
the tool messages it rewrote, under their own ids, so LangGraph's ``add_messages`` reducer
replaces them in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from langchain_core.messages import BaseMessage, ToolMessage
from langchain_core.runnables import RunnableLambda

from headroom_core.config import HeadroomConfig
from headroom_integrations.langchain._optimizer import DEFAULT_MODEL, MessageOptimizer, Optimization

if TYPE_CHECKING:
    from headroom_core.engine import HeadroomEngine

__all__ = ["create_headroom_node"]


def create_headroom_node(
    config: HeadroomConfig | None = None,
    *,
    model_name: str = DEFAULT_MODEL,
    messages_key: str = "messages",
    tool_profiles: dict[str, dict[str, Any]] | None = None,
    store_url: str | None = None,
    engine: HeadroomEngine | None = None,
    retrieval: bool = False,
) -> RunnableLambda:
    """Build a graph node that replaces large tool results in the state with compressed ones.

    Put it between the tool node and the model node; the state keeps the compressed results, so
    every later model call (and the checkpointer) sees the smaller context. Tool messages need ids,
    which ``add_messages`` assigns; messages without an id are left alone.

    Args:
        config: Engine configuration.
        model_name: Model the conversation is for (tokens, window).
        messages_key: State key holding the messages.
        tool_profiles: Per-tool options, e.g. ``{"read_file": {"skip_compression": True}}``.
        store_url: Record one metrics row per node run.
        engine: Share one :class:`headroom_core.engine.HeadroomEngine` between adapters.
        retrieval: Markers name the ``headroom_retrieve`` tool and dropped items are stored;
            set it when the graph's model and tool node have
            :func:`~headroom_integrations.langchain.headroom_retrieve_tool`. Off by default:
            markers say what was left out without naming a tool.

    Returns:
        A Runnable taking the state and returning ``{messages_key: [rewritten tool messages]}``.

    Examples:
        ```python
        graph = StateGraph(MessagesState)
        graph.add_node("tools", ToolNode(tools))
        graph.add_node("compress", create_headroom_node(model_name="gpt-4o"))
        graph.add_edge("tools", "compress")
        graph.add_edge("compress", "agent")
        ```
    """
    optimizer = MessageOptimizer(
        config,
        store_url=store_url,
        engine=engine,
        source="langchain.langgraph",
        model_name=model_name,
    )
    options = {
        "tool_profiles": tool_profiles,
        "retrieval": retrieval and optimizer.engine.config.retrieval.enabled,
    }

    def compress(state: Any) -> dict[str, list[BaseMessage]]:
        messages = _messages_of(state, messages_key)
        optimization = optimizer.optimize(messages, model_name, **options)
        return {messages_key: _rewritten_tool_messages(messages, optimization)}

    async def acompress(state: Any) -> dict[str, list[BaseMessage]]:
        messages = _messages_of(state, messages_key)
        optimization = await optimizer.aoptimize(messages, model_name, **options)
        return {messages_key: _rewritten_tool_messages(messages, optimization)}

    return RunnableLambda(compress, acompress, name="headroom_compress")


def _messages_of(state: Any, key: str) -> list[BaseMessage]:
    messages = state[key] if isinstance(state, Mapping) else getattr(state, key)
    return list(messages)


def _rewritten_tool_messages(
    originals: list[BaseMessage], optimization: Optimization
) -> list[BaseMessage]:
    by_id = {message.id: message for message in originals if message.id}
    return [
        message
        for message in optimization.messages
        if isinstance(message, ToolMessage)
        and message.id in by_id
        and message is not by_id[message.id]
        and message.content != by_id[message.id].content
    ]
