"""RollingWindow: whole oldest turns go first, tool pairs stay together, the minimum is kept."""

from __future__ import annotations

import copy

import pytest

from headroom_core.config import RollingWindowConfig
from headroom_core.errors import ValidationError
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms.rolling_window import RollingWindow
from tests.support.conversations import assert_valid_request, build_conversation

TOKENIZER = get_tokenizer("gpt-4o")
TURN = {"user_words": 20, "exchanges": [[6, 4]], "reply_words": 30}


def _conversation(turns: int = 8) -> list[dict]:
    return build_conversation([TURN] * turns)


def test_fits_by_dropping_oldest_whole_turns_and_says_so():
    messages = _conversation()
    before = TOKENIZER.count_messages(messages)
    budget = before // 2
    result = RollingWindow(RollingWindowConfig(preserve_recent_turns=1)).apply(
        messages, max_tokens=budget
    )

    assert result.tokens_after <= budget < result.tokens_before == before
    assert result.tokens_after == TOKENIZER.count_messages(result.messages)
    assert result.messages[0] == messages[0]
    assert result.messages[-1] == messages[-1]
    marker = result.messages[1]
    assert marker["role"] == "system"
    assert f"{result.details['dropped_messages']} messages" in marker["content"]
    kept_questions = [m["content"] for m in result.messages if m["role"] == "user"]
    all_questions = [m["content"] for m in messages if m["role"] == "user"]
    assert kept_questions == all_questions[-len(kept_questions) :]  # the oldest went first
    assert result.details["dropped_turns"] == len(all_questions) - len(kept_questions)
    assert_valid_request(result.messages)


def test_under_budget_is_unchanged_and_input_is_not_mutated():
    messages = _conversation(3)
    snapshot = copy.deepcopy(messages)
    result = RollingWindow().apply(messages, max_tokens=10**6)
    assert result.messages == messages
    assert result.transforms_applied == []
    assert messages == snapshot


def test_keeps_the_preserved_turns_and_flags_when_they_alone_overflow():
    messages = _conversation(4)
    result = RollingWindow(RollingWindowConfig(preserve_recent_turns=2)).apply(
        messages, max_tokens=50
    )
    assert result.details["over_budget"] is True
    assert result.warnings
    users = [m for m in result.messages if m["role"] == "user"]
    assert users == [m for m in messages if m["role"] == "user"][-2:]
    assert_valid_request(result.messages)


def test_is_idempotent_and_rewrites_its_marker_when_dropping_more():
    messages = _conversation(10)
    window = RollingWindow(RollingWindowConfig(preserve_recent_turns=1))
    budget = TOKENIZER.count_messages(messages) // 2
    first = window.apply(messages, max_tokens=budget)
    again = window.apply(first.messages, max_tokens=budget)
    assert again.messages == first.messages

    smaller = window.apply(first.messages, max_tokens=budget // 2)
    markers = [
        m for m in smaller.messages if m["content"] and str(m["content"]).startswith("[Earlier")
    ]
    assert len(markers) == 1
    total_dropped = first.details["dropped_messages"] + smaller.details["dropped_messages"]
    assert f"{total_dropped} messages" in markers[0]["content"]


def test_drop_newest_first_keeps_the_opening_turns():
    messages = _conversation(6)
    config = RollingWindowConfig(preserve_recent_turns=1, drop_oldest_first=False)
    result = RollingWindow(config).apply(
        messages, max_tokens=TOKENIZER.count_messages(messages) // 2
    )
    users = [m["content"] for m in result.messages if m["role"] == "user"]
    assert users[0].startswith("Q0:") and users[-1].startswith("Q5:")
    assert len(users) < 6


def test_config_budget_is_the_default():
    messages = _conversation(6)
    budget = TOKENIZER.count_messages(messages) // 3
    result = RollingWindow(RollingWindowConfig(max_tokens=budget, preserve_recent_turns=1)).apply(
        messages
    )
    assert result.tokens_after <= budget


def test_bad_input_names_the_message():
    with pytest.raises(ValidationError) as error:
        RollingWindow().apply(
            [
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "x", "content": "1"},
            ]
        )
    assert error.value.details["index"] == 1


def test_real_agent_conversation_stays_a_valid_request():
    messages = load_sample_conversation()["messages"]
    result = RollingWindow(RollingWindowConfig(preserve_recent_turns=2)).apply(
        messages, TOKENIZER, max_tokens=20_000
    )
    assert result.tokens_after <= 20_000
    assert result.messages[0] == messages[0]
    assert result.messages[-1] == messages[-1]
    assert_valid_request(result.messages)
