"""Sample data shipped with the package, for the demo, the notebooks and first experiments."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["SAMPLE_CONVERSATION", "load_sample_conversation"]

SAMPLE_CONVERSATION = "sample_agent_conversation.json"


def load_sample_conversation() -> dict[str, Any]:
    """A realistic agent conversation: ``{"model": ..., "facts": [...], "messages": [...]}``.

    An on-call assistant reads CI runs (a GitHub API response), two host logs and a code search;
    the tool results are real public outputs (see ``data/SOURCES.md``), about 38K tokens in all.
    ``facts`` are verbatim strings (``{"text", "why"}``) the last question's answer depends on:
    an optimized request must still contain every one of them.

    Returns:
        A fresh dict on every call, so callers may change it freely.
    """
    text = (resources.files("headroom_core") / "data" / SAMPLE_CONVERSATION).read_text("utf-8")
    return json.loads(text)
