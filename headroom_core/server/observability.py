"""What ``headroom serve`` tells about itself: ``/health``, ``/stats`` and Prometheus ``/metrics``.

``/stats`` answers in the shape the npm client's ``getStats`` / ``getSummary`` / ``getMetrics``
read. With a metrics store, its figures come from the store, so every worker (and every
replica on the same database) reports the same totals; without one, from this process.
Prometheus metrics count this process's requests; with several workers ``headroom serve``
points ``PROMETHEUS_MULTIPROC_DIR`` at a shared directory and ``/metrics`` adds them up.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from headroom_core._version import __version__

if TYPE_CHECKING:
    from headroom_core.results import RequestMetrics, SimulationResult
    from headroom_core.storage import MetricsStore

__all__ = ["Counters", "PrometheusMetrics", "health", "stats_from_store"]

RECENT_REQUESTS = 50


def health(settings_summary: dict[str, Any]) -> dict[str, Any]:
    """``GET /health``: healthy whenever the process answers."""
    return {"status": "healthy", "version": __version__, "config": settings_summary}


class Counters:
    """This process's requests, for ``/stats`` when there is no metrics store."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.time()
        self._total = 0
        self._failed = 0
        self._by_model: dict[str, int] = {}
        self._before = 0
        self._after = 0
        self._latencies: deque[float] = deque(maxlen=1000)
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)

    def record(self, result: SimulationResult) -> None:
        """Count one request the engine answered (a fail-open answer counts as failed)."""
        with self._lock:
            self._total += 1
            self._failed += int(result.failed)
            self._by_model[result.model] = self._by_model.get(result.model, 0) + 1
            self._before += result.tokens_before
            self._after += result.tokens_after
            self._latencies.append(result.latency_ms)
            self._recent.appendleft(_recent_entry(result))

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return _stats(
                total=self._total,
                failed=self._failed,
                by_model=dict(self._by_model),
                before=self._before,
                after=self._after,
                latencies=list(self._latencies),
                recent=list(self._recent),
                uptime=time.time() - self._started,
            )


def stats_from_store(store: MetricsStore, source: str, started: float) -> dict[str, Any]:
    """``/stats`` over the rows every worker wrote to ``store``."""
    store.flush()
    summary = store.summary(source=source)
    rows = store.query(source=source, limit=RECENT_REQUESTS)
    before = summary["total_tokens_before"]
    return _stats(
        total=summary["total_requests"],
        failed=summary["failures"],
        by_model=store.requests_by_model(source=source),
        before=before,
        after=before - summary["total_tokens_saved"],
        latencies=[row.latency_ms for row in rows],
        recent=[_recent_entry(row) for row in rows],
        uptime=time.time() - started,
    )


def _stats(
    *,
    total: int,
    failed: int,
    by_model: dict[str, int],
    before: int,
    after: int,
    latencies: list[float],
    recent: list[dict[str, Any]],
    uptime: float,
) -> dict[str, Any]:
    saved = max(0, before - after)
    return {
        "requests": {
            "total": total,
            "failed": failed,
            "cached": 0,
            "rate_limited": 0,
            "by_model": by_model,
            "by_provider": {},
        },
        "tokens": {
            "input": after,
            "output": 0,
            "saved": saved,
            "total_before_compression": before,
            "savings_percent": round(100.0 * saved / before, 2) if before else 0.0,
        },
        "latency": {
            "average_ms": round(sum(latencies) / len(latencies), 3) if latencies else 0.0,
            "min_ms": round(min(latencies), 3) if latencies else 0.0,
            "max_ms": round(max(latencies), 3) if latencies else 0.0,
        },
        "recent_requests": recent,
        "uptime_seconds": round(uptime, 1),
    }


def _recent_entry(result: SimulationResult | RequestMetrics) -> dict[str, Any]:
    stamp = getattr(result, "timestamp", None)
    return {
        "request_id": result.request_id,
        "timestamp": (
            stamp.isoformat() if stamp else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        ),
        "model": result.model,
        "mode": result.mode,
        "tokens_input_before": result.tokens_before,
        "tokens_input_after": result.tokens_after,
        "tokens_saved": result.tokens_saved,
        "optimization_latency_ms": round(result.latency_ms, 3),
        "transforms_applied": list(result.transforms_applied),
        "failed": result.failed,
    }


class PrometheusMetrics:
    """The service's Prometheus metrics (one set per process; summed across workers)."""

    _instance: PrometheusMetrics | None = None
    _lock = threading.Lock()

    def __init__(self) -> None:
        from prometheus_client import Counter, Histogram

        self.requests = Counter(
            "headroom_requests", "Requests served, by endpoint and model", ["endpoint", "model"]
        )
        self.failures = Counter("headroom_failures", "Requests that failed, by kind", ["kind"])
        self.tokens_before = Counter("headroom_tokens_before", "Input tokens before optimizing")
        self.tokens_after = Counter("headroom_tokens_after", "Input tokens after optimizing")
        self.tokens_saved = Counter("headroom_tokens_saved", "Input tokens saved")
        self.latency = Histogram(
            "headroom_request_latency_seconds",
            "Time to answer a request (proxied ones include the provider)",
            ["endpoint"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
        )

    @classmethod
    def shared(cls) -> PrometheusMetrics:
        """The process's metrics (Prometheus metric names are process-wide)."""
        with cls._lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def observe(self, endpoint: str, result: SimulationResult | None, seconds: float) -> None:
        """Count one answered request."""
        self.requests.labels(endpoint, result.model if result else "").inc()
        self.latency.labels(endpoint).observe(seconds)
        if result is not None:
            self.tokens_before.inc(result.tokens_before)
            self.tokens_after.inc(result.tokens_after)
            self.tokens_saved.inc(result.tokens_saved)
            if result.failed:
                self.failures.labels("optimization_failed").inc()

    def fail(self, kind: str) -> None:
        """Count a failure of ``kind`` (``upstream_unreachable``, ``upstream_error``...)."""
        self.failures.labels(kind).inc()

    @staticmethod
    def exposition() -> tuple[bytes, str]:
        """The text format, summed over every worker when they share a directory."""
        from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry
        from prometheus_client import generate_latest as latest

        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return latest(registry), CONTENT_TYPE_LATEST
        return latest(REGISTRY), CONTENT_TYPE_LATEST
