"""Conversations with tool calls for fitting tests, and a checker of provider request rules."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from itertools import pairwise
from typing import Any

from hypothesis import strategies as st

from headroom_core.messages import validate_messages
from headroom_core.providers.anthropic_format import to_anthropic

SYSTEM_PROMPT = (
    "You are an operations assistant. Quote ids and numbers exactly as tools return them."
)
_TOOLS = ("search_logs", "get_user", "list_orders")
_WORDS = [
    "disk",
    "node",
    "latency",
    "deploy",
    "queue",
    "retry",
    "shard",
    "cache",
    "timeout",
    "billing",
    "region",
    "replica",
]


def _text(seed: int, words: int) -> str:
    return " ".join(_WORDS[(seed * 7 + i * 3) % len(_WORDS)] for i in range(words))


def tool_output(tool: str, seed: int, rows: int) -> str:
    """A realistic tool result: a JSON array for lookups, log lines for searches."""
    if tool == "search_logs":
        return "\n".join(
            f"2025-01-06 10:{i % 60:02d}:{(seed + i) % 60:02d} "
            f"{'ERROR' if (seed + i) % 11 == 0 else 'INFO'} "
            f"node-{(seed + i) % 9} request req_{seed}_{i} took {(seed * 31 + i * 17) % 900} ms"
            for i in range(rows)
        )
    return json.dumps(
        [
            {
                "id": f"{tool}_{seed}_{i}",
                "status": "failed" if (seed + i) % 13 == 0 else "ok",
                "amount": (seed * 97 + i * 13) % 10_000 / 100,
            }
            for i in range(rows)
        ],
        indent=2,
    )


def build_conversation(
    turns: Sequence[Mapping[str, Any]], *, pending_last: bool = False
) -> list[dict[str, Any]]:
    """Messages from a turn plan.

    Each turn: ``user_words``, ``exchanges`` (a list of lists of result row counts, one list per
    assistant tool-call message) and ``reply_words``. With ``pending_last`` the last turn ends
    with tool results (the request an agent sends after running its tools).
    """
    messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
    call_number = 0
    for number, turn in enumerate(turns):
        messages.append(
            {"role": "user", "content": f"Q{number}: " + _text(number, turn["user_words"])}
        )
        for exchange in turn["exchanges"]:
            calls, results = [], []
            for rows in exchange:
                call_number += 1
                tool = _TOOLS[call_number % len(_TOOLS)]
                call_id = f"call_{call_number}"
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": tool,
                            "arguments": json.dumps({"q": f"item {call_number}"}),
                        },
                    }
                )
                results.append(
                    {
                        "role": "tool",
                        "tool_call_id": call_id,
                        "content": tool_output(tool, call_number, rows),
                    }
                )
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            messages.extend(results)
        is_last = number == len(turns) - 1
        if not (is_last and pending_last and turn["exchanges"]):
            messages.append(
                {
                    "role": "assistant",
                    "content": f"A{number}: " + _text(number + 1, turn["reply_words"]),
                }
            )
    if not pending_last or not turns[-1]["exchanges"]:
        messages.pop()  # a request ends with the user's turn, not with the model's answer
    return messages


_turn = st.fixed_dictionaries(
    {
        "user_words": st.integers(1, 60),
        "exchanges": st.lists(st.lists(st.integers(1, 25), min_size=1, max_size=3), max_size=3),
        "reply_words": st.integers(1, 80),
    }
)
conversations = st.builds(
    build_conversation, st.lists(_turn, min_size=1, max_size=10), pending_last=st.booleans()
)


def assert_valid_request(messages: Sequence[Mapping[str, Any]]) -> None:
    """Fail unless ``messages`` is a request both OpenAI and Anthropic accept.

    OpenAI: each assistant message with tool calls is followed directly by one tool message per
    call, and no tool message stands anywhere else. Anthropic (after conversion): the messages
    start with a user turn, roles alternate, and each tool_result answers a tool_use of the
    assistant message right before it.
    """
    validate_messages(messages)
    index = 0
    while index < len(messages):
        message = messages[index]
        assert message["role"] != "tool", f"orphan tool message at {index}"
        index += 1
        if message["role"] == "assistant" and message.get("tool_calls"):
            expected = {call["id"] for call in message["tool_calls"]}
            answered = set()
            while index < len(messages) and messages[index]["role"] == "tool":
                call_id = messages[index]["tool_call_id"]
                assert call_id in expected and call_id not in answered, (
                    f"stray result {call_id} at {index}"
                )
                answered.add(call_id)
                index += 1
            assert answered == expected, f"calls without results: {sorted(expected - answered)}"
    _system, converted = to_anthropic(messages)
    assert converted and converted[0]["role"] == "user", (
        "Anthropic messages must start with a user turn"
    )
    for before, after in pairwise(converted):
        assert before["role"] != after["role"], f"two {after['role']} turns in a row"
    for position, message in enumerate(converted):
        blocks = message["content"] if isinstance(message["content"], list) else []
        results = {
            b["tool_use_id"]
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "tool_result"
        }
        if results:
            previous = converted[position - 1]["content"]
            uses = {
                b["id"] for b in previous if isinstance(b, dict) and b.get("type") == "tool_use"
            }
            assert results <= uses, f"tool_result without its tool_use at {position}"
