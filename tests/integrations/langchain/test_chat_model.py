"""HeadroomChatModel around a scripted model and a real ChatOpenAI (no network)."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    ToolMessage,
    convert_to_messages,
)
from langchain_openai import ChatOpenAI
from pydantic import BaseModel

from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import count_tokens_messages
from headroom_integrations.langchain import HeadroomCallbackHandler, HeadroomChatModel
from headroom_integrations.langchain._messages import to_core_messages
from tests.integrations.langchain._lc_models import ScriptedChatModel


@pytest.fixture
def conversation() -> list[BaseMessage]:
    return convert_to_messages(load_sample_conversation()["messages"])


def _tokens(messages: list[BaseMessage]) -> int:
    return count_tokens_messages(to_core_messages(messages), model="gpt-4o")


class _Starts(BaseCallbackHandler):
    def __init__(self) -> None:
        self.chat_model_runs: list[UUID] = []
        self.events: list[tuple[str, Any, UUID]] = []

    def on_chat_model_start(
        self, serialized: Any, messages: Any, *, run_id: UUID, **kwargs: Any
    ) -> None:
        self.chat_model_runs.append(run_id)

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data, run_id))


def test_is_a_chat_model() -> None:
    assert BaseChatModel in HeadroomChatModel.__mro__


def test_invoke_sends_fewer_tokens_and_keeps_the_reply(conversation: list[BaseMessage]) -> None:
    inner = ScriptedChatModel()
    llm = HeadroomChatModel(inner)
    starts = _Starts()

    reply = llm.invoke(conversation, config={"callbacks": [starts]})

    assert reply.content == "done"
    sent = inner.received[0]
    savings = reply.response_metadata["headroom"]
    assert savings["failed"] is False
    assert savings["tokens_before"] == _tokens(conversation)
    assert savings["tokens_after"] == _tokens(sent) < savings["tokens_before"]
    assert len(sent) == len(conversation)
    for before, after in zip(conversation, sent, strict=True):
        assert type(after) is type(before)
        if isinstance(before, AIMessage):
            assert after is before
        if isinstance(before, ToolMessage):
            assert after.tool_call_id == before.tool_call_id
            assert len(after.content) < len(before.content)
    assert sent[-1].content.endswith(conversation[-1].content)
    [llm_run] = starts.chat_model_runs
    [(name, data, run_id)] = starts.events
    assert (name, data, run_id) == ("headroom_savings", savings, llm_run)
    assert llm.get_metrics()["tokens_saved"] == savings["tokens_saved"]


def test_audit_mode_sends_the_same_objects(conversation: list[BaseMessage]) -> None:
    inner = ScriptedChatModel()

    reply = HeadroomChatModel(inner, mode="audit").invoke(conversation)

    assert all(a is b for a, b in zip(inner.received[0], conversation, strict=True))
    assert reply.response_metadata["headroom"]["tokens_saved"] == 0
    assert reply.response_metadata["headroom"]["tokens_before"] > 0


def test_stream_carries_savings_in_the_merged_message(conversation: list[BaseMessage]) -> None:
    inner = ScriptedChatModel(replies=[AIMessage("all runs are green")])
    llm = HeadroomChatModel(inner)
    handler = HeadroomCallbackHandler()

    chunks = list(llm.stream(conversation, config={"callbacks": [handler]}))

    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.content.strip() == "all runs are green"
    assert merged.response_metadata["headroom"]["tokens_saved"] > 0
    assert handler.total["requests"] == 1
    assert handler.total["tokens_saved"] == merged.response_metadata["headroom"]["tokens_saved"]


async def test_async_paths(conversation: list[BaseMessage]) -> None:
    inner = ScriptedChatModel()
    llm = HeadroomChatModel(inner)

    reply = await llm.ainvoke(conversation)
    chunks = [chunk async for chunk in llm.astream(conversation)]
    replies = await llm.abatch([conversation, conversation])

    assert reply.response_metadata["headroom"]["tokens_saved"] > 0
    assert "headroom" in chunks[0].response_metadata
    assert [r.content for r in replies] == ["done", "done"]
    assert llm.get_metrics()["requests"] == 4


def test_batch_counts_every_request(conversation: list[BaseMessage]) -> None:
    llm = HeadroomChatModel(ScriptedChatModel())
    handler = HeadroomCallbackHandler()

    llm.batch([conversation, conversation[:2]], config={"callbacks": [handler]})

    assert handler.total["requests"] == 2
    assert len(handler.per_run) == 2
    assert handler.total == {**llm.get_metrics()}


def test_inner_exception_propagates_unchanged(conversation: list[BaseMessage]) -> None:
    boom = ConnectionError("provider down")
    llm = HeadroomChatModel(ScriptedChatModel(fail_with=boom))

    with pytest.raises(ConnectionError) as raised:
        llm.invoke(conversation)

    assert raised.value is boom


def test_headroom_failure_sends_the_original_messages(caplog: pytest.LogCaptureFixture) -> None:
    inner = ScriptedChatModel()
    messages = [ChatMessage(content="be brief", role="critic"), *convert_to_messages(["hi"])]

    reply = HeadroomChatModel(inner).invoke(messages)

    assert reply.content == "done"
    assert all(a is b for a, b in zip(inner.received[0], messages, strict=True))
    assert reply.response_metadata["headroom"]["failed"] is True
    assert "sending it unchanged" in caplog.text


def test_bind_tools_keeps_compression_in_the_path() -> None:
    def get_weather(city: str) -> str:
        """Weather of a city."""
        return "sunny"

    llm = HeadroomChatModel(ChatOpenAI(model="gpt-4o-mini", api_key="sk-fake"))

    bound = llm.bind_tools([get_weather], tool_choice="get_weather")

    assert bound.bound is llm
    assert bound.kwargs["tools"][0]["function"]["name"] == "get_weather"
    assert bound.kwargs["tool_choice"]["function"]["name"] == "get_weather"


def test_delegates_identity_profile_and_token_counting() -> None:
    openai = HeadroomChatModel(ChatOpenAI(model="gpt-4o-mini", api_key="sk-fake"))
    scripted = HeadroomChatModel(ScriptedChatModel())

    params = openai._get_ls_params()
    assert (params["ls_provider"], params["ls_model_name"]) == ("openai", "gpt-4o-mini")
    assert openai.profile == openai.llm.profile
    assert openai._llm_type == "headroom-openai-chat"
    assert scripted.get_num_tokens_from_messages(convert_to_messages(["a b c"])) == 3


class Incident(BaseModel):
    """The failed CI run."""

    run_id: int
    commit: str


def test_structured_output_goes_through_compression(conversation: list[BaseMessage]) -> None:
    answer = {"run_id": 292080359, "commit": "4e74b5af49195487cc25e3c1ab441bf9847e0fd9"}
    inner = ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[{"name": "Incident", "args": answer, "id": "s1"}])]
    )
    llm = HeadroomChatModel(inner)
    starts = _Starts()

    raw_and_parsed = llm.with_structured_output(Incident, include_raw=True).invoke(
        conversation, config={"callbacks": [starts]}
    )

    assert raw_and_parsed["parsed"] == Incident(**answer)
    assert len(starts.chat_model_runs) == 1
    assert _tokens(inner.received[0]) < _tokens(conversation) / 2
    assert llm.get_metrics()["requests"] == 1


async def test_inner_model_that_cannot_stream_yields_one_chunk() -> None:
    inner = FakeMessagesListChatModel(responses=[AIMessage("whole reply")])
    llm = HeadroomChatModel(inner)
    messages = convert_to_messages(["hi"])

    chunks = list(llm.stream(messages))
    async_chunks = [chunk async for chunk in llm.astream(messages)]

    for received in (chunks, async_chunks):
        assert [c.content for c in received if c.content] == ["whole reply"]
        assert "headroom" in received[0].response_metadata


def test_a_request_that_cannot_fit_raises_before_the_inner_model_is_called() -> None:
    from langchain_core.messages import convert_to_messages

    from headroom_core.errors import ContextOverflowError
    from tests.support.agent_runs import agent_run

    inner = ScriptedChatModel(profile={"max_input_tokens": 4_300})
    with pytest.raises(ContextOverflowError, match="cannot fit"):
        HeadroomChatModel(inner).invoke(convert_to_messages(agent_run()[0]))
    assert inner.received == []


def _orders_conversation() -> list[Any]:
    from tests.support.orders import QUESTION, list_orders_output

    call = {"name": "list_orders", "args": {}, "id": "c1", "type": "tool_call"}
    return [
        HumanMessage(QUESTION),
        AIMessage("", tool_calls=[call]),
        ToolMessage(list_orders_output(), tool_call_id="c1"),
    ]


@pytest.mark.parametrize("path", ["invoke", "stream", "ainvoke", "astream"])
async def test_with_retrieval_the_wrapper_answers_the_models_retrieve_calls(path: str) -> None:
    from tests.integrations.langchain._lc_models import MarkerFollowingChatModel
    from tests.support.orders import ORDER_200

    inner = MarkerFollowingChatModel(query="id 200")
    llm = HeadroomChatModel(inner, retrieval=True)
    if path == "invoke":
        reply = llm.invoke(_orders_conversation())
    elif path == "ainvoke":
        reply = await llm.ainvoke(_orders_conversation())
    elif path == "stream":
        chunks = list(llm.stream(_orders_conversation()))
        reply = chunks[0]
        for chunk in chunks[1:]:
            reply += chunk
    else:
        chunks = [chunk async for chunk in llm.astream(_orders_conversation())]
        reply = chunks[0]
        for chunk in chunks[1:]:
            reply += chunk

    assert not reply.tool_calls  # the caller never sees headroom_retrieve
    assert json.dumps(ORDER_200) in reply.content
    assert len(inner.received) == 2 and inner.offered[0] == ["headroom_retrieve"]
    assert inner.received[1][-1].name == "headroom_retrieve"


def test_without_retrieval_markers_name_no_tool_and_none_is_offered() -> None:
    from tests.integrations.langchain._lc_models import MarkerFollowingChatModel

    inner = MarkerFollowingChatModel(query="id 200")
    HeadroomChatModel(inner).invoke(_orders_conversation())

    assert inner.offered == [[]]
    sent = str(inner.received[0][-1].content)
    assert "rows not shown" in sent and "headroom_retrieve" not in sent


def test_a_failure_is_recorded_as_a_failed_row_and_fail_open_false_raises(
    tmp_path: Any,
) -> None:
    from headroom_core.config import HeadroomConfig
    from headroom_core.errors import ValidationError

    messages = [ChatMessage(content="be brief", role="critic"), *convert_to_messages(["hi"])]
    store_url = f"sqlite:///{tmp_path / 'm.db'}"
    llm = HeadroomChatModel(ScriptedChatModel(), store_url=store_url)
    llm.invoke(messages)
    assert llm.headroom_engine.get_summary()["failures"] == 1

    strict = HeadroomChatModel(ScriptedChatModel(), config=HeadroomConfig(fail_open=False))
    with pytest.raises(ValidationError):
        strict.invoke(messages)


async def test_the_wrapped_models_reply_object_is_not_changed() -> None:
    import itertools

    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel

    shared = AIMessage("same object every time")
    llm = HeadroomChatModel(GenericFakeChatModel(messages=itertools.cycle([shared])))

    replies = await llm.abatch([[HumanMessage("first")], [HumanMessage("second, longer")]])

    assert "headroom" not in shared.response_metadata
    ids = {reply.response_metadata["headroom"]["request_id"] for reply in replies}
    assert len(ids) == 2
