"""Lossless conversion between LangChain messages and the core's OpenAI-style message dicts.

The engine works on OpenAI chat-completions dicts. LangChain messages carry more (ids, tool-call
ids, ``additional_kwargs``, ``response_metadata``, ``usage_metadata``, artifacts, content blocks),
so the way back does not rebuild messages from dicts: it follows the origin tags of
:mod:`headroom_core.alignment` and returns the *same objects* for every message the engine left
alone, copies with a new ``content`` for messages it rewrote, and builds fresh messages only for
what it inserted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    convert_to_messages,
)

from headroom_core.alignment import restore_messages
from headroom_core.errors import ValidationError
from headroom_core.messages import ROLES

__all__ = ["from_core_messages", "to_core_message", "to_core_messages"]

Message = dict[str, Any]


def to_core_messages(messages: Sequence[BaseMessage]) -> list[Message]:
    """Convert LangChain messages to the core's OpenAI-style dicts (inputs are not modified)."""
    return [to_core_message(message, index) for index, message in enumerate(messages)]


def to_core_message(message: BaseMessage, index: int = 0) -> Message:
    """Convert one LangChain message; raise :class:`ValidationError` for an unknown type."""
    role = _role(message, index)
    content = message.content
    core: Message = {
        "role": role,
        "content": list(content) if isinstance(content, list) else content,
    }
    if message.name is not None:
        core["name"] = message.name
    if isinstance(message, AIMessage):
        calls = _core_tool_calls(message)
        if calls:
            core["tool_calls"] = calls
            if not content:
                core["content"] = None
    elif isinstance(message, ToolMessage):
        core["tool_call_id"] = message.tool_call_id
    return core


def _role(message: BaseMessage, index: int) -> str:
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, SystemMessage):
        return message.additional_kwargs.get("__openai_role__", "system")
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ToolMessage):
        return "tool"
    if isinstance(message, FunctionMessage):
        return "function"
    if isinstance(message, ChatMessage):
        role = {"human": "user", "ai": "assistant"}.get(message.role, message.role)
        if role in ROLES:
            return role
    raise ValidationError(
        f"Message {index} is a {type(message).__name__} (type {message.type!r}), which has no "
        "OpenAI chat role; pass Human/AI/System/Tool messages.",
        details={"index": index, "problem": f"unsupported message type {message.type!r}"},
    )


def _core_tool_calls(message: AIMessage) -> list[dict[str, Any]]:
    calls = [
        _function_call(call["id"], call["name"], json.dumps(call["args"], ensure_ascii=False))
        for call in message.tool_calls
    ]
    calls.extend(
        _function_call(call["id"], call.get("name") or "", call.get("args") or "")
        for call in message.invalid_tool_calls
        if call.get("id")
    )
    return calls


def _function_call(call_id: str | None, name: str, arguments: str) -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def from_core_messages(
    optimized: Sequence[Message],
    originals: Sequence[BaseMessage],
    converted: Sequence[Message] | None = None,
) -> list[BaseMessage]:
    """Map the engine's output back onto the original LangChain messages.

    Args:
        optimized: What the engine returned for ``tag_origins(converted)``
            (see :mod:`headroom_core.alignment`).
        originals: The LangChain messages that went in.
        converted: ``to_core_messages(originals)`` when the caller already has it.

    Returns:
        One LangChain message per optimized dict: the original object where the engine left
        the message alone, a copy with the new content where it rewrote the content, a new
        message where it inserted one.
    """
    converted = list(converted) if converted is not None else to_core_messages(originals)
    return restore_messages(
        optimized, converted, originals, rewrite=_with_core_content, build=_new_message
    )


def _with_core_content(original: BaseMessage, core: Message) -> BaseMessage:
    content = core.get("content")
    if content is None:
        content = ""
    elif isinstance(content, list) and isinstance(original.content, str):
        content = "\n".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)
    return original.model_copy(update={"content": content})


def _new_message(core: Message) -> BaseMessage:
    core = dict(core)
    if core.get("content") is None:
        core["content"] = ""
    return convert_to_messages([core])[0]
