"""Answering ``headroom_retrieve`` calls inside a chat model wrapper, so the caller never sees one.

When the wrapped model can call the tool, a reply may ask for items an omission marker
mentioned. When a reply calls only that tool, the wrapper answers the calls from the store,
appends the exchange to the conversation and calls the model again, up to ``MAX_ROUNDS`` times;
a reply that also calls the caller's tools goes back to the caller without the retrieval calls.
What finally reaches the caller holds no ``headroom_retrieve`` call, and its usage covers every
round.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.messages.ai import add_usage

from headroom_core.retrieval import RETRIEVAL_TOOL_NAME, OriginalsStore, retrieval_tool_result

__all__ = [
    "MAX_ROUNDS",
    "answered",
    "binds_retrieve",
    "retrieve_calls",
    "with_retrieve_tool",
    "without_retrieve_calls",
]

MAX_ROUNDS = 3


def binds_retrieve(kwargs: Mapping[str, Any]) -> bool:
    """Whether the call's bound tools (provider dicts) include ``headroom_retrieve``."""
    return any(_tool_name(tool) == RETRIEVAL_TOOL_NAME for tool in kwargs.get("tools") or [])


def with_retrieve_tool(
    kwargs: dict[str, Any], model: BaseChatModel, tool: Any
) -> dict[str, Any]:
    """``kwargs`` whose tools include ``headroom_retrieve``, formatted by ``model``."""
    if binds_retrieve(kwargs):
        return kwargs
    formatted = getattr(model.bind_tools([tool]), "kwargs", {}).get("tools") or []
    return {**kwargs, "tools": [*(kwargs.get("tools") or []), *formatted]}


def retrieve_calls(message: BaseMessage) -> list[dict[str, Any]]:
    """The ``headroom_retrieve`` calls of a reply."""
    calls = getattr(message, "tool_calls", None) or []
    return [call for call in calls if call.get("name") == RETRIEVAL_TOOL_NAME]


def answered(
    messages: Sequence[BaseMessage],
    reply: BaseMessage,
    calls: Sequence[dict[str, Any]],
    store: OriginalsStore | None,
) -> list[BaseMessage]:
    """``messages`` followed by the reply's retrieval calls and their answers."""
    asking = AIMessage(content=reply.content, tool_calls=list(calls), id=reply.id)
    answers = [
        ToolMessage(
            content=retrieval_tool_result(call.get("args") or {}, store),
            tool_call_id=call["id"],
            name=RETRIEVAL_TOOL_NAME,
        )
        for call in calls
    ]
    return [*messages, asking, *answers]


def without_retrieve_calls(message: AIMessage, usage: Any = None) -> AIMessage:
    """The reply without ``headroom_retrieve`` calls, its usage summed with earlier rounds'."""
    kept = [call for call in message.tool_calls if call.get("name") != RETRIEVAL_TOOL_NAME]
    update: dict[str, Any] = {}
    if len(kept) != len(message.tool_calls):
        update["tool_calls"] = kept
        raw = message.additional_kwargs.get("tool_calls")
        if raw:
            update["additional_kwargs"] = {
                **message.additional_kwargs,
                "tool_calls": [c for c in raw if _tool_name(c) != RETRIEVAL_TOOL_NAME],
            }
    if usage is not None and message.usage_metadata is not None:
        update["usage_metadata"] = add_usage(usage, message.usage_metadata)
    return message.model_copy(update=update) if update else message


def _tool_name(tool: Any) -> str | None:
    if not isinstance(tool, Mapping):
        return None
    function = tool.get("function")
    if isinstance(function, Mapping):
        return str(function.get("name"))
    name = tool.get("name")
    return str(name) if name is not None else None
