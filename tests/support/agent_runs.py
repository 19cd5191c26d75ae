"""An agent run built from real tool outputs kept in ``tests/data``: one task, many tool calls.

Request k is the run up to tool result k, as an agent sends it step after step.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data"
TASK = (
    "Our HDFS cluster and the build hosts misbehaved last night. Go through the logs, the CI runs "
    "and the code, and tell me which errors you find and where the JSON decoder handles bad input."
)
SYSTEM = "You are an on-call engineer's assistant. Quote ids, lines and numbers exactly."

# (tool, arguments, file): logs, JSON, code, search results and prose, as an agent reads them
_OUTPUTS = [
    ("read_log", {"path": "/var/log/hdfs/datanode.log"}, "lines/hdfs.log"),
    ("list_workflow_runs", {"repo": "ReDASers/Phishing-Detection"}, "github_workflow_runs.json"),
    ("read_log", {"path": "/var/log/auth.log", "host": "combo"}, "lines/linux.log"),
    ("read_file", {"path": "json/decoder.py"}, "code/json_decoder.py.txt"),
    ("read_log", {"path": "/var/log/httpd/error_log"}, "lines/apache.log"),
    ("search_code", {"pattern": "Requester"}, "lines/grep_requester.txt"),
    ("read_log", {"path": "CBS.log"}, "lines/windows.log"),
    ("read_file", {"path": "README.md"}, "prose/langsmith_sandbox_README.md"),
    ("read_log", {"path": "logcat.txt"}, "lines/android.log"),
    ("query_cars", {"limit": 200}, "engine_cars_200.json"),
]


def _content(path: str) -> str:
    text = (DATA / path).read_text(encoding="utf-8")
    if path.endswith(".json"):
        loaded = json.loads(text)
        if isinstance(loaded, dict) and "content" in loaded:
            return str(loaded["content"])
    return text


def agent_run(outputs: int = len(_OUTPUTS)) -> tuple[list[dict[str, Any]], list[int]]:
    """The run's messages and, per step, where its request ends."""
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": SYSTEM},
        {"role": "user", "content": TASK},
    ]
    ends = []
    for number, (tool, arguments, path) in enumerate(_OUTPUTS[:outputs]):
        call_id = f"call_{number}"
        messages.append(
            {
                "role": "assistant",
                "content": f"Step {number + 1}: calling {tool}.",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tool, "arguments": json.dumps(arguments)},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": _content(path)})
        ends.append(len(messages))
    return messages, ends
