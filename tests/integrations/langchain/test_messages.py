"""Conversion between LangChain messages and core dicts: lossless, identity-preserving."""

from __future__ import annotations

import pytest
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    RemoveMessage,
    SystemMessage,
    ToolMessage,
)

from headroom_core.alignment import tag_origins
from headroom_core.errors import ValidationError
from headroom_core.messages import validate_messages
from headroom_integrations.langchain._messages import (
    from_core_messages,
    to_core_message,
    to_core_messages,
)


@pytest.fixture
def conversation() -> list:
    return [
        SystemMessage("You are terse.", id="sys-1"),
        HumanMessage("Which run failed?", name="alice", id="h-1", additional_kwargs={"k": 1}),
        AIMessage(
            "",
            id="ai-1",
            tool_calls=[{"name": "list_runs", "args": {"repo": "a/b", "n": 5}, "id": "call_1"}],
            response_metadata={"model_name": "gpt-4o", "finish_reason": "tool_calls"},
            usage_metadata={"input_tokens": 10, "output_tokens": 3, "total_tokens": 13},
        ),
        ToolMessage('[{"id": 292306455}]', tool_call_id="call_1", id="t-1", artifact={"raw": 1}),
        HumanMessage(
            [
                {"type": "text", "text": "And this screenshot?"},
                {"type": "image_url", "image_url": {"url": "https://example.org/x.png"}},
            ],
            id="h-2",
        ),
    ]


def test_core_form_is_openai_chat_format(conversation: list) -> None:
    core = to_core_messages(conversation)

    assert [m["role"] for m in core] == ["system", "user", "assistant", "tool", "user"]
    assert core[1]["name"] == "alice"
    assert core[2]["content"] is None
    assert core[2]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "list_runs", "arguments": '{"repo": "a/b", "n": 5}'},
        }
    ]
    assert core[3]["tool_call_id"] == "call_1"
    assert core[4]["content"][1]["type"] == "image_url"
    assert validate_messages(core) == core


def test_unchanged_messages_come_back_as_the_same_objects(conversation: list) -> None:
    back = from_core_messages(tag_origins(to_core_messages(conversation)), conversation)

    assert all(a is b for a, b in zip(back, conversation, strict=True))


def test_rewritten_content_keeps_everything_else(conversation: list) -> None:
    core = tag_origins(to_core_messages(conversation))
    core[3] = {**core[3], "content": "[1 run kept]"}

    back = from_core_messages(core, conversation)

    tool = back[3]
    assert tool is not conversation[3]
    assert tool.content == "[1 run kept]"
    assert (tool.id, tool.tool_call_id, tool.artifact) == ("t-1", "call_1", {"raw": 1})
    assert conversation[3].content == '[{"id": 292306455}]'
    assert back[2] is conversation[2]


def test_dropped_and_inserted_messages(conversation: list) -> None:
    core = tag_origins(to_core_messages(conversation))
    optimized = [core[0], {"role": "user", "content": "[2 earlier messages dropped]"}, *core[2:]]

    back = from_core_messages(optimized, conversation)

    assert back[0] is conversation[0]
    assert isinstance(back[1], HumanMessage)
    assert back[1].content == "[2 earlier messages dropped]"
    assert back[2:] == conversation[2:]
    assert all(a is b for a, b in zip(back[2:], conversation[2:], strict=True))


def test_the_origin_tag_decides_not_the_closest_text() -> None:
    originals = [
        HumanMessage("first question", id="u1"),
        HumanMessage("second, longer question", id="u2"),
    ]
    first = tag_origins(to_core_messages(originals))[0]
    optimized = [{**first, "content": "second, longer question (trimmed)"}]

    back = from_core_messages(optimized, originals)

    assert [m.id for m in back] == ["u1"]
    assert back[0].content == "second, longer question (trimmed)"


def test_a_message_whose_tool_call_changed_is_a_new_message(conversation: list) -> None:
    core = tag_origins(to_core_messages(conversation))
    call = {**core[2]["tool_calls"][0], "id": "call_9"}
    optimized = [{**core[2], "tool_calls": [call]}]

    back = from_core_messages(optimized, conversation)

    assert back[0] is not conversation[2]
    assert back[0].id is None
    assert back[0].tool_calls[0]["id"] == "call_9"


def test_list_content_rewrite_keeps_non_text_blocks(conversation: list) -> None:
    core = tag_origins(to_core_messages(conversation))
    parts = core[4]["content"]
    core[4] = {**core[4], "content": [{"type": "text", "text": "Screenshot?"}, parts[1]]}

    back = from_core_messages(core, conversation)

    assert back[4].content[0]["text"] == "Screenshot?"
    assert back[4].content[1] == parts[1]
    assert back[4].id == "h-2"


def test_roles_of_special_messages() -> None:
    developer = SystemMessage("rules", additional_kwargs={"__openai_role__": "developer"})
    assert to_core_message(developer)["role"] == "developer"
    assert to_core_message(ChatMessage(content="hi", role="ai"))["role"] == "assistant"
    invalid = AIMessage(
        "", invalid_tool_calls=[{"name": "f", "args": "{oops", "id": "c9", "error": "bad json"}]
    )
    assert to_core_message(invalid)["tool_calls"][0]["function"]["arguments"] == "{oops"


def test_unknown_message_type_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as error:
        to_core_messages([HumanMessage("hi"), RemoveMessage(id="x")])
    assert error.value.details["index"] == 1
    assert "remove" in error.value.details["problem"]
