"""HeadroomMiddleware in create_agent: model -> tool -> compressed result -> model."""

from __future__ import annotations

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
