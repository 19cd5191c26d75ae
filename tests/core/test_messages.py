"""validate_messages: bad input is named by message index and problem, never silently dropped."""

from __future__ import annotations

import pytest

from headroom_core.errors import ValidationError
from headroom_core.messages import validate_messages

CALL = {"id": "call_1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
ASK = {"role": "user", "content": "Find it."}
CALLER = {"role": "assistant", "content": None, "tool_calls": [CALL]}


@pytest.mark.parametrize(
    ("messages", "index", "problem"),
    [
        (
            [ASK, {"role": "tool", "tool_call_id": "call_9", "content": "x"}],
            1,
            "no earlier assistant",
        ),
        ([ASK, {"role": "tool", "content": "x"}], 1, "without tool_call_id"),
        ([{"role": "robot", "content": "beep"}], 0, "unknown role 'robot'"),
        ([{"content": "no role"}], 0, "unknown role None"),
        ([{"role": "user", "content": 42}], 0, "content of type int"),
        (
            [{"role": "user", "content": [{"type": "text", "text": "a"}, 7]}],
            0,
            "content part 1 of type int",
        ),
        ([ASK, None], 1, "is NoneType, not a dict"),
        ([{"role": "user", "content": None}], 0, "user message with no content"),
        (
            [ASK, CALLER, {"role": "tool", "tool_call_id": "call_1", "content": None}],
            2,
            "tool message with no content",
        ),
        (
            [ASK, {"role": "assistant", "content": None, "tool_calls": {"id": "a"}}],
            1,
            "tool_calls of type dict",
        ),
        (
            [ASK, {"role": "assistant", "content": None, "tool_calls": [{"type": "function"}]}],
            1,
            "without an id",
        ),
        (
            [
                ASK,
                CALLER,
                {"role": "tool", "tool_call_id": "call_1", "content": "a"},
                {"role": "tool", "tool_call_id": "call_1", "content": "b"},
            ],
            3,
            "a second time",
        ),
    ],
)
def test_bad_messages_name_index_and_problem(messages, index, problem):
    with pytest.raises(ValidationError) as error:
        validate_messages(messages)
    assert error.value.details["index"] == index
    assert problem in error.value.details["problem"]
    assert f"Message {index} " in str(error.value)


@pytest.mark.parametrize("messages", [None, "hello", {"role": "user"}])
def test_not_a_list(messages):
    with pytest.raises(ValidationError, match="must be a list"):
        validate_messages(messages)


def test_valid_request_comes_back_whole():
    messages = [
        {"role": "system", "content": "Be brief."},
        ASK,
        CALLER,
        {"role": "tool", "tool_call_id": "call_1", "content": "found"},
        {"role": "assistant", "content": "Found it."},
    ]
    assert validate_messages(messages) == messages
