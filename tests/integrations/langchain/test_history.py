"""HeadroomChatMessageHistory keeps a long agent history under a token budget."""

from __future__ import annotations

import pytest
from langchain_core.chat_history import InMemoryChatMessageHistory
from langchain_core.messages import AIMessage, ToolMessage, convert_to_messages

from headroom_core.errors import ConfigurationError
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import count_tokens_messages
from headroom_integrations.langchain import HeadroomChatMessageHistory
from headroom_integrations.langchain._messages import to_core_messages


@pytest.fixture
def stored() -> InMemoryChatMessageHistory:
    history = InMemoryChatMessageHistory()
    history.add_messages(convert_to_messages(load_sample_conversation()["messages"]))
    return history


@pytest.mark.parametrize("budget", [12_000, 4_000])
def test_reads_back_within_the_budget_with_pairs_intact(
    stored: InMemoryChatMessageHistory, budget: int
) -> None:
    history = HeadroomChatMessageHistory(stored, max_tokens=budget)

    messages = history.messages

    assert count_tokens_messages(to_core_messages(messages)) <= budget
    assert messages[0].type == "system"
    assert messages[-1].content.endswith(stored.messages[-1].content)
    calls = {c["id"] for m in messages if isinstance(m, AIMessage) for c in m.tool_calls}
    results = {m.tool_call_id for m in messages if isinstance(m, ToolMessage)}
    assert calls == results
    assert len(stored.messages) == 15  # the full history stays in the wrapped store


def test_writes_go_to_the_wrapped_history(stored: InMemoryChatMessageHistory) -> None:
    history = HeadroomChatMessageHistory(stored, max_tokens=8_000)

    history.add_messages(convert_to_messages([("human", "thanks")]))
    assert stored.messages[-1].content == "thanks"
    history.clear()
    assert stored.messages == []


def test_budget_must_be_positive(stored: InMemoryChatMessageHistory) -> None:
    with pytest.raises(ConfigurationError) as error:
        HeadroomChatMessageHistory(stored, max_tokens=0)
    assert error.value.details["field"] == "max_tokens"
