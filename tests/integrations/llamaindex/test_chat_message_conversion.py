"""LlamaIndex ChatMessage <-> core dicts: what the engine sees, and a lossless way back."""

from __future__ import annotations

import json

from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from headroom_core.alignment import tag_origins
from headroom_core.messages import validate_messages
from headroom_integrations.llamaindex._messages import from_core_messages, to_core_messages


def conversation() -> list[ChatMessage]:
    return [
        ChatMessage(role=MessageRole.SYSTEM, content="You read logs."),
        ChatMessage(
            role=MessageRole.USER,
            blocks=[TextBlock(text="What failed here?"), ImageBlock(url="https://example.com/a.png")],
        ),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[
                ThinkingBlock(content="Need the log."),
                ToolCallBlock(tool_call_id="call_a", tool_name="read_log", tool_kwargs={"n": 5}),
            ],
        ),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            content="",
            additional_kwargs={
                "tool_calls": [
                    {"id": "call_b", "type": "function",
                     "function": {"name": "grep", "arguments": '{"q": "ERROR"}'}},
                    {"id": "toolu_c", "name": "stat", "input": {"path": "/var/log"}},
                ]
            },
        ),
        ChatMessage(role=MessageRole.TOOL, content="line 1\nline 2",
                    additional_kwargs={"tool_call_id": "call_a", "name": "read_log"}),
        ChatMessage(role=MessageRole.TOOL, content="no match",
                    additional_kwargs={"tool_call_id": "call_b"}),
        ChatMessage(role=MessageRole.TOOL, content="size 10",
                    additional_kwargs={"tool_call_id": "toolu_c"}),
    ]


def test_the_engine_sees_valid_openai_messages_with_every_tool_call() -> None:
    core = to_core_messages(conversation())
    validate_messages(core)
    roles = ["system", "user", "assistant", "assistant", "tool", "tool", "tool"]
    assert [m["role"] for m in core] == roles
    assert core[1]["content"] == [
        {"type": "text", "text": "What failed here?"}, {"type": "image"}
    ]
    assert core[2]["content"] is None
    assert core[2]["tool_calls"] == [
        {"id": "call_a", "type": "function",
         "function": {"name": "read_log", "arguments": '{"n": 5}'}}
    ]
    assert [call["id"] for call in core[3]["tool_calls"]] == ["call_b", "toolu_c"]
    assert json.loads(core[3]["tool_calls"][1]["function"]["arguments"]) == {"path": "/var/log"}
    assert core[4]["tool_call_id"] == "call_a" and core[4]["name"] == "read_log"


def test_unchanged_messages_come_back_as_the_same_objects() -> None:
    messages = conversation()
    back = from_core_messages(tag_origins(to_core_messages(messages)), messages)
    assert all(a is b for a, b in zip(back, messages, strict=True))


def test_changed_text_keeps_every_other_block_and_kwarg() -> None:
    messages = conversation()
    core = tag_origins(to_core_messages(messages))
    core[1] = {**core[1], "content": [{"type": "text", "text": "What failed?"}, {"type": "image"}]}
    core[4] = {**core[4], "content": "line 1 [x2]"}
    back = from_core_messages(core, messages)

    assert back[1] is not messages[1]
    assert back[1].content == "What failed?"
    assert isinstance(back[1].blocks[1], ImageBlock)
    assert back[4].content == "line 1 [x2]"
    assert back[4].additional_kwargs == {"tool_call_id": "call_a", "name": "read_log"}
    assert messages[4].content == "line 1\nline 2"


def test_dropped_and_engine_made_messages() -> None:
    messages = conversation()
    core = tag_origins(to_core_messages(messages))
    note = {"role": "system", "content": "Current date: 2026-11-26"}
    back = from_core_messages([core[0], note, *core[4:]], messages)

    assert back[0] is messages[0]
    assert back[1].role == MessageRole.SYSTEM and back[1].content == note["content"]
    assert back[2:] == messages[4:]
