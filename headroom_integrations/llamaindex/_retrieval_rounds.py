"""Answering ``headroom_retrieve`` inside :class:`HeadroomLLM`, so an agent never sees the call.

In a tool-calling request (a ``FunctionAgent`` step), markers may name ``headroom_retrieve``;
the tool then goes to the model with the agent's own tools. A reply that calls only that tool
is answered from the store and the model called again (at most ``MAX_ROUNDS`` times); a reply
that also calls the agent's tools goes back to the agent, whose reading of the tool calls
leaves ``headroom_retrieve`` out.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, ChatResponse, MessageRole
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.tools import FunctionTool

from headroom_core.retrieval import (
    RETRIEVAL_TOOL_NAME,
    OriginalsStore,
    retrieval_tool_definition,
    retrieval_tool_result,
)

__all__ = ["MAX_ROUNDS", "RetrievalRounds", "retrieve_tool"]

MAX_ROUNDS = 3


def retrieve_tool(store: OriginalsStore | None) -> FunctionTool:
    """``headroom_retrieve`` as a LlamaIndex tool answering from ``store``."""

    def headroom_retrieve(key: str, query: str | None = None, offset: int = 0) -> str:
        return retrieval_tool_result({"key": key, "query": query, "offset": offset}, store)

    return FunctionTool.from_defaults(
        fn=headroom_retrieve,
        name=RETRIEVAL_TOOL_NAME,
        description=retrieval_tool_definition()["function"]["description"],
    )


def _name(tool: Any) -> str | None:
    if isinstance(tool, dict):
        function = tool.get("function")
        return function.get("name") if isinstance(function, dict) else tool.get("name")
    metadata = getattr(tool, "metadata", None)
    return getattr(metadata, "name", None)


class RetrievalRounds:
    """One chat call's rounds with the inner LLM (a no-op when ``store`` is None)."""

    def __init__(
        self, inner: FunctionCallingLLM | None, kwargs: dict[str, Any], store: OriginalsStore | None
    ) -> None:
        self._inner = inner
        self._kwargs = kwargs
        self._store = store if inner is not None else None
        self._count = 0

    def call_kwargs(self, shown: bool) -> dict[str, Any]:
        """The inner call's keyword arguments: with the tool when a marker names it."""
        tools = list(self._kwargs.get("tools") or [])
        if self._store is None or self._inner is None or not (shown or self._count):
            return self._kwargs
        if any(_name(tool) == RETRIEVAL_TOOL_NAME for tool in tools):
            return self._kwargs
        prepared = self._inner._prepare_chat_with_tools([retrieve_tool(self._store)])
        return {**self._kwargs, "tools": [*tools, *(prepared.get("tools") or [])]}

    def follow(
        self, messages: Sequence[ChatMessage], response: ChatResponse | None
    ) -> list[ChatMessage] | None:
        """The conversation with the reply's retrieval calls answered, or None when the reply
        goes back as it is."""
        if self._store is None or self._inner is None or response is None:
            return None
        selections = self._inner.get_tool_calls_from_response(
            response, error_on_no_tool_call=False
        )
        ours = [s for s in selections if s.tool_name == RETRIEVAL_TOOL_NAME]
        if not ours or len(ours) < len(selections) or self._count >= MAX_ROUNDS:
            return None
        self._count += 1
        answers = [
            ChatMessage(
                role=MessageRole.TOOL,
                content=retrieval_tool_result(selection.tool_kwargs, self._store),
                additional_kwargs={"tool_call_id": selection.tool_id, "name": RETRIEVAL_TOOL_NAME},
            )
            for selection in ours
        ]
        return [*messages, response.message, *answers]
