"""create_headroom_node in a real LangGraph agent loop: the state keeps compressed tool results."""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode

from headroom_integrations.langchain import create_headroom_node
from tests.integrations.langchain._lc_models import ScriptedChatModel
from tests.support.workflow_agent import QUESTION, RUNS, list_workflow_runs, workflow_model


def _graph(model: ScriptedChatModel) -> Any:
    def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        return "tools" if state["messages"][-1].tool_calls else END

    graph = StateGraph(MessagesState)
    graph.add_node("agent", agent)
    graph.add_node("tools", ToolNode([list_workflow_runs]))
    graph.add_node("compress", create_headroom_node())
    graph.add_edge(START, "agent")
    graph.add_conditional_edges("agent", route, ["tools", END])
    graph.add_edge("tools", "compress")
    graph.add_edge("compress", "agent")
    return graph.compile()


def test_tool_results_in_the_state_are_replaced_by_compressed_ones() -> None:
    model = workflow_model()
    question = HumanMessage(QUESTION)

    state = _graph(model).invoke({"messages": [question]})

    [tool_message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert tool_message.tool_call_id == "c1"
    assert len(tool_message.content) < len(RUNS) / 2
    assert "292080359" in tool_message.content
    second_call = model.received[1]
    assert second_call[-1].content == tool_message.content
    assert [type(m).__name__ for m in state["messages"]] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]


async def test_async_graph() -> None:
    state = await _graph(workflow_model()).ainvoke(
        {"messages": [HumanMessage("Which run failed?")]}
    )

    [tool_message] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert len(tool_message.content) < len(RUNS) / 2


def test_node_returns_only_rewritten_tool_messages() -> None:
    node = create_headroom_node()
    small = ToolMessage(json.dumps({"ok": True}), tool_call_id="c2", id="t2")
    state = {
        "messages": [
            HumanMessage("status?", id="h1"),
            AIMessage("", tool_calls=[{"name": "s", "args": {}, "id": "c2"}], id="a1"),
            small,
        ]
    }

    assert node.invoke(state) == {"messages": []}
