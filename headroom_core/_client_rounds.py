"""The rounds of one ``HeadroomClient`` call: optimize, call the model, answer its
``headroom_retrieve`` calls, call it again, until a reply the caller can have.

The loop is written once, free of I/O: :func:`rounds` yields what it needs done (an
:class:`Optimize` of messages, or a :class:`Call` of the SDK with keyword arguments) and is sent
the outcome, so the sync and async clients drive the same steps. The tool definition goes with
a request only when a marker in it names the tool (or an earlier round used it); a reply's
retrieval calls are answered from the store and never reach the caller, who gets the last reply
with the usage of every round added up. Each round is optimized and recorded by the engine.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from headroom_core.providers.anthropic_format import with_anthropic_messages
from headroom_core.results import SimulationResult
from headroom_core.retrieval import (
    RETRIEVAL_TOOL_NAME,
    OriginalsStore,
    retrieval_tool_definition,
    retrieval_tool_result,
)

__all__ = ["MAX_ROUNDS", "AnthropicRounds", "Call", "OpenAIRounds", "Optimize", "rounds"]

MAX_ROUNDS = 3  # retrieval rounds before the reply is returned as it is (its calls removed)

Messages = list[dict[str, Any]]


@dataclass(frozen=True)
class Optimize:
    """Ask the engine to optimize ``messages``."""

    messages: Messages


@dataclass(frozen=True)
class Call:
    """Ask the SDK to create a reply with these keyword arguments."""

    kwargs: dict[str, Any]


class Wire(Protocol):
    """What differs between the OpenAI and the Anthropic request and reply."""

    def request(
        self, forward: dict[str, Any], result: SimulationResult, grown: bool
    ) -> dict[str, Any]: ...

    def offer(self, kwargs: dict[str, Any]) -> dict[str, Any]: ...

    def calls(self, reply: Any) -> list[tuple[str, dict[str, Any]]]: ...

    def other_calls(self, reply: Any) -> bool: ...

    def exchange(self, reply: Any, calls: Sequence[tuple[str, dict[str, Any]]]) -> Messages: ...

    def finish(self, reply: Any, usage: dict[str, int]) -> Any: ...

    def usage(self, reply: Any) -> dict[str, int]: ...


def rounds(
    wire: Wire,
    forward: dict[str, Any],
    messages: Messages,
    store: OriginalsStore | None,
) -> Generator[Optimize | Call, Any, Any]:
    """Drive one call; ``store`` None means no retrieval (the reply goes back as it is)."""
    used = 0
    total: dict[str, int] = {}
    while True:
        result: SimulationResult = yield Optimize(messages)
        kwargs = wire.request(forward, result, grown=used > 0)
        if store is not None and (result.retrieval_keys or used):
            kwargs = wire.offer(kwargs)
        reply = yield Call(kwargs)
        calls = wire.calls(reply) if store is not None else []
        if not calls or used >= MAX_ROUNDS or wire.other_calls(reply):
            return wire.finish(reply, total) if store is not None else reply
        used += 1
        for name, count in wire.usage(reply).items():
            total[name] = total.get(name, 0) + count
        answers = [
            {
                "role": "tool",
                "tool_call_id": call_id,
                "content": retrieval_tool_result(arguments, store),
            }
            for call_id, arguments in calls
        ]
        messages = [*messages, *wire.exchange(reply, calls), *answers]


def _changed(result: SimulationResult) -> bool:
    return bool(result.transforms_applied) and not result.failed


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw or "{}")
    except (TypeError, ValueError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _add_usage(usage: Any, earlier: dict[str, int]) -> None:
    for name, count in earlier.items():
        if getattr(usage, name, None) is not None:
            setattr(usage, name, getattr(usage, name) + count)


class OpenAIRounds:
    """Chat Completions: ``tools`` of function definitions, ``message.tool_calls``."""

    def request(
        self, forward: dict[str, Any], result: SimulationResult, grown: bool
    ) -> dict[str, Any]:
        """The SDK arguments; ``messages`` replaced when a transform changed them or an earlier
        round added to them."""
        if grown or _changed(result):
            return {**forward, "messages": result.messages_optimized}
        return dict(forward)

    def offer(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        tools = list(kwargs.get("tools") or [])
        if kwargs.get("tool_choice") == "none" or any(
            (tool.get("function") or {}).get("name") == RETRIEVAL_TOOL_NAME for tool in tools
        ):
            return kwargs
        return {**kwargs, "tools": [*tools, retrieval_tool_definition()]}

    def calls(self, reply: Any) -> list[tuple[str, dict[str, Any]]]:
        message = reply.choices[0].message if getattr(reply, "choices", None) else None
        return [
            (call.id, _arguments(call.function.arguments))
            for call in getattr(message, "tool_calls", None) or []
            if getattr(call, "function", None) and call.function.name == RETRIEVAL_TOOL_NAME
        ]

    def other_calls(self, reply: Any) -> bool:
        message = reply.choices[0].message if getattr(reply, "choices", None) else None
        return any(
            getattr(call, "function", None) is None or call.function.name != RETRIEVAL_TOOL_NAME
            for call in getattr(message, "tool_calls", None) or []
        )

    def exchange(self, reply: Any, calls: Sequence[tuple[str, dict[str, Any]]]) -> Messages:
        message = reply.choices[0].message
        return [
            {
                "role": "assistant",
                "content": message.content,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": RETRIEVAL_TOOL_NAME, "arguments": json.dumps(args)},
                    }
                    for call_id, args in calls
                ],
            }
        ]

    def finish(self, reply: Any, usage: dict[str, int]) -> Any:
        for choice in getattr(reply, "choices", None) or []:
            calls = getattr(choice.message, "tool_calls", None)
            if calls:
                kept = [c for c in calls if c.function.name != RETRIEVAL_TOOL_NAME]
                choice.message.tool_calls = kept or None
        if getattr(reply, "usage", None) is not None:
            _add_usage(reply.usage, usage)
        return reply

    def usage(self, reply: Any) -> dict[str, int]:
        usage = getattr(reply, "usage", None)
        names = ("prompt_tokens", "completion_tokens", "total_tokens")
        return {name: int(getattr(usage, name, 0) or 0) for name in names} if usage else {}


class AnthropicRounds(OpenAIRounds):
    """Messages API: ``tools`` with ``input_schema``, ``tool_use`` blocks in ``content``."""

    def request(
        self, forward: dict[str, Any], result: SimulationResult, grown: bool
    ) -> dict[str, Any]:
        if not (grown or _changed(result)):
            return dict(forward)
        return with_anthropic_messages(forward, result.messages_optimized)

    def offer(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        tools = list(kwargs.get("tools") or [])
        choice = kwargs.get("tool_choice")
        if (isinstance(choice, dict) and choice.get("type") == "none") or any(
            tool.get("name") == RETRIEVAL_TOOL_NAME for tool in tools
        ):
            return kwargs
        function = retrieval_tool_definition()["function"]
        tool = {
            "name": function["name"],
            "description": function["description"],
            "input_schema": function["parameters"],
        }
        return {**kwargs, "tools": [*tools, tool]}

    def calls(self, reply: Any) -> list[tuple[str, dict[str, Any]]]:
        return [
            (block.id, _arguments(block.input))
            for block in getattr(reply, "content", None) or []
            if _is_retrieve_use(block)
        ]

    def other_calls(self, reply: Any) -> bool:
        return any(
            getattr(block, "type", None) == "tool_use" and not _is_retrieve_use(block)
            for block in getattr(reply, "content", None) or []
        )

    def exchange(self, reply: Any, calls: Sequence[tuple[str, dict[str, Any]]]) -> Messages:
        text = "".join(
            block.text for block in reply.content if getattr(block, "type", None) == "text"
        )
        return [
            {
                "role": "assistant",
                "content": text or None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": RETRIEVAL_TOOL_NAME, "arguments": json.dumps(args)},
                    }
                    for call_id, args in calls
                ],
            }
        ]

    def finish(self, reply: Any, usage: dict[str, int]) -> Any:
        content = getattr(reply, "content", None)
        if content:
            reply.content = [block for block in content if not _is_retrieve_use(block)]
        if getattr(reply, "usage", None) is not None:
            _add_usage(reply.usage, usage)
        return reply

    def usage(self, reply: Any) -> dict[str, int]:
        usage = getattr(reply, "usage", None)
        names = ("input_tokens", "output_tokens")
        return {name: int(getattr(usage, name, 0) or 0) for name in names} if usage else {}


def _is_retrieve_use(block: Any) -> bool:
    return getattr(block, "type", None) == "tool_use" and block.name == RETRIEVAL_TOOL_NAME
