"""Conversion between OpenAI chat messages (the core's form) and Anthropic Messages API requests.

Lossless for what both formats express: text and content blocks, tool calls (``tool_use``) and
tool results (``tool_result``), the system prompt. Blocks with no OpenAI twin (images, documents,
``cache_control``) travel in the ``content`` list unchanged.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["find_anthropic_block", "from_anthropic", "to_anthropic", "with_anthropic_messages"]

# Blocks only Anthropic messages hold: OpenAI puts tool calls in ``tool_calls`` and tool results
# in ``role: "tool"`` messages.
_ANTHROPIC_TOOL_BLOCKS = frozenset({"tool_use", "tool_result"})


def _text_of(blocks: Any) -> Any:
    """Plain string when the blocks are one text block without extras, else the blocks."""
    if isinstance(blocks, list) and len(blocks) == 1 and isinstance(blocks[0], Mapping):
        block = blocks[0]
        if block.get("type") == "text" and set(block) <= {"type", "text"}:
            return block["text"]
    return blocks


def find_anthropic_block(messages: Sequence[Any]) -> tuple[int, str] | None:
    """The index of the first message holding a ``tool_use`` or ``tool_result`` block, and the
    block's type; None when no message does (OpenAI form, or a conversation without tools)."""
    for index, message in enumerate(messages):
        content = message.get("content") if isinstance(message, Mapping) else None
        if not isinstance(content, list):
            continue
        for block in content:
            if isinstance(block, Mapping) and block.get("type") in _ANTHROPIC_TOOL_BLOCKS:
                return index, str(block["type"])
    return None


def from_anthropic(
    messages: Sequence[Mapping[str, Any]], system: str | Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Anthropic ``system`` + ``messages`` to OpenAI chat messages."""
    result: list[dict[str, Any]] = []
    if system:
        result.append(
            {
                "role": "system",
                "content": _text_of(list(system)) if not isinstance(system, str) else system,
            }
        )
    for message in messages:
        role = message["role"]
        content = message.get("content")
        if isinstance(content, str):
            result.append({"role": role, "content": content})
            continue
        blocks = list(content or [])
        if role == "assistant":
            calls = [b for b in blocks if isinstance(b, Mapping) and b.get("type") == "tool_use"]
            rest = [
                b for b in blocks if not (isinstance(b, Mapping) and b.get("type") == "tool_use")
            ]
            out: dict[str, Any] = {"role": "assistant", "content": _text_of(rest) if rest else None}
            if calls:
                out["tool_calls"] = [
                    {
                        "id": call["id"],
                        "type": "function",
                        "function": {
                            "name": call["name"],
                            "arguments": json.dumps(call.get("input", {})),
                        },
                    }
                    for call in calls
                ]
            result.append(out)
            continue
        pending: list[Any] = []
        for block in blocks:
            if isinstance(block, Mapping) and block.get("type") == "tool_result":
                if pending:
                    result.append({"role": role, "content": _text_of(pending)})
                    pending = []
                tool_content = block.get("content", "")
                tool_message: dict[str, Any] = {
                    "role": "tool",
                    "tool_call_id": block["tool_use_id"],
                    "content": _text_of(tool_content)
                    if not isinstance(tool_content, str)
                    else tool_content,
                }
                if block.get("is_error"):
                    tool_message["is_error"] = True
                result.append(tool_message)
            else:
                pending.append(block)
        if pending or not blocks:
            result.append({"role": role, "content": _text_of(pending)})
    return result


def _blocks(content: Any) -> list[Any]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def to_anthropic(messages: Sequence[Mapping[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """OpenAI chat messages to Anthropic ``(system, messages)``; tool results become user blocks."""
    system_parts: list[Any] = []
    result: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        content = message.get("content")
        if role in ("system", "developer"):
            system_parts.extend(_blocks(content))
            continue
        if role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": content if isinstance(content, str) else _blocks(content),
            }
            if message.get("is_error"):
                block["is_error"] = True
            if result and result[-1]["role"] == "user" and isinstance(result[-1]["content"], list):
                result[-1]["content"].append(block)
            else:
                result.append({"role": "user", "content": [block]})
            continue
        blocks = _blocks(content)
        for call in message.get("tool_calls") or []:
            function = call.get("function", {})
            arguments = function.get("arguments") or "{}"
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "input": json.loads(arguments) if isinstance(arguments, str) else arguments,
                }
            )
        if isinstance(content, str) and not message.get("tool_calls"):
            result.append({"role": role, "content": content})
        else:
            result.append({"role": role, "content": blocks})
    system: Any = None
    if system_parts:
        system = _text_of(system_parts) if len(system_parts) == 1 else system_parts
    return system, result


def with_anthropic_messages(
    request: Mapping[str, Any], messages: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """``request`` (Anthropic Messages arguments) with its ``system`` and ``messages`` taken
    from the core ``messages``; a request left without a system prompt has no ``system``."""
    system, converted = to_anthropic(messages)
    updated = {**request, "messages": converted}
    if system is None:
        updated.pop("system", None)
    else:
        updated["system"] = system
    return updated
