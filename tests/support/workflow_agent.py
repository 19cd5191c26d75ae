"""An agent's CI question, the tool that answers it with real workflow-run JSON, and a scripted
model that calls the tool once and then answers."""

from __future__ import annotations

from langchain_core.messages import AIMessage
from langchain_core.tools import tool

from headroom_core.samples import load_sample_conversation
from tests.integrations.langchain._lc_models import ScriptedChatModel

RUNS = next(m["content"] for m in load_sample_conversation()["messages"] if m.get("role") == "tool")
QUESTION = "Which workflow run failed on the x_spam_flag branch?"


@tool
def list_workflow_runs(repo: str) -> str:
    """List the CI workflow runs of a repository."""
    return RUNS


def workflow_model() -> ScriptedChatModel:
    """Calls ``list_workflow_runs`` once, then names the failed run."""
    call = {
        "name": "list_workflow_runs",
        "args": {"repo": "ReDASers/Phishing-Detection"},
        "id": "c1",
    }
    return ScriptedChatModel(
        replies=[AIMessage("", tool_calls=[call]), AIMessage("Run 292080359 failed.")]
    )
