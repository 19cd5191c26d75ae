"""HeadroomTransformer as an LCEL step: inputs, outputs, sync/async/batch/stream, events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, convert_to_messages
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

from headroom_core.errors import ValidationError
from headroom_core.samples import load_sample_conversation
from headroom_integrations.langchain import HeadroomTransformer
from tests.integrations.langchain._lc_models import ScriptedChatModel

REPLY = AIMessage("the run failed on commit 4e74b5a")


@pytest.fixture
def conversation() -> list[BaseMessage]:
    return convert_to_messages(load_sample_conversation()["messages"])


@pytest.fixture
def prompt() -> ChatPromptTemplate:
    return ChatPromptTemplate.from_messages(
        [MessagesPlaceholder("history"), ("human", "{question}")]
    )


class _Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append({"name": name, "data": data, "run_id": run_id, **kwargs})

    def on_chain_start(self, serialized: Any, inputs: Any, **kwargs: Any) -> None:
        self.events.append({"name": "chain_start", **kwargs})


def test_types() -> None:
    transformer = HeadroomTransformer()
    assert transformer.OutputType == list[BaseMessage]
    assert "PromptValue" in str(transformer.InputType)


def test_prompt_transformer_model_chain(
    conversation: list[BaseMessage], prompt: ChatPromptTemplate
) -> None:
    model = ScriptedChatModel()
    chain = prompt | HeadroomTransformer() | model
    inputs = {"history": conversation[:-1], "question": conversation[-1].content}

    reply = chain.invoke(inputs)

    assert reply.content == "done"
    sent = model.received[0]
    assert len(sent) == len(conversation)
    assert sum(len(str(m.content)) for m in sent) < sum(len(str(m.content)) for m in conversation)
    assert sent[1] is conversation[1]


def test_returns_same_objects_when_nothing_to_do() -> None:
    messages = convert_to_messages([("system", "Be brief."), ("human", "What is 2 + 2?")])

    out = HeadroomTransformer().invoke(messages)

    assert all(a is b for a, b in zip(out, messages, strict=True))


def test_accepts_strings_and_prompt_values(prompt: ChatPromptTemplate) -> None:
    transformer = HeadroomTransformer()

    [from_string] = transformer.invoke("hello")
    from_prompt = transformer.invoke(prompt.invoke({"history": [], "question": "hi"}))

    assert isinstance(from_string, HumanMessage) and from_string.content == "hello"
    assert [m.content for m in from_prompt] == ["hi"]


def test_event_carries_tags_metadata_and_the_summary(conversation: list[BaseMessage]) -> None:
    handler = _Events()
    transformer = HeadroomTransformer()

    transformer.invoke(
        conversation,
        config={"callbacks": [handler], "tags": ["tenant-a"], "metadata": {"session": "s1"}},
    )

    start, event = handler.events
    assert start["metadata"]["headroom_tokens_saved"] == event["data"]["tokens_saved"]
    assert start["run_id"] == event["run_id"]
    assert event["name"] == "headroom_savings"
    assert event["data"]["tokens_saved"] > 0
    assert "tenant-a" in event["tags"]
    assert event["metadata"]["session"] == "s1"
    assert transformer.get_metrics()["tokens_saved"] == event["data"]["tokens_saved"]


def test_batch_and_stream(conversation: list[BaseMessage]) -> None:
    model = ScriptedChatModel(replies=[REPLY])
    chain = HeadroomTransformer() | model

    outs = chain.batch([conversation, conversation[:2]])
    chunks = list(chain.stream(conversation))

    assert [o.content for o in outs] == [REPLY.content] * 2
    assert "".join(str(c.content) for c in chunks).strip() == REPLY.content


async def test_async_forms_and_stream_events(conversation: list[BaseMessage]) -> None:
    chain = HeadroomTransformer() | ScriptedChatModel()

    reply = await chain.ainvoke(conversation)
    replies = await chain.abatch([conversation, conversation])
    chunks = [c async for c in chain.astream(conversation)]
    events = [e async for e in chain.astream_events(conversation, version="v2")]

    assert reply.content == "done"
    assert [r.content for r in replies] == ["done", "done"]
    assert "".join(str(c.content) for c in chunks).strip() == "done"
    custom = [e for e in events if e["event"] == "on_custom_event"]
    assert [e["name"] for e in custom] == ["headroom_savings"]
    assert custom[0]["data"]["tokens_saved"] > 0


def test_serializable() -> None:
    dumped = dumpd(HeadroomTransformer(model_name="gpt-4o-mini", mode="audit"))

    assert dumped["type"] == "constructor"
    assert dumped["kwargs"] == {"model_name": "gpt-4o-mini", "mode": "audit"}


def test_input_that_is_not_messages_is_a_validation_error() -> None:
    with pytest.raises(ValidationError) as error:
        HeadroomTransformer().invoke(42)
    assert error.value.details["type"] == "int"


def test_markers_name_no_tool_unless_retrieval_is_on() -> None:
    from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

    from tests.support.orders import QUESTION, list_orders_output

    call = {"name": "list_orders", "args": {}, "id": "c1", "type": "tool_call"}
    messages = [
        HumanMessage(QUESTION),
        AIMessage("", tool_calls=[call]),
        ToolMessage(list_orders_output(), tool_call_id="c1"),
    ]
    plain = HeadroomTransformer().invoke(messages)[-1].content
    assert "rows not shown" in plain and "headroom_retrieve" not in plain
    offered = HeadroomTransformer(retrieval=True).invoke(messages)[-1].content
    assert "call headroom_retrieve with key" in offered
