"""The cars tool conversation: one query over a 200-row JSON tool result (vega ``cars``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

CARS: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "data" / "engine_cars_200.json").read_text(encoding="utf-8")
)
CARS_SYSTEM = "You are a careful data assistant. Quote numbers exactly as the tools return them."
CARS_TOOL_ARGUMENTS = '{"dataset": "cars", "limit": 200}'


def cars_conversation(
    content: str = CARS["content"], tool: str = "query_cars", *, named: bool = True
) -> list[dict[str, Any]]:
    """System prompt, the user's question, the tool call and its result (``content``).

    ``named`` puts the tool's name on the result message, as some SDK callers do.
    """
    result: dict[str, Any] = {"role": "tool", "tool_call_id": "call_cars_1", "content": content}
    if named:
        result["name"] = tool
    return [
        {"role": "system", "content": CARS_SYSTEM},
        {"role": "user", "content": CARS["query"]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_cars_1",
                    "type": "function",
                    "function": {"name": tool, "arguments": CARS_TOOL_ARGUMENTS},
                }
            ],
        },
        result,
    ]
