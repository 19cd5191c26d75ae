"""wrap_tools_with_headroom on tools returning real logs, API JSON and code search."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from langchain.agents import create_agent
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.tools import BaseTool, tool

from headroom_core.config import HeadroomConfig, RetrievalConfig
from headroom_core.samples import load_sample_conversation
from headroom_integrations.langchain import wrap_tools_with_headroom
from tests.integrations.langchain._lc_models import ScriptedChatModel

DATA = Path(__file__).parents[2] / "data" / "langchain"
HDFS = json.loads((DATA / "loghub-hdfs-a.json").read_text())
RUNS = next(m["content"] for m in load_sample_conversation()["messages"] if m.get("role") == "tool")


@tool
def read_log(host: str, pattern: str) -> str:
    """Read the datanode log of a host."""
    return HDFS["content"]


@tool
def list_runs(repo: str) -> list[dict[str, Any]]:
    """List the CI workflow runs of a repository."""
    return json.loads(RUNS)["workflow_runs"]


@tool(response_format="content_and_artifact")
def read_log_with_stats(host: str) -> tuple[str, dict[str, int]]:
    """Read a log and return line statistics as an artifact."""
    return HDFS["content"], {"lines": HDFS["content"].count("\n")}


class _Events(BaseCallbackHandler):
    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self.events.append((name, data))


def test_wrapped_tool_keeps_its_interface_and_comes_with_the_retrieve_tool() -> None:
    wrapped, retrieve = wrap_tools_with_headroom([read_log])

    assert retrieve.name == "headroom_retrieve"
    assert set(retrieve.tool_call_schema.model_json_schema()["properties"]) == {
        "key",
        "query",
        "offset",
    }

    assert isinstance(wrapped, BaseTool)
    assert (wrapped.name, wrapped.description) == (read_log.name, read_log.description)
    assert wrapped.tool_call_schema.model_json_schema() == (
        read_log.tool_call_schema.model_json_schema()
    )


def test_log_output_is_compressed_and_keeps_what_the_call_asks_for() -> None:
    wrapped, _retrieve = wrap_tools_with_headroom([read_log])
    events = _Events()

    output = wrapped.invoke(
        {"host": "datanode-1", "pattern": "Verification succeeded for"},
        config={"callbacks": [events]},
    )

    assert len(output) < len(HDFS["content"]) / 2
    for needle in HDFS["needles"]:
        if needle["why"] == "query":
            assert needle["text"] in output
    [(name, summary)] = events.events
    assert name == "headroom_savings"
    assert summary["transform_savings"]["line_crusher"] > 0
    assert wrapped.get_metrics()["tokens_saved"] == summary["tokens_saved"]


def test_json_output_via_a_tool_call_keeps_the_call_id() -> None:
    wrapped, _retrieve = wrap_tools_with_headroom([list_runs])
    call = {"type": "tool_call", "id": "call_9", "name": "list_runs", "args": {"repo": "a/b"}}

    message = wrapped.invoke(call)

    assert isinstance(message, ToolMessage)
    assert message.tool_call_id == "call_9"
    assert len(message.content) < len(RUNS) / 2
    assert "292080359" in message.content  # the failed run of the sample conversation


def test_skip_returns_the_original_tool() -> None:
    wrapped = wrap_tools_with_headroom([read_log, list_runs], skip={"read_log"})

    assert wrapped[0] is read_log
    assert wrapped[1] is not list_runs
    off = HeadroomConfig(retrieval=RetrievalConfig(enabled=False))
    assert len(wrap_tools_with_headroom([read_log], config=off)) == 1  # no marker names a tool


def test_content_and_artifact_keeps_the_artifact() -> None:
    wrapped, _retrieve = wrap_tools_with_headroom([read_log_with_stats])
    call = {"type": "tool_call", "id": "c1", "name": wrapped.name, "args": {"host": "dn"}}

    message = wrapped.invoke(call)

    assert message.artifact == {"lines": HDFS["content"].count("\n")}
    assert len(message.content) < len(HDFS["content"])


async def test_async_invoke() -> None:
    wrapped, _retrieve = wrap_tools_with_headroom([read_log])

    output = await wrapped.ainvoke({"host": "dn", "pattern": "Verification succeeded for"})

    assert len(output) < len(HDFS["content"]) / 2


def test_bad_profile_returns_the_output_unchanged(caplog: pytest.LogCaptureFixture) -> None:
    wrapped, _retrieve = wrap_tools_with_headroom(
        [list_runs], tool_profiles={"list_runs": {"max_items": "x"}}
    )

    output = wrapped.invoke({"repo": "a/b"})

    assert output == json.loads(RUNS)["workflow_runs"]
    assert wrapped.get_metrics()["failures"] == 1
    assert "returning it unchanged" in caplog.text


def test_agent_loop_with_wrapped_tools_stores_compressed_results() -> None:
    call = {"name": "read_log", "args": {"host": "dn", "pattern": "Verification"}, "id": "c1"}
    model = ScriptedChatModel(replies=[AIMessage("", tool_calls=[call]), AIMessage("Found it.")])
    agent = create_agent(model, wrap_tools_with_headroom([read_log]))

    state = agent.invoke({"messages": [HumanMessage(HDFS["query"])]})

    [result] = [m for m in state["messages"] if isinstance(m, ToolMessage)]
    assert result.tool_call_id == "c1"
    assert len(result.content) < len(HDFS["content"]) / 2
    assert model.received[1][-1].content == result.content
    assert state["messages"][-1].content == "Found it."
