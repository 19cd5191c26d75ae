"""A small chat model for the end of a chain: records what reached it, answers from a script.

LangChain's GenericFakeChatModel ignores its input; these tests need to see the messages the
model received, and to emit tool calls like a real tool-calling model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


class ScriptedChatModel(BaseChatModel):
    """Replies with ``replies`` in turn (the last one repeats); records every input."""

    replies: list[AIMessage] = Field(default_factory=lambda: [AIMessage("done")])
    received: list[list[BaseMessage]] = Field(default_factory=list)
    fail_with: Exception | None = None

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        return {"ls_provider": "scripted", "ls_model_name": "gpt-4o", "ls_model_type": "chat"}

    def _next_reply(self, messages: list[BaseMessage]) -> AIMessage:
        if self.fail_with is not None:
            raise self.fail_with
        self.received.append(list(messages))
        index = min(len(self.received), len(self.replies)) - 1
        return self.replies[index].model_copy()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next_reply(messages))])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._next_reply(messages)
        for word in str(reply.content).split(" "):
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    def bind_tools(
        self, tools: Sequence[Any], *, tool_choice: str | None = None, **kwargs: Any
    ) -> Runnable:
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, **kwargs)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        return sum(len(str(message.content).split()) for message in messages)


class MarkerFollowingChatModel(ScriptedChatModel):
    """Follows omission markers as a capable model would: when the newest tool output names
    ``headroom_retrieve`` with a key and that tool was offered, it calls it with ``query``; once
    the answer is back, it replies with that answer. Records the tools offered on each call."""

    query: str = ""
    offered: list[list[str]] = Field(default_factory=list)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        names = [tool["function"]["name"] for tool in kwargs.get("tools") or []]
        self.offered.append(names)
        self.received.append(list(messages))
        last = messages[-1]
        key = re.search(r'headroom_retrieve with key "([0-9a-f]+)"', str(last.content))
        if last.type == "tool" and key and "headroom_retrieve" in names:
            call = {"name": "headroom_retrieve", "args": {"key": key[1], "query": self.query},
                    "id": f"retrieve_{len(self.received)}", "type": "tool_call"}
            reply = AIMessage(content="", tool_calls=[call])
        else:
            reply = AIMessage(content=f"Answer from: {last.content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        reply = self._generate(messages, stop, run_manager, **kwargs).generations[0].message
        for word in str(reply.content).split(" ") if reply.content else []:
            yield ChatGenerationChunk(message=AIMessageChunk(content=word + " "))
        for index, call in enumerate(reply.tool_calls):
            chunk = {"name": call["name"], "args": json.dumps(call["args"]),
                     "id": call["id"], "index": index}
            yield ChatGenerationChunk(message=AIMessageChunk(content="", tool_call_chunks=[chunk]))
