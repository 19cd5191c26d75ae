"""LlamaIndex ``ChatMessage`` <-> core OpenAI-style dicts, without losing anything on the way back.

Going out, each message becomes the dict the engine understands: text blocks joined as the
content, tool calls (``ToolCallBlock``s, or OpenAI- or Anthropic-shaped entries of
``additional_kwargs["tool_calls"]``) as ``tool_calls``, ``tool_call_id`` and ``name`` of tool
results. Coming back, a message the engine left alone is the very same ``ChatMessage`` object;
one whose text changed is a copy of the original with the new text, every other block (images,
tool calls, thinking) and ``additional_kwargs`` kept; a message only the engine produced is
built from its dict.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
    VideoBlock,
)

from headroom_core.alignment import restore_messages
from headroom_core.messages import content_text

__all__ = ["from_core_messages", "to_core_messages"]

_CORE_ROLES = {MessageRole.CHATBOT: "assistant", MessageRole.MODEL: "assistant"}
# Blocks the model reads besides text; they count as parts. Thinking, cache points and
# citations stay on the original message and come back with it untouched.
_MEDIA = (ImageBlock, AudioBlock, VideoBlock, DocumentBlock)


def to_core_messages(messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
    """The engine's view of ``messages`` (inputs are not modified)."""
    return [_to_core(message) for message in messages]


def from_core_messages(
    optimized: Sequence[Mapping[str, Any]],
    originals: Sequence[ChatMessage],
    converted: Sequence[Mapping[str, Any]] | None = None,
) -> list[ChatMessage]:
    """LlamaIndex messages for the engine's output, reusing ``originals`` wherever possible.

    Args:
        optimized: What the engine returned for ``tag_origins(converted)``
            (see :mod:`headroom_core.alignment`).
        originals: The messages that went in.
        converted: ``to_core_messages(originals)`` when the caller already has it.
    """
    converted = list(converted) if converted is not None else to_core_messages(originals)
    return restore_messages(optimized, converted, originals, rewrite=_with_text, build=_from_core)


def _to_core(message: ChatMessage) -> dict[str, Any]:
    core: dict[str, Any] = {
        "role": _CORE_ROLES.get(message.role, message.role.value),
        "content": _content(message),
    }
    tool_calls = _tool_calls(message)
    if tool_calls:
        core["tool_calls"] = tool_calls
    for key in ("tool_call_id", "name"):
        value = message.additional_kwargs.get(key)
        if isinstance(value, str) and value:
            core[key] = value
    return core


def _content(message: ChatMessage) -> str | list[dict[str, Any]] | None:
    """Text blocks joined the way ``ChatMessage.content`` joins them; media as parts."""
    texts = [block.text for block in message.blocks if isinstance(block, TextBlock)]
    media = [{"type": block.block_type} for block in message.blocks if isinstance(block, _MEDIA)]
    text = "\n".join(texts)
    if media:
        return [{"type": "text", "text": text}, *media] if texts else media
    if not texts and message.role == MessageRole.ASSISTANT:
        return None
    return text


def _tool_calls(message: ChatMessage) -> list[dict[str, Any]]:
    calls = [
        _openai_call(block.tool_call_id, block.tool_name, block.tool_kwargs)
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    for raw in message.additional_kwargs.get("tool_calls") or []:
        call = raw.model_dump() if hasattr(raw, "model_dump") else raw
        if not isinstance(call, Mapping):
            continue
        function = call.get("function")
        if isinstance(function, Mapping):
            name, arguments = function.get("name"), function.get("arguments")
        elif "name" in call:  # Anthropic-style {"id", "name", "input"}
            name, arguments = call["name"], call.get("input", call.get("args"))
        else:
            continue
        calls.append(_openai_call(call.get("id"), name, arguments))
    unique: dict[str, dict[str, Any]] = {}
    for call in calls:
        unique.setdefault(call["id"], call)
    return list(unique.values())


def _openai_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
    return {
        "id": str(call_id or ""),
        "type": "function",
        "function": {"name": str(name or ""), "arguments": arguments},
    }


def _with_text(original: ChatMessage, core: Mapping[str, Any]) -> ChatMessage:
    """``original`` itself when its text is unchanged, else a copy carrying the text of ``core``."""
    text = content_text(core)
    if text == (original.content or ""):
        return original
    blocks: list[Any] = []
    placed = False
    for block in original.blocks:
        if isinstance(block, TextBlock):
            if not placed:
                blocks.append(TextBlock(text=text))
                placed = True
        else:
            blocks.append(block)
    if not placed:
        blocks.insert(0, TextBlock(text=text))
    return original.model_copy(update={"blocks": blocks})


def _from_core(message: Mapping[str, Any]) -> ChatMessage:
    role = message.get("role", "user")
    additional: dict[str, Any] = {}
    if message.get("tool_calls"):
        additional["tool_calls"] = [dict(call) for call in message["tool_calls"]]
    for key in ("tool_call_id", "name"):
        if message.get(key):
            additional[key] = message[key]
    return ChatMessage(
        role=MessageRole(role) if role in MessageRole._value2member_map_ else MessageRole.USER,
        content=content_text(message),
        additional_kwargs=additional,
    )
