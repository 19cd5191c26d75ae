"""HeadroomLLM: chat requests of chat engines and agents go through the one engine."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.mock import MockFunctionCallingLLMWithChatMemoryOfLastCall, MockLLM
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool

from headroom_core.config import HeadroomConfig
from headroom_core.errors import ConfigurationError
from headroom_core.storage import MetricsStore
from headroom_core.tokenizer import get_tokenizer
from headroom_integrations.llamaindex import HeadroomChatOptimizeEvent, HeadroomLLM
from tests.integrations.llamaindex.llamaindex_support import (
    Case,
    EventCollector,
    PromptRecordingLLM,
)

TOKENIZER = get_tokenizer("gpt-4o")


def tool_conversation(case: Case) -> list[ChatMessage]:
    """System, question, an assistant tool call and the real tool output answering it."""
    return [
        ChatMessage(role=MessageRole.SYSTEM, content="You answer from tool outputs."),
        ChatMessage(role=MessageRole.USER, content=case.query),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[ToolCallBlock(tool_call_id="call_1", tool_name="read_log",
                                  tool_kwargs={"path": "/var/log/messages"})],
        ),
        ChatMessage(role=MessageRole.TOOL, content=case.content,
                    additional_kwargs={"tool_call_id": "call_1"}),
    ]


@pytest.fixture
def inner() -> MockFunctionCallingLLMWithChatMemoryOfLastCall:
    return MockFunctionCallingLLMWithChatMemoryOfLastCall()


@pytest.fixture
def linux_case() -> Case:
    from tests.integrations.llamaindex.llamaindex_support import load_case

    return load_case("loghub-linux-a")


def assert_compressed_and_paired(
    sent: list[ChatMessage], original: list[ChatMessage], case: Case
) -> None:
    assert [m.role for m in sent] == [m.role for m in original]
    assert all(a is b for a, b in zip(sent[:3], original[:3], strict=True))
    tool = sent[3]
    assert tool.additional_kwargs == {"tool_call_id": "call_1"}
    assert TOKENIZER.count_text(tool.content) < TOKENIZER.count_text(case.content) / 2
    for needle in case.needles:
        assert needle in tool.content
    assert original[3].content == case.content


def test_is_a_function_calling_llm(inner: MockFunctionCallingLLMWithChatMemoryOfLastCall) -> None:
    llm = HeadroomLLM(llm=inner)
    assert FunctionCallingLLM in HeadroomLLM.__mro__
    assert llm.metadata == inner.metadata
    assert HeadroomLLM.class_name() == "HeadroomLLM"


def test_invalid_setting_names_the_field(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall,
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        HeadroomLLM(llm=inner, model_limit=0)
    assert caught.value.details["field"] == "model_limit"


def test_chat_compresses_tool_output_and_keeps_the_pair(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall, linux_case: Case, events: EventCollector
) -> None:
    messages = tool_conversation(linux_case)
    response = HeadroomLLM(llm=inner).chat(messages)

    assert response.message.content == "Tool calls complete."
    assert_compressed_and_paired(list(inner.last_chat_messages), messages, linux_case)
    (event,) = events.of_type(HeadroomChatOptimizeEvent)
    assert event.tokens_before > event.tokens_after
    assert event.messages_in == event.messages_out == 4
    assert not event.failed


async def test_async_and_streaming_paths(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall, linux_case: Case
) -> None:
    messages = tool_conversation(linux_case)
    llm = HeadroomLLM(llm=inner)

    await llm.achat(messages)
    assert_compressed_and_paired(list(inner.last_chat_messages), messages, linux_case)
    chunks = [chunk async for chunk in await llm.astream_chat(messages)]
    assert chunks and inner.last_called_chat_function[-1] == "astream_chat"
    assert_compressed_and_paired(list(inner.last_chat_messages), messages, linux_case)
    assert list(llm.stream_chat(messages))
    assert_compressed_and_paired(list(inner.last_chat_messages), messages, linux_case)


def test_audit_mode_measures_without_changing(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall, linux_case: Case, events: EventCollector
) -> None:
    messages = tool_conversation(linux_case)
    HeadroomLLM(llm=inner, mode="audit").chat(messages)
    assert all(a is b for a, b in zip(inner.last_chat_messages, messages, strict=True))
    (event,) = events.of_type(HeadroomChatOptimizeEvent)
    assert event.mode == "audit" and event.tokens_before == event.tokens_after > 0


def test_openai_tool_definitions_count_against_the_window(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall, linux_case: Case, events: EventCollector
) -> None:
    tool = {
        "type": "function",
        "function": {
            "name": "read_log",
            "description": "Read a log file.",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    }
    llm = HeadroomLLM(llm=inner, mode="audit")
    llm.chat(tool_conversation(linux_case))
    llm.chat(tool_conversation(linux_case), tools=[tool])
    without, with_tools = events.of_type(HeadroomChatOptimizeEvent)
    assert with_tools.tokens_before - without.tokens_before == TOKENIZER.count_tools([tool]) > 0


def _memory() -> ChatMemoryBuffer:
    """An agent memory without the default async SQLite chat store, whose worker thread would
    outlive the test's event loop and report it closed."""
    return ChatMemoryBuffer.from_defaults()


def test_a_request_the_engine_rejects_is_sent_unchanged(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall, events: EventCollector, caplog
) -> None:
    orphan = [
        ChatMessage(role=MessageRole.USER, content="hi"),
        ChatMessage(
            role=MessageRole.TOOL, content="result", additional_kwargs={"tool_call_id": "x"}
        ),
    ]
    llm = HeadroomLLM(llm=inner, store_url="sqlite://")
    llm.chat(orphan)
    assert all(a is b for a, b in zip(inner.last_chat_messages, orphan, strict=True))
    assert "sending it unchanged" in caplog.text
    (event,) = events.of_type(HeadroomChatOptimizeEvent)
    assert event.failed
    assert llm.engine.get_summary()["failures"] == 1
    from headroom_core.errors import ValidationError

    with pytest.raises(ValidationError):
        HeadroomLLM(inner, config=HeadroomConfig(fail_open=False)).chat(orphan)


async def test_function_agent_tool_results_are_compressed(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall, linux_case: Case, tmp_path
) -> None:
    def read_log(path: str = "/var/log/messages") -> str:
        """Read a system log file."""
        return linux_case.content

    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    llm = HeadroomLLM(llm=inner, store_url=url)
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(fn=read_log)], llm=llm)
    await agent.run(user_msg=linux_case.query, memory=_memory())

    sent = list(inner.last_chat_messages)
    (tool,) = [m for m in sent if m.role == MessageRole.TOOL]
    (call,) = [m for m in sent if m.role == MessageRole.ASSISTANT and m.blocks]
    call_ids = [b.tool_call_id for b in call.blocks if isinstance(b, ToolCallBlock)]
    assert call_ids == [tool.additional_kwargs["tool_call_id"]]
    assert TOKENIZER.count_text(tool.content) < TOKENIZER.count_text(linux_case.content) / 2
    for needle in linux_case.needles:
        assert needle in tool.content

    assert llm.engine.store is not None and llm.engine.store.flush()
    reader = MetricsStore(url)
    try:
        rows = reader.query(source="llamaindex")
    finally:
        reader.close()
    assert len(rows) == 2  # one row per LLM call of the agent loop
    assert max(row.tokens_saved for row in rows) > 0


@pytest.fixture
def long_history(log_cases: list[Case]) -> Iterator[list[ChatMessage]]:
    """Earlier turns in which the assistant pasted whole real logs."""
    history = []
    for case in log_cases:
        history.append(ChatMessage(role=MessageRole.USER, content=f"Show me {case.id}."))
        history.append(ChatMessage(role=MessageRole.ASSISTANT, content=case.content))
    yield history


def test_context_chat_engine_fits_a_long_conversation(
    log_index, hdfs_case: Case, long_history: list[ChatMessage]
) -> None:
    recorder = PromptRecordingLLM()
    config = HeadroomConfig.model_validate(
        {"intelligent_context": {"output_buffer_tokens": 500}}
    )
    llm = HeadroomLLM(recorder, model_name="gpt-4o", model_limit=8000, config=config)
    chat_engine = log_index.as_chat_engine(
        chat_mode="context",
        llm=llm,
        similarity_top_k=3,
        memory=ChatMemoryBuffer.from_defaults(chat_history=long_history, token_limit=100_000),
    )
    chat_engine.chat(hdfs_case.query)

    (prompt,) = recorder.prompts
    history_tokens = sum(TOKENIZER.count_text(m.content) for m in long_history)
    assert history_tokens > 12_000
    assert TOKENIZER.count_text(prompt) <= 8000
    assert hdfs_case.query in prompt


def test_completion_calls_go_through_the_engine_and_are_recorded() -> None:
    llm = HeadroomLLM(MockLLM(), store_url="sqlite://")
    assert llm.complete("echo me").text == "echo me"
    assert llm.engine.get_summary()["total_requests"] == 1


def test_settings_are_checked_when_built_and_the_old_model_name_still_works(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall,
) -> None:
    from headroom_core.adapter_settings import HeadroomDeprecationWarning
    from headroom_core.errors import ProviderError

    with pytest.raises(ProviderError, match="gpt-4o"):
        HeadroomLLM(inner, model_name="gpt4o")
    with pytest.raises(ConfigurationError, match="store_url"):
        HeadroomLLM(inner, store_url="nope")
    with pytest.raises(ConfigurationError, match="Did you mean model_name"):
        HeadroomLLM(inner, model_nme="gpt-4o")
    with pytest.warns(HeadroomDeprecationWarning, match="use model_name="):
        llm = HeadroomLLM(llm=inner, model="gpt-4o-mini")
    assert llm.model_name == "gpt-4o-mini"


def test_a_request_that_cannot_fit_raises_before_the_llm_is_called(
    inner: MockFunctionCallingLLMWithChatMemoryOfLastCall, linux_case: Case
) -> None:
    from headroom_core.errors import ContextOverflowError

    llm = HeadroomLLM(llm=inner, model_limit=4_100)
    with pytest.raises(ContextOverflowError, match="the budget is 100"):
        llm.chat(tool_conversation(linux_case))
    assert inner.last_chat_messages is None


def _marker_follower(messages: list[ChatMessage], **kwargs: object) -> ChatMessage:
    """A model that calls list_orders, follows the marker in its output with the query
    ``id 200``, and answers with what headroom_retrieve returned."""
    import re

    names = [tool.metadata.name for tool in kwargs.get("tools") or []]  # type: ignore[attr-defined]
    last = messages[-1]
    if last.role == MessageRole.TOOL and last.additional_kwargs.get("name") == "headroom_retrieve":
        return ChatMessage(role=MessageRole.ASSISTANT, content=f"Retrieved: {last.content}")
    marker = re.search(r'headroom_retrieve with key "([0-9a-f]+)"', str(last.content))
    if last.role == MessageRole.TOOL and marker and "headroom_retrieve" in names:
        call = ToolCallBlock(tool_call_id="retrieve_1", tool_name="headroom_retrieve",
                             tool_kwargs={"key": marker[1], "query": "id 200"})
        return ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])
    if last.role == MessageRole.USER:
        call = ToolCallBlock(tool_call_id="orders_1", tool_name="list_orders", tool_kwargs={})
        return ChatMessage(role=MessageRole.ASSISTANT, blocks=[call])
    return ChatMessage(role=MessageRole.ASSISTANT, content="Nothing to add.")


async def test_function_agent_model_follows_a_marker_and_gets_the_row() -> None:
    import json

    from llama_index.core.agent.workflow import ToolCallResult
    from llama_index.core.llms.mock import MockFunctionCallingLLM

    from tests.support.orders import ORDER_200, QUESTION, list_orders_output

    def list_orders() -> str:
        """List the orders."""
        return list_orders_output()

    inner = MockFunctionCallingLLM(response_generator=_marker_follower)
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(fn=list_orders)], llm=HeadroomLLM(llm=inner)
    )
    handler = agent.run(user_msg=QUESTION, memory=_memory())
    called = [
        event.tool_name async for event in handler.stream_events()
        if isinstance(event, ToolCallResult)
    ]
    response = await handler

    assert called == ["list_orders"]  # the agent never saw headroom_retrieve
    assert json.dumps(ORDER_200) in str(response.response.content)
