"""HeadroomMiddleware in create_agent: model -> tool -> compressed result -> model."""

from __future__ import annotations

import json

import pytest
from langchain.agents import create_agent
from langchain.agents.middleware import AgentMiddleware
from langchain_core.messages import (
    AIMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult

from headroom_integrations.langchain import HeadroomCallbackHandler, HeadroomMiddleware
from tests.integrations.langchain._lc_models import ScriptedChatModel
from tests.support.workflow_agent import QUESTION, RUNS, list_workflow_runs, workflow_model

SYSTEM = "You are the on-call assistant. Quote run ids exactly."


def _question() -> dict:
    return {"messages": [HumanMessage(QUESTION)]}


def test_is_agent_middleware() -> None:
    assert AgentMiddleware in HeadroomMiddleware.__mro__


def test_agent_loop_sends_compressed_tool_results() -> None:
    model = workflow_model()
    middleware = HeadroomMiddleware()
    agent = create_agent(model, [list_workflow_runs], system_prompt=SYSTEM, middleware=[middleware])
    handler = HeadroomCallbackHandler()

    state = agent.invoke(_question(), config={"callbacks": [handler]})

    first, second = model.received
    assert isinstance(first[0], SystemMessage) and first[0].content == SYSTEM
    sent_result = second[-1]
    assert isinstance(sent_result, ToolMessage) and sent_result.tool_call_id == "c1"
    assert len(sent_result.content) < len(RUNS) / 2
    assert "292080359" in sent_result.content
    [stored_result] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert stored_result.content == RUNS  # the agent state keeps the full output
    final = state["messages"][-1]
    assert final.content == "Run 292080359 failed."
    assert final.response_metadata["headroom"]["tokens_saved"] > 0
    metrics = middleware.get_metrics()
    assert metrics["requests"] == 2
    assert handler.total["tokens_saved"] == metrics["tokens_saved"]


async def test_async_agent() -> None:
    model = workflow_model()
    agent = create_agent(model, [list_workflow_runs], middleware=[HeadroomMiddleware()])

    state = await agent.ainvoke(_question())

    assert state["messages"][-1].content == "Run 292080359 failed."
    assert len(model.received[1][-1].content) < len(RUNS) / 2


def test_audit_mode_measures_without_changing_the_request() -> None:
    model = workflow_model()
    middleware = HeadroomMiddleware(mode="audit")
    agent = create_agent(model, [list_workflow_runs], middleware=[middleware])

    agent.invoke(_question())

    assert model.received[1][-1].content == RUNS
    assert middleware.get_metrics()["tokens_saved"] == 0
    assert middleware.get_metrics()["tokens_before"] > 0


def test_headroom_failure_lets_the_agent_run(caplog: pytest.LogCaptureFixture) -> None:
    model = ScriptedChatModel(replies=[AIMessage("fine")])
    middleware = HeadroomMiddleware()
    agent = create_agent(model, [], middleware=[middleware])
    odd = ChatMessage(content="rate the answer", role="critic")

    state = agent.invoke({"messages": [HumanMessage("hi"), odd]})

    assert state["messages"][-1].content == "fine"
    assert [m.content for m in model.received[0]] == ["hi", "rate the answer"]
    assert middleware.get_metrics()["failures"] == 1
    assert "sending it unchanged" in caplog.text


def test_an_agent_run_too_big_for_the_window_raises_before_the_model_is_called() -> None:
    from langchain_core.messages import convert_to_messages

    from headroom_core.errors import ContextOverflowError
    from tests.support.agent_runs import agent_run

    messages, _ = agent_run()
    model = ScriptedChatModel(profile={"max_input_tokens": 4_300})
    agent = create_agent(model, [], middleware=[HeadroomMiddleware()])

    with pytest.raises(ContextOverflowError, match="the budget is 300"):
        agent.invoke({"messages": convert_to_messages(messages[1:])})
    assert model.received == []


def test_an_agent_run_over_the_window_is_fitted_with_stubs() -> None:
    from langchain_core.messages import convert_to_messages

    from headroom_core.tokenizer import get_tokenizer
    from headroom_integrations.langchain._messages import to_core_messages
    from tests.support.agent_runs import agent_run
    from tests.support.conversations import assert_valid_request

    messages, _ = agent_run()
    model = ScriptedChatModel(profile={"max_input_tokens": 14_000})
    agent = create_agent(model, [], middleware=[HeadroomMiddleware()])

    agent.invoke({"messages": convert_to_messages(messages)})

    [sent] = [to_core_messages(batch) for batch in model.received]
    assert get_tokenizer("gpt-4o").count_messages(sent) <= 10_000
    assert_valid_request(sent)
    assert any("left out to fit the context window" in str(m["content"]) for m in sent)


def test_the_model_follows_a_marker_and_gets_the_dropped_row_back() -> None:
    from langchain_core.tools import tool

    from tests.integrations.langchain._lc_models import MarkerFollowingChatModel
    from tests.support.orders import ORDER_200, QUESTION, list_orders_output

    @tool
    def list_orders() -> str:
        """List the orders."""
        return list_orders_output()

    calls = iter([AIMessage("", tool_calls=[{"name": "list_orders", "args": {}, "id": "c1"}])])

    class Model(MarkerFollowingChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):  # type: ignore[no-untyped-def]
            if len(messages) == 1:  # the question: call the tool first
                self.offered.append([t["function"]["name"] for t in kwargs.get("tools") or []])
                return ChatResult(generations=[ChatGeneration(message=next(calls))])
            return super()._generate(messages, stop, run_manager, **kwargs)

    model = Model(query="id 200")
    agent = create_agent(model, [list_orders], middleware=[HeadroomMiddleware()])

    state = agent.invoke({"messages": [HumanMessage(QUESTION)]})

    assert all("headroom_retrieve" in names for names in model.offered)
    retrieved = [
        m for m in state["messages"] if isinstance(m, ToolMessage) and m.name == "headroom_retrieve"
    ]
    assert len(retrieved) == 1 and retrieved[0].status != "error"
    answer = json.loads(retrieved[0].content)
    assert answer["items"][0] == ORDER_200
    assert len(answer["items"]) <= 5
    assert "error" not in answer
    assert json.dumps(ORDER_200) in state["messages"][-1].content


def test_with_retrieval_off_no_tool_is_offered_and_no_marker_names_one() -> None:
    from headroom_core.config import HeadroomConfig, RetrievalConfig

    middleware = HeadroomMiddleware(HeadroomConfig(retrieval=RetrievalConfig(enabled=False)))
    assert middleware.tools == []
    model = workflow_model()
    agent = create_agent(model, [list_workflow_runs], middleware=[middleware])
    agent.invoke(_question())
    assert "headroom_retrieve" not in model.received[1][-1].content
