"""compress(): the one-call form, on a conversation holding real tool outputs."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from headroom_core import CompressResult, compress
from headroom_core.config import HeadroomConfig, RetrievalConfig
from headroom_core.errors import ProviderError, ValidationError
from headroom_core.retrieval import retrieve
from headroom_core.tokenizer import Tokenizer

DATA = Path(__file__).resolve().parents[1] / "data" / "lines"
CASES = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))


def wrapped(name: str) -> list[dict[str, Any]]:
    """A case as an agent turn: system, user question, tool call, tool result."""
    case = CASES[name]
    return [
        {"role": "system", "content": "You answer questions about tool outputs."},
        {"role": "user", "content": case["query"]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "t1",
                    "type": "function",
                    "function": {"name": "read_output", "arguments": "{}"},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "t1",
            "content": (DATA / name).read_text(encoding="utf-8"),
        },
    ]


@pytest.mark.parametrize("name", sorted(CASES))
def test_compress_keeps_needles_and_counts_exactly(name: str) -> None:
    messages = wrapped(name)
    result = compress(messages, model="gpt-4o")
    assert isinstance(result, CompressResult)
    assert len(result.messages) == len(messages)
    assert result.messages[:3] == messages[:3]
    assert result.messages[3]["tool_call_id"] == "t1"
    text = result.messages[3]["content"]
    assert [n["text"] for n in CASES[name]["needles"] if n["text"] not in text] == []
    tokenizer = Tokenizer("gpt-4o")
    assert result.tokens_before == tokenizer.count_messages(messages)
    assert result.tokens_after == tokenizer.count_messages(result.messages)
    assert result.tokens_saved == result.tokens_before - result.tokens_after
    assert result.compression_ratio == pytest.approx(result.tokens_after / result.tokens_before)


def test_compress_saves_and_names_the_transform() -> None:
    result = compress(wrapped("hdfs.log"))
    assert result.tokens_saved > 0
    assert result.transforms_applied == ["tool_output_compression"]
    assert result.details["by_strategy"]["line_crusher"] > 0


def test_dropped_lines_come_back_by_the_reported_key() -> None:
    messages = wrapped("hdfs.log")
    result = compress(messages)

    [key] = result.retrieval_keys
    assert f'key "{key}"' in result.messages[3]["content"]
    original = messages[3]["content"].split("\n")
    dropped = retrieve(key)
    assert dropped and all(line in original for line in dropped)


def test_with_retrieval_disabled_nothing_names_a_key() -> None:
    config = HeadroomConfig(retrieval=RetrievalConfig(enabled=False))
    result = compress(wrapped("hdfs.log"), config=config)
    assert result.tokens_saved > 0 and result.retrieval_keys == []
    assert "headroom_retrieve" not in result.messages[3]["content"]


def test_model_selects_the_tokenizer() -> None:
    messages = wrapped("apache.log")
    result = compress(messages, model="gpt-4")
    assert result.tokens_before == Tokenizer("gpt-4").count_messages(messages)


def test_explicit_query_overrides_last_user_message() -> None:
    messages = wrapped("hdfs.log")
    wanted = [line for line in messages[3]["content"].split("\n") if "Served block" in line]
    result = compress(messages, query="Served block")
    assert all(line in result.messages[3]["content"] for line in wanted)


def test_token_budget_tightens_without_dropping_messages() -> None:
    messages = wrapped("android.log")
    loose = compress(messages)
    tight = compress(messages, token_budget=loose.tokens_after // 2)
    assert tight.tokens_after < loose.tokens_after
    assert len(tight.messages) == len(messages)
    assert tight.messages[:3] == messages[:3]


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [{"role": "wizard", "content": "hi"}],
        [{"role": "tool", "tool_call_id": "x", "content": "orphan result"}],
        [{"role": "user", "content": 42}],
    ],
)
def test_invalid_messages_raise_validation_error(bad: Any) -> None:
    with pytest.raises(ValidationError):
        compress(bad)


def _anthropic_turn(name: str) -> list[dict[str, Any]]:
    """The ``wrapped`` case as Anthropic Messages API messages (tool_use / tool_result blocks)."""
    return [
        {"role": "user", "content": CASES[name]["query"]},
        {
            "role": "assistant",
            "content": [{"type": "tool_use", "id": "t1", "name": "read_output", "input": {}}],
        },
        {
            "role": "user",
            "content": [
                {
                    "type": "tool_result",
                    "tool_use_id": "t1",
                    "content": (DATA / name).read_text(encoding="utf-8"),
                    "cache_control": {"type": "ephemeral"},
                }
            ],
        },
    ]


def test_anthropic_messages_come_back_as_anthropic_with_only_the_output_changed() -> None:
    messages = _anthropic_turn("hdfs.log")
    original = copy.deepcopy(messages)
    result = compress(messages, model="claude-sonnet-4-5")
    assert messages == original
    assert result.tokens_saved > 0
    assert result.messages[:2] == messages[:2]
    [block] = result.messages[2]["content"]
    assert {k: v for k, v in block.items() if k != "content"} == {
        k: v for k, v in messages[2]["content"][0].items() if k != "content"
    }  # cache_control stays on the block the caller put it on
    assert len(block["content"]) < len(messages[2]["content"][0]["content"])


def test_a_system_message_among_anthropic_messages_is_refused() -> None:
    messages = [{"role": "system", "content": "Be brief."}, *_anthropic_turn("hdfs.log")]
    with pytest.raises(ValidationError, match="Message 0 is a system message in Anthropic") as e:
        compress(messages)
    assert e.value.details["index"] == 0


@pytest.mark.parametrize("model", ["gpt4o", "gpt-5-ultra-nonexistent"])
def test_an_unknown_model_names_the_closest_known_ones(model: str) -> None:
    with pytest.raises(ProviderError, match=rf"Unknown model '{model}'\. Closest known models"):
        compress(wrapped("hdfs.log"), model=model)


def test_invalid_budget_raises() -> None:
    with pytest.raises(ValidationError, match="token_budget"):
        compress(wrapped("hdfs.log"), token_budget=0)


def test_conversation_without_tool_outputs_is_unchanged() -> None:
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hello!"}]
    result = compress(messages)
    assert (
        result.messages == messages and result.tokens_saved == 0 and result.transforms_applied == []
    )


@pytest.mark.parametrize("name", sorted(CASES))
def test_compressing_twice_changes_nothing(name: str) -> None:
    once = compress(wrapped(name))
    twice = compress(once.messages)
    assert twice.messages == once.messages and twice.tokens_saved == 0
