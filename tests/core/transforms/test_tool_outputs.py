"""ToolOutputCompressor over real tool outputs placed in an agent conversation."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from headroom_core.config import HeadroomConfig
from headroom_core.retrieval import InMemoryOriginalsStore
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms import ContentRouter, ToolOutputCompressor
from headroom_core.transforms.base import Transform
from headroom_core.transforms.tool_outputs import argument_terms

DATA = Path(__file__).resolve().parents[2] / "data" / "lines"
HDFS = (DATA / "hdfs.log").read_text(encoding="utf-8")
APACHE = (DATA / "apache.log").read_text(encoding="utf-8")
SUBSCRIPTIONS = (DATA / "gh_subscriptions.json").read_text(encoding="utf-8")


def call(call_id: str, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def conversation(
    question: str = "Which errors does the web server log show?",
) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are an operations assistant."},
        {"role": "user", "content": question},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                call("c1", "read_log", {"path": "/var/log/httpd/error_log"}),
                call("c2", "grep_hdfs", {"pattern": "Verification succeeded"}),
                call("c3", "list_subscriptions", {"user": "jacquev6"}),
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": APACHE},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": HDFS}]},
        {"role": "tool", "tool_call_id": "c3", "content": SUBSCRIPTIONS},
        {"role": "assistant", "content": "Looking at the outputs now."},
    ]


@pytest.fixture
def compressor() -> ToolOutputCompressor:
    return ToolOutputCompressor(router=ContentRouter(store=InMemoryOriginalsStore()))


def test_is_a_transform_named_tool_output_compression(compressor: ToolOutputCompressor) -> None:
    assert isinstance(compressor, Transform)
    assert compressor.name == "tool_output_compression"


def test_only_tool_contents_change(compressor: ToolOutputCompressor) -> None:
    messages = conversation()
    original = copy.deepcopy(messages)
    result = compressor.apply(messages)
    assert messages == original  # input untouched
    assert len(result.messages) == len(messages)
    for before, after in zip(messages, result.messages, strict=True):
        assert {k: v for k, v in before.items() if k != "content"} == {
            k: v for k, v in after.items() if k != "content"
        }
        if before["role"] != "tool":
            assert after == before
    assert result.messages[3]["content"] != APACHE
    assert isinstance(result.messages[4]["content"], list)  # text parts stay parts
    assert result.transforms_applied == ["tool_output_compression"]


def test_reports_savings_by_strategy(compressor: ToolOutputCompressor) -> None:
    messages = conversation()
    result = compressor.apply(messages)
    by_strategy = result.details["by_strategy"]
    assert "line_crusher" in by_strategy
    assert sum(by_strategy.values()) > 0
    tokenizer = get_tokenizer()
    assert result.tokens_before == tokenizer.count_messages(messages)
    assert result.tokens_after == tokenizer.count_messages(result.messages)
    assert result.tokens_saved > 0


def test_tool_call_arguments_join_the_query(compressor: ToolOutputCompressor) -> None:
    result = compressor.apply(conversation(question="Summarise these outputs."))
    hdfs_text = result.messages[4]["content"][0]["text"]
    asked = [line for line in HDFS.split("\n") if "Verification succeeded" in line]
    assert asked and all(line in hdfs_text for line in asked)


def test_explicit_query_wins(compressor: ToolOutputCompressor) -> None:
    wanted = next(line for line in HDFS.split("\n") if "Deleting block" in line)
    result = compressor.apply(conversation(), query="Deleting block")
    assert wanted in result.messages[4]["content"][0]["text"]


def test_tool_profiles(compressor: ToolOutputCompressor) -> None:
    result = compressor.apply(
        conversation(), tool_profiles={"read_log": {"skip_compression": True}}
    )
    assert result.messages[3]["content"] == APACHE
    assert result.messages[4]["content"][0]["text"] != HDFS


def test_applying_twice_changes_nothing(compressor: ToolOutputCompressor) -> None:
    once = compressor.apply(conversation())
    twice = compressor.apply(once.messages)
    assert twice.messages == once.messages
    assert twice.tokens_saved == 0 and twice.transforms_applied == []


def test_user_pasted_output_only_when_configured() -> None:
    store = InMemoryOriginalsStore()
    messages = [
        {"role": "system", "content": "You are an operations assistant."},
        {"role": "user", "content": HDFS},
        {"role": "assistant", "content": "That is an HDFS log. What do you want to know?"},
        {"role": "user", "content": "Which blocks were deleted?"},
    ]
    default = ToolOutputCompressor(router=ContentRouter(store=store)).apply(messages)
    assert default.messages == messages
    config = HeadroomConfig(compress_user_messages=True)
    pasted = ToolOutputCompressor(config, router=ContentRouter(config, store=store)).apply(messages)
    assert pasted.messages[1]["content"] != HDFS
    assert pasted.messages[3] == messages[3]


def test_token_budget_tightens_outputs(compressor: ToolOutputCompressor) -> None:
    messages = conversation()
    loose = compressor.apply(messages)
    budget = loose.tokens_after * 2 // 3
    tight = compressor.apply(messages, token_budget=budget)
    assert tight.tokens_after < loose.tokens_after
    assert len(tight.messages) == len(messages)


def test_messages_without_text_are_left_alone(compressor: ToolOutputCompressor) -> None:
    messages = conversation()
    messages[3] = {"role": "tool", "tool_call_id": "c1", "content": None}
    messages[5] = {"role": "tool", "tool_call_id": "c3", "content": 12345}
    result = compressor.apply(messages)
    assert result.messages[3] is messages[3] and result.messages[5] is messages[5]


def test_tool_arguments_join_the_query_as_plain_words() -> None:
    assert argument_terms('{"path": "GPL-3.txt", "lines": [1, 20], "recursive": true}') == (
        "GPL-3.txt 1 20"
    )
    assert argument_terms("{}") == ""
    assert argument_terms('not json "x"') == "not json  x"


def test_quoted_tool_arguments_do_not_outweigh_the_question() -> None:
    lines = [
        f"2024-06-03 10:{i // 60:02d}:{i % 60:02d} INFO account user{i} moved to plan silver"
        for i in range(400)
    ]
    lines[211] = "2024-06-03 10:03:31 INFO account alice moved to plan gold"
    messages = [
        {"role": "user", "content": "Which plan did alice move to?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function",
            "function": {"name": "read_log", "arguments": '{"path": "server.log"}'}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "\n".join(lines)},
    ]
    result = ToolOutputCompressor().apply(messages)
    assert result.tokens_after < result.tokens_before
    assert lines[211] in result.messages[-1]["content"]
