"""Tool-output importance learning: which tools' outputs the model goes on to use.

Fitting has to decide which old tool results to drop. A tool whose outputs the model keeps quoting
(ids, numbers, names it later repeats) is worth more context than one whose outputs it ignores.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from headroom_core._textmemo import text_memo
from headroom_core.errors import StorageError
from headroom_core.messages import content_text, tool_call_arguments
from headroom_core.relevance.terms import compound_tokens

__all__ = ["ToolImportanceLearner", "salient_terms"]


@text_memo(maxsize=4096)
def salient_terms(text: str) -> frozenset[str]:
    """Identifier-like terms of ``text`` that a later message quoting it would repeat.

    Tokens of four or more characters holding a digit or an identifier separator (``_ . / : -``):
    ids, numbers, paths, ``snake_case`` names, versions. Plain words are left out because every
    message shares them.
    """
    return frozenset(
        token
        for token in compound_tokens(text)
        if len(token) >= 4 and (any(c.isdigit() for c in token) or any(c in token for c in "_./:-"))
    )


class ToolImportanceLearner:
    """Learns, per tool name, how often the model used that tool's outputs.

    What it learns: for each tool result in an observed conversation, whether any *later*
    assistant message (its text or the arguments of its tool calls) repeats at least
    ``min_shared_terms`` identifier-like terms of the result (see :func:`salient_terms`). Per tool
    it counts results seen and results used. ``importance(tool)`` is the smoothed use rate
    ``(used + prior * prior_weight) / (seen + prior_weight)``: a new tool starts at ``prior`` and
    moves towards its observed rate as evidence accumulates.

    Observing the same conversation twice counts it twice; observe each finished conversation (or
    each new turn's results) once. State lives in memory, or in a JSON file when ``path`` is given
    (loaded at start, written atomically after each ``observe``). Thread-safe.

    Args:
        path: JSON file to persist counts in; None keeps them in memory.
        prior: Importance of a tool never observed, in [0, 1].
        prior_weight: How many observations the prior is worth.
        min_shared_terms: Terms a later assistant message must repeat for a result to count as used.

    Examples:
        >>> learner = ToolImportanceLearner()
        >>> call = {"id": "c1", "type": "function",
        ...         "function": {"name": "list_orders", "arguments": "{}"}}
        >>> learner.observe([
        ...     {"role": "user", "content": "Which order failed?"},
        ...     {"role": "assistant", "content": None, "tool_calls": [call]},
        ...     {"role": "tool", "tool_call_id": "c1", "content": '[{"id": "ord_8812"}]'},
        ...     {"role": "assistant", "content": "Order ord_8812 failed."},
        ... ])
        {'list_orders': 1}
        >>> learner.importance("list_orders") > learner.importance("never_seen")
        True
    """

    def __init__(
        self,
        path: str | os.PathLike[str] | None = None,
        *,
        prior: float = 0.5,
        prior_weight: float = 2.0,
        min_shared_terms: int = 1,
    ) -> None:
        self.path = Path(path) if path is not None else None
        self.prior = prior
        self.prior_weight = prior_weight
        self.min_shared_terms = min_shared_terms
        self._lock = threading.Lock()
        self._stats: dict[str, dict[str, int]] = self._load()

    def importance(self, tool_name: str) -> float:
        """How likely the model is to use this tool's output, in [0, 1]."""
        with self._lock:
            stats = self._stats.get(tool_name, {"seen": 0, "used": 0})
            seen, used = stats["seen"], stats["used"]
        return (used + self.prior * self.prior_weight) / (seen + self.prior_weight)

    def stats(self) -> dict[str, dict[str, int]]:
        """Counts per tool: ``{"tool": {"seen": n, "used": m}}`` (a copy)."""
        with self._lock:
            return {name: dict(counts) for name, counts in self._stats.items()}

    def observe(self, messages: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Count, per tool, the results in ``messages`` and those a later assistant message used.

        Returns the number of used results per tool in this conversation.
        """
        calls = tool_call_arguments(messages)
        later_terms: list[frozenset[str]] = []  # salient terms of each assistant message, in order
        assistant_positions: list[int] = []
        for index, message in enumerate(messages):
            if message.get("role") == "assistant":
                text = content_text(message)
                for call in message.get("tool_calls") or []:
                    arguments = (
                        (call.get("function") or {}).get("arguments", "")
                        if isinstance(call, Mapping)
                        else ""
                    )
                    text += "\n" + (
                        arguments if isinstance(arguments, str) else json.dumps(arguments)
                    )
                later_terms.append(salient_terms(text))
                assistant_positions.append(index)
        seen: dict[str, int] = {}
        used: dict[str, int] = {}
        for index, message in enumerate(messages):
            if message.get("role") != "tool":
                continue
            name = calls.get(str(message.get("tool_call_id")), ("", ""))[0] or str(
                message.get("name") or "unknown"
            )
            terms = salient_terms(content_text(message))
            seen[name] = seen.get(name, 0) + 1
            for position, assistant_terms in zip(assistant_positions, later_terms, strict=True):
                if position > index and len(terms & assistant_terms) >= self.min_shared_terms:
                    used[name] = used.get(name, 0) + 1
                    break
        with self._lock:
            for name, count in seen.items():
                stats = self._stats.setdefault(name, {"seen": 0, "used": 0})
                stats["seen"] += count
                stats["used"] += used.get(name, 0)
            if self.path is not None:
                self._save()
        return {name: used.get(name, 0) for name in seen}

    def _load(self) -> dict[str, dict[str, int]]:
        if self.path is None or not self.path.exists():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return {
                str(name): {"seen": int(counts["seen"]), "used": int(counts["used"])}
                for name, counts in data.get("tools", {}).items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise StorageError(
                f"Cannot read tool-importance state from {self.path}: {exc}. "
                "Delete or fix the file.",
                details={"path": str(self.path)},
            ) from exc

    def _save(self) -> None:
        """Write the counts atomically: a temp file in the same directory, then a rename."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = json.dumps({"version": 1, "tools": self._stats}, sort_keys=True)
        handle, temp_name = tempfile.mkstemp(
            dir=self.path.parent, prefix=self.path.name, suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(payload)
            os.replace(temp_name, self.path)
        except OSError as exc:
            Path(temp_name).unlink(missing_ok=True)
            raise StorageError(
                f"Cannot write tool-importance state to {self.path}: {exc}",
                details={"path": str(self.path)},
            ) from exc
