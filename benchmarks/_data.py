"""Load the public corpus of real tool outputs for benchmarks.

The corpus lives outside the package: its directory comes from the ``HEADROOM_CORPUS`` environment
variable, else ``../shared/corpus`` next to the repository. Each case is one JSON file with
``id``, ``kind``, ``query``, ``content`` (or ``messages``) and ``needles``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

__all__ = ["case_messages", "corpus_root", "load_cases", "publish"]

REPO_ROOT = Path(__file__).resolve().parents[1]


def corpus_root() -> Path | None:
    """The corpus directory, or None when neither the variable nor the default exists."""
    configured = os.environ.get("HEADROOM_CORPUS")
    root = Path(configured) if configured else REPO_ROOT.parent / "shared" / "corpus"
    return root if root.is_dir() else None


def load_cases(kind: str | None = None, split: str = "public") -> list[dict[str, Any]]:
    """Cases of ``kind`` (all kinds when None) from ``split``, sorted by id; [] without a corpus."""
    root = corpus_root()
    if root is None:
        return []
    base = root / split if (root / split).is_dir() else root
    cases = []
    for path in sorted(base.rglob("*.json")):
        case = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(case, dict) and "kind" in case and (kind is None or case["kind"] == kind):
            cases.append(case)
    return sorted(cases, key=lambda case: case["id"])


def case_messages(case: dict[str, Any], tool_name: str = "run_tool") -> list[dict[str, Any]]:
    """The case as a chat request: system, user question, assistant tool call, tool result."""
    if case["kind"] == "conversation":
        return case["messages"]
    call_id = f"call_{case['id']}"[:40]
    return [
        {"role": "system", "content": "You are a careful assistant. Answer from the tool output."},
        {"role": "user", "content": case.get("query") or "Summarise this output."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": tool_name, "arguments": json.dumps({"case": case["id"]})},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": case["content"]},
    ]


def publish(text: str, path: Path) -> None:
    """Write a benchmark's table to ``path`` (for ``benchmarks/results`` and the docs) and print
    it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    print(text)
