"""Helpers over OpenAI-style chat messages: validation, text access, turns and tool-call pairs.

The core's message form is the OpenAI chat-completions dict: ``role``, ``content`` (a string, a
list of parts, or None), ``tool_calls``, ``tool_call_id``, ``name``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from headroom_core.errors import ValidationError

__all__ = [
    "ROLES",
    "content_text",
    "last_user_index",
    "last_user_query",
    "tool_call_arguments",
    "validate_messages",
    "with_content",
]

ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def validate_messages(messages: Any) -> list[dict[str, Any]]:
    """Check a request's messages; raise :class:`ValidationError` naming the index and problem.

    Checks: a list of dicts, known roles, content of a valid type (and present where the role needs
    it), tool messages that answer a tool call made earlier and only once, tool calls as a list of
    calls with ids.
    """
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)):
        raise ValidationError(
            f"messages must be a list of dicts, got {type(messages).__name__}",
            details={"problem": "not a list"},
        )
    open_calls: set[str] = set()
    answered_calls: set[str] = set()
    for index, message in enumerate(messages):
        if not isinstance(message, Mapping):
            _fail(index, f"is {type(message).__name__}, not a dict")
        role = message.get("role")
        if role not in ROLES:
            _fail(index, f"has unknown role {role!r} (allowed: {', '.join(sorted(ROLES))})")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            _fail(
                index,
                f"has content of type {type(content).__name__} (allowed: str, list of parts, None)",
            )
        if isinstance(content, list):
            for part_index, part in enumerate(content):
                if not isinstance(part, (Mapping, str)):
                    _fail(index, f"has content part {part_index} of type {type(part).__name__}")
        if content is None and role in ("user", "system", "developer", "tool"):
            _fail(index, f"is a {role} message with no content")
        if role == "assistant":
            tool_calls = message.get("tool_calls") or []
            if not isinstance(tool_calls, list):
                _fail(
                    index, f"has tool_calls of type {type(tool_calls).__name__} (allowed: a list)"
                )
            for call in tool_calls:
                if not isinstance(call, Mapping) or not call.get("id"):
                    _fail(index, "has a tool call without an id")
                open_calls.add(str(call["id"]))
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not call_id:
                _fail(index, "is a tool message without tool_call_id")
            if str(call_id) in answered_calls:
                _fail(index, f"answers tool call {call_id!r} a second time")
            if str(call_id) not in open_calls:
                _fail(
                    index,
                    f"is a tool result for {call_id!r}, which no earlier assistant message called",
                )
            answered_calls.add(str(call_id))
    return list(messages)  # type: ignore[arg-type]


def _fail(index: int, problem: str) -> None:
    raise ValidationError(
        f"Message {index} {problem}.", details={"index": index, "problem": problem}
    )


def content_text(message: Mapping[str, Any]) -> str:
    """The text of a message's content (text parts joined; other parts skipped)."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
            texts.append(part["text"])
    return "\n".join(texts)


def with_content(message: Mapping[str, Any], text: str) -> dict[str, Any]:
    """A copy of ``message`` whose text is ``text`` (a single text part stays a part list)."""
    copy = dict(message)
    content = message.get("content")
    if isinstance(content, list):
        others = [p for p in content if not (isinstance(p, Mapping) and p.get("type") == "text")]
        text_parts = [p for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        first = dict(text_parts[0]) if text_parts else {"type": "text"}
        first["text"] = text
        copy["content"] = [first, *others]
    else:
        copy["content"] = text
    return copy


def last_user_index(messages: Sequence[Mapping[str, Any]]) -> int | None:
    """Index of the last user message, or None."""
    for index in range(len(messages) - 1, -1, -1):
        if messages[index].get("role") == "user":
            return index
    return None


def last_user_query(messages: Sequence[Mapping[str, Any]]) -> str:
    """The text of the last user message ('' when there is none)."""
    index = last_user_index(messages)
    return content_text(messages[index]) if index is not None else ""


def tool_call_arguments(messages: Sequence[Mapping[str, Any]]) -> dict[str, tuple[str, str]]:
    """Map each tool-call id to ``(tool name, arguments text)`` of the call that made it."""
    calls: dict[str, tuple[str, str]] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if not isinstance(call, Mapping):
                continue
            function = call.get("function") or {}
            arguments = function.get("arguments", "")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            calls[str(call.get("id"))] = (str(function.get("name", "")), arguments)
    return calls
