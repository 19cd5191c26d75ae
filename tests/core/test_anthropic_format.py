"""Anthropic requests survive the trip through the core's OpenAI form exactly (breakpoints too)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from headroom_core.messages import validate_messages
from headroom_core.providers.anthropic_format import (
    ANTHROPIC_KEY,
    from_anthropic,
    has_cache_control,
    to_anthropic,
)

EPHEMERAL = {"type": "ephemeral"}
_words = st.text(alphabet="abcdefgh ,.\n", min_size=1, max_size=30)
_extras = st.one_of(st.just({}), st.just({"cache_control": EPHEMERAL}))


@st.composite
def _text_blocks(draw: st.DrawFn, min_size: int = 1) -> list[dict[str, Any]]:
    return [
        {"type": "text", "text": draw(_words), **draw(_extras)}
        for _ in range(draw(st.integers(min_size, 2)))
    ]


@st.composite
def _tool_result(draw: st.DrawFn, call_id: str) -> dict[str, Any]:
    content = draw(st.one_of(_words, _text_blocks()))
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id, "content": content}
    if draw(st.booleans()):
        block["is_error"] = True
    return {**block, **draw(_extras)}


@st.composite
def anthropic_requests(draw: st.DrawFn) -> tuple[Any, list[dict[str, Any]]]:
    """A valid Messages API request: alternating turns, tool results right after their calls,
    strings or block lists, and ``cache_control`` on any block."""
    system = draw(st.one_of(st.none(), _words, _text_blocks()))
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": draw(st.one_of(_words, _text_blocks()))}
    ]
    open_calls: list[str] = []
    for turn in range(draw(st.integers(0, 4))):
        if draw(st.booleans()):
            messages.append({"role": "assistant", "content": draw(_words)})
        else:
            calls = [
                {"type": "tool_use", "id": f"toolu_{turn}_{n}", "name": "run",
                 "input": {"n": n, "args": draw(_words)}, **draw(_extras)}
                for n in range(draw(st.integers(1, 2)))
            ]
            text = draw(st.one_of(st.just([]), _text_blocks()))
            messages.append({"role": "assistant", "content": [*text, *calls]})
            open_calls = [call["id"] for call in calls]
        results = [draw(_tool_result(call_id)) for call_id in open_calls]
        open_calls = []
        if results:
            text = draw(st.one_of(st.just([]), _text_blocks()))
            messages.append({"role": "user", "content": [*results, *text]})
        else:
            messages.append({"role": "user", "content": draw(st.one_of(_words, _text_blocks()))})
    return system, messages


@settings(max_examples=200, deadline=None)
@given(anthropic_requests())
def test_every_request_comes_back_as_it_was(request: tuple[Any, list[dict[str, Any]]]) -> None:
    system, messages = request
    core = from_anthropic(messages, system)
    validate_messages(core)
    assert to_anthropic(core) == (system, messages)


def test_claude_code_shaped_turns_keep_their_breakpoints_on_tool_blocks() -> None:
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "Find the failing test."}]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Running the tests."},
                {"type": "tool_use", "id": "t1", "name": "bash", "input": {"cmd": "pytest"},
                 "cache_control": EPHEMERAL},
            ],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "is_error": True,
                    "content": [{"type": "text", "text": "FAILED test_x"}],
                    "cache_control": EPHEMERAL,
                },
                {"type": "text", "text": "Go on."},
            ],
        },
    ]
    core = from_anthropic(messages)
    assert [m["role"] for m in core] == ["user", "assistant", "tool", "user"]
    assert core[2]["content"] == "FAILED test_x"  # the crushers see plain text
    assert core[3][ANTHROPIC_KEY] == {"same_turn": True, "text_block": True}
    assert [has_cache_control(m) for m in core] == [False, True, True, False]
    stubbed = [*core[:2], {**core[2], "content": "[output left out]"}, core[3]]
    _system, sent = to_anthropic(stubbed)
    assert sent[:2] == messages[:2]
    assert sent[2]["content"][0] == {
        **messages[2]["content"][0],
        "content": [{"type": "text", "text": "[output left out]"}],
    }
    assert sent[2]["content"][1] == {"type": "text", "text": "Go on."}


def test_openai_messages_convert_as_before() -> None:
    core = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Jobs?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "jobs", "arguments": "{}"}},
            {"id": "c2", "type": "function", "function": {"name": "jobs", "arguments": "{}"}},
        ]},
        {"role": "tool", "tool_call_id": "c1", "content": "17 failed"},
        {"role": "tool", "tool_call_id": "c2", "content": "42 failed"},
    ]
    system, messages = to_anthropic(core)
    assert system == "Be brief."
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert [b["tool_use_id"] for b in messages[2]["content"]] == ["c1", "c2"]
    assert not any(has_cache_control(m) for m in core)
