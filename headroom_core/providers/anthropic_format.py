"""Conversion between OpenAI chat messages (the core's form) and Anthropic Messages API requests.

Lossless for what both formats express: text and content blocks, tool calls (``tool_use``) and
tool results (``tool_result``), the system prompt. Blocks with no OpenAI twin (images, documents)
travel in the ``content`` list unchanged.

What only Anthropic's form holds (``cache_control`` and other extra fields of ``tool_use`` and
``tool_result`` blocks, a single text block written as a list, tool results and text sharing one
user turn) rides along under :data:`ANTHROPIC_KEY` on the converted messages, so that
``to_anthropic(from_anthropic(messages, system))`` gives back the request as it was (equal as
JSON): prompt-cache breakpoints stay where the caller put them, and an old message is sent the
same whether or not a transform touched the request. A plan shown to the caller (``simulate``)
holds these details too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from headroom_core.errors import ValidationError

__all__ = [
    "ANTHROPIC_KEY",
    "find_anthropic_block",
    "from_anthropic",
    "has_cache_control",
    "to_anthropic",
    "with_anthropic_messages",
]

ANTHROPIC_KEY = "headroom_anthropic"
"""Key of a converted message's Anthropic-only details: ``text_block`` (its content was one
text block in a list), ``same_turn`` (it continues the previous message's Anthropic turn),
``block`` (extra fields of its ``tool_result`` block) and ``tool_use`` (extra fields of its
``tool_use`` blocks, by call id). Absent when there is nothing to restore."""

# Blocks only Anthropic messages hold: OpenAI puts tool calls in ``tool_calls`` and tool results
# in ``role: "tool"`` messages.
_ANTHROPIC_TOOL_BLOCKS = frozenset({"tool_use", "tool_result"})
_TOOL_USE_FIELDS = frozenset({"type", "id", "name", "input"})
_TOOL_RESULT_FIELDS = frozenset({"type", "tool_use_id", "content", "is_error"})


def _text_of(blocks: Any, shape: dict[str, Any]) -> Any:
    """Plain string when the blocks are one text block without extras, else the blocks; notes
    in ``shape`` that a string was a list."""
    if isinstance(blocks, list) and len(blocks) == 1 and isinstance(blocks[0], Mapping):
        block = blocks[0]
        if block.get("type") == "text" and set(block) <= {"type", "text"}:
            shape["text_block"] = True
            return block["text"]
    return blocks


def _extras(block: Mapping[str, Any], known: frozenset[str]) -> dict[str, Any]:
    return {key: value for key, value in block.items() if key not in known}


def _shaped(message: dict[str, Any], shape: dict[str, Any]) -> dict[str, Any]:
    if shape:
        message[ANTHROPIC_KEY] = shape
    return message


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


def has_cache_control(message: Mapping[str, Any]) -> bool:
    """Whether a core message carries a prompt-cache breakpoint: on one of its content blocks,
    or on an Anthropic block its conversion set aside (a ``tool_use`` or ``tool_result``)."""
    content = message.get("content")
    if isinstance(content, list) and any(
        isinstance(part, Mapping) and "cache_control" in part for part in content
    ):
        return True
    shape = message.get(ANTHROPIC_KEY) or {}
    blocks = [shape.get("block") or {}, *(shape.get("tool_use") or {}).values()]
    return any("cache_control" in block for block in blocks)


def from_anthropic(
    messages: Sequence[Mapping[str, Any]], system: str | Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Anthropic ``system`` + ``messages`` to OpenAI chat messages.

    Raises:
        ValidationError: A message or block lacks what the Messages API requires (a role, a
            ``tool_use`` id or name, a ``tool_result``'s ``tool_use_id``), or ``system`` is
            neither a string nor a list of blocks.
    """
    result: list[dict[str, Any]] = []
    if system:
        if not isinstance(system, (str, list)):
            raise ValidationError(
                f"system must be a string or a list of blocks, got {type(system).__name__}",
                details={"field": "system"},
            )
        shape: dict[str, Any] = {}
        content = system if isinstance(system, str) else _text_of(list(system), shape)
        result.append(_shaped({"role": "system", "content": content}, shape))
    for index, message in enumerate(messages):
        try:
            role = message["role"]
            content = message.get("content")
            if isinstance(content, str):
                result.append({"role": role, "content": content})
            elif role == "assistant":
                result.append(_assistant_from_anthropic(list(content or [])))
            else:
                result.extend(_turn_from_anthropic(role, list(content or [])))
        except (KeyError, TypeError, AttributeError) as error:
            missing = f"has no {error} field" if isinstance(error, KeyError) else "is malformed"
            raise ValidationError(
                f"Anthropic message {index} {missing} (a message needs a role and content; "
                "a tool_use block an id and a name; a tool_result block a tool_use_id)",
                details={"index": index, "problem": str(error)},
            ) from None
    return result


def _assistant_from_anthropic(blocks: list[Any]) -> dict[str, Any]:
    """One assistant turn: its ``tool_use`` blocks become ``tool_calls``."""
    shape: dict[str, Any] = {}
    calls = [b for b in blocks if isinstance(b, Mapping) and b.get("type") == "tool_use"]
    rest = [b for b in blocks if not (isinstance(b, Mapping) and b.get("type") == "tool_use")]
    out: dict[str, Any] = {"role": "assistant", "content": _text_of(rest, shape) if rest else None}
    if calls:
        out["tool_calls"] = [
            {
                "id": call["id"],
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call.get("input", {}))},
            }
            for call in calls
        ]
        extras = {call["id"]: _extras(call, _TOOL_USE_FIELDS) for call in calls}
        if any(extras.values()):
            shape["tool_use"] = {call_id: found for call_id, found in extras.items() if found}
    return _shaped(out, shape)


def _turn_from_anthropic(role: str, blocks: list[Any]) -> list[dict[str, Any]]:
    """One user turn: each ``tool_result`` block becomes a tool message, the blocks around them
    messages of ``role``; all but the first are marked as continuing the turn."""
    converted: list[dict[str, Any]] = []
    pending: list[Any] = []

    def flush() -> None:
        shape: dict[str, Any] = {"same_turn": True} if converted else {}
        converted.append(_shaped({"role": role, "content": _text_of(pending, shape)}, shape))

    for block in blocks:
        if not (isinstance(block, Mapping) and block.get("type") == "tool_result"):
            pending.append(block)
            continue
        if pending:
            flush()
            pending = []
        shape: dict[str, Any] = {"same_turn": True} if converted else {}
        tool_content = block.get("content", "")
        tool_message: dict[str, Any] = {
            "role": "tool",
            "tool_call_id": block["tool_use_id"],
            "content": tool_content
            if isinstance(tool_content, str)
            else _text_of(tool_content, shape),
        }
        if block.get("is_error"):
            tool_message["is_error"] = True
        extras = _extras(block, _TOOL_RESULT_FIELDS)
        if extras:
            shape["block"] = extras
        converted.append(_shaped(tool_message, shape))
    if pending or not blocks:
        flush()
    return converted


def _blocks(content: Any) -> list[Any]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return list(content)


def _content(content: Any, shape: Mapping[str, Any]) -> Any:
    """``content`` in the form the Anthropic original had: a string that was one text block
    goes back into its list."""
    if shape.get("text_block") and isinstance(content, str):
        return [{"type": "text", "text": content}]
    return content


def to_anthropic(messages: Sequence[Mapping[str, Any]]) -> tuple[Any, list[dict[str, Any]]]:
    """OpenAI chat messages to Anthropic ``(system, messages)``; tool results become user blocks."""
    system_parts: list[Any] = []
    system_shapes: list[Mapping[str, Any]] = []
    result: list[dict[str, Any]] = []
    for message in messages:
        role = message.get("role")
        shape: Mapping[str, Any] = message.get(ANTHROPIC_KEY) or {}
        content = message.get("content")
        if role in ("system", "developer"):
            system_parts.extend(_blocks(content))
            system_shapes.append(shape)
            continue
        previous = result[-1] if result else None
        joinable = (
            previous is not None
            and previous["role"] == ("user" if role == "tool" else role)
            and isinstance(previous["content"], list)
        )
        if role == "tool":
            block: dict[str, Any] = {
                "type": "tool_result",
                "tool_use_id": message.get("tool_call_id"),
                "content": _content(content, shape)
                if isinstance(content, str)
                else _blocks(content),
            }
            if message.get("is_error"):
                block["is_error"] = True
            block.update(shape.get("block") or {})
            if joinable and previous is not None:
                previous["content"].append(block)
            else:
                result.append({"role": "user", "content": [block]})
            continue
        if shape.get("same_turn") and joinable and previous is not None:
            previous["content"].extend(_blocks(content))
            continue
        tool_calls = message.get("tool_calls") or []
        if isinstance(content, str) and not tool_calls:
            result.append({"role": role, "content": _content(content, shape)})
            continue
        blocks = _blocks(content)
        tool_use = shape.get("tool_use") or {}
        for call in tool_calls:
            function = call.get("function", {})
            arguments = function.get("arguments") or "{}"
            blocks.append(
                {
                    "type": "tool_use",
                    "id": call.get("id"),
                    "name": function.get("name"),
                    "input": json.loads(arguments) if isinstance(arguments, str) else arguments,
                    **tool_use.get(call.get("id"), {}),
                }
            )
        result.append({"role": role, "content": blocks})
    return _system(system_parts, system_shapes), result


def _system(parts: list[Any], shapes: list[Mapping[str, Any]]) -> Any:
    """The ``system`` value: None, a string, or blocks (a lone text block that was a list stays
    a list)."""
    if not parts:
        return None
    if len(parts) == 1 and not (len(shapes) == 1 and shapes[0].get("text_block")):
        return _text_of(parts, {})
    return parts


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
