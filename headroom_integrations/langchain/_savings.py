"""A thread-safe tally of engine summaries, per run and in total.

Shared by the callback handler (which hears each request twice on the invoke path: as a custom
event and in ``response_metadata``) and by the adapters' ``get_metrics()``; requests are counted
once by their ``request_id``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any
from uuid import UUID

__all__ = ["SavingsLedger"]

_REMEMBERED_REQUESTS = 10_000


def _empty_totals() -> dict[str, Any]:
    return {
        "requests": 0,
        "failures": 0,
        "tokens_before": 0,
        "tokens_after": 0,
        "tokens_saved": 0,
        "estimated_savings_usd": 0.0,
        "transform_savings": {},
    }


def _add(totals: dict[str, Any], summary: Mapping[str, Any]) -> None:
    totals["requests"] += 1
    totals["failures"] += 1 if summary.get("failed") else 0
    totals["tokens_before"] += int(summary.get("tokens_before") or 0)
    totals["tokens_after"] += int(summary.get("tokens_after") or 0)
    totals["tokens_saved"] += int(summary.get("tokens_saved") or 0)
    totals["estimated_savings_usd"] += float(summary.get("estimated_savings_usd") or 0.0)
    by_transform = totals["transform_savings"]
    for name, saved in (summary.get("transform_savings") or {}).items():
        by_transform[name] = by_transform.get(name, 0) + int(saved)


def _snapshot(totals: Mapping[str, Any]) -> dict[str, Any]:
    copy = dict(totals)
    copy["transform_savings"] = dict(totals["transform_savings"])
    before = copy["tokens_before"]
    copy["savings_percent"] = round(100.0 * copy["tokens_saved"] / before, 2) if before else 0.0
    return copy


class SavingsLedger:
    """Adds up engine summaries (``SimulationResult.summary()`` dicts) safely across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._total = _empty_totals()
        self._runs: dict[UUID | None, dict[str, Any]] = {}
        self._seen: OrderedDict[str, None] = OrderedDict()

    def record(self, summary: Mapping[str, Any], run_id: UUID | None = None) -> bool:
        """Count one request; returns False when its ``request_id`` was already counted."""
        request_id = str(summary.get("request_id") or "")
        with self._lock:
            if request_id:
                if request_id in self._seen:
                    return False
                self._seen[request_id] = None
                if len(self._seen) > _REMEMBERED_REQUESTS:
                    self._seen.popitem(last=False)
            _add(self._total, summary)
            _add(self._runs.setdefault(run_id, _empty_totals()), summary)
        return True

    def totals(self) -> dict[str, Any]:
        """Everything recorded so far (with ``savings_percent``)."""
        with self._lock:
            return _snapshot(self._total)

    def runs(self) -> dict[UUID | None, dict[str, Any]]:
        """Totals per LangChain run id (None for requests recorded outside a run)."""
        with self._lock:
            return {run_id: _snapshot(totals) for run_id, totals in self._runs.items()}

    def reset(self) -> None:
        """Forget everything."""
        with self._lock:
            self._total = _empty_totals()
            self._runs.clear()
            self._seen.clear()
