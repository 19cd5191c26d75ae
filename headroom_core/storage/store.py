"""MetricsStore: one row per request in SQLite or PostgreSQL, written off the request path.

``record()`` only puts a plain dict on a bounded queue; a background thread writes batches with
one ``executemany`` each, waiting 50 ms after an idle spell so that rows arrive in batches rather
than as one transaction (and one GIL contest with the request threads) per request. A full queue
or a database that is down costs a rate-limited warning and a counter (see
:meth:`MetricsStore.stats`), never an exception in the caller's LLM request. The queue is flushed
on :meth:`MetricsStore.flush`, :meth:`MetricsStore.close` and at interpreter exit; after
``fork()`` the child starts its own writer so several processes can share one database.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
import time
import weakref
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import case, func, insert, inspect, select, text
from sqlalchemy.engine import make_url
from sqlmodel import SQLModel

from headroom_core.errors import StorageError
from headroom_core.results import RequestMetrics, SimulationResult
from headroom_core.storage.engines import create_sql_engine
from headroom_core.storage.tables import RequestMetricsRow

__all__ = ["MetricsStore"]

logger = logging.getLogger(__name__)

_TABLE = RequestMetricsRow.__table__  # type: ignore[attr-defined]
_WRITE_ATTEMPTS = 4
_WARNING_INTERVAL_S = 30.0
_LINGER_S = 0.05
_STOP = object()

_live_stores: weakref.WeakSet[MetricsStore] = weakref.WeakSet()


class MetricsStore:
    """Request metrics in a SQL database through SQLModel.

    Args:
        url: SQLAlchemy URL. ``sqlite:///headroom.db`` (default; WAL, safe across threads and
            processes), ``sqlite://`` (in memory, one process) or
            ``postgresql+psycopg://user@host/db`` when many processes share one store.
        max_queue: Rows waiting for the writer before new ones are dropped (and counted).
        batch_size: Most rows written in one insert.

    Raises:
        ConfigurationError: The URL cannot be parsed or its driver is not installed.

    Examples:
        >>> store = MetricsStore("sqlite://")
        >>> store.summary()["total_requests"]
        0
        >>> store.close()
    """

    def __init__(
        self, url: str = "sqlite:///headroom.db", *, max_queue: int = 10_000, batch_size: int = 100
    ) -> None:
        self.url = url
        self.batch_size = batch_size
        self._max_queue = max_queue
        self._engine = create_sql_engine(url)
        self._schema_ready = False
        self._lock = threading.Lock()
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._counts = {"recorded": 0, "written": 0, "dropped": 0, "failed": 0}
        self._last_warning = 0.0
        self._closed = False
        try:
            self._ensure_schema()
        except Exception as exc:  # a store that is down must not stop the application
            self._warn(f"metrics store {self.safe_url} is not reachable yet: {exc}")
        _live_stores.add(self)

    def __repr__(self) -> str:
        return f"MetricsStore(url={self.safe_url!r})"

    @property
    def safe_url(self) -> str:
        """The URL with any password hidden, for logs and reports."""
        return make_url(self.url).render_as_string(hide_password=True)

    # -- writing -------------------------------------------------------------------------------

    def record(self, result: SimulationResult, source: str = "", content: Any = None) -> None:
        """Queue one request's metrics; never blocks and never raises.

        Args:
            result: The engine's result for the request.
            source: Who made the request (``"client"``, ``"langchain"``...).
            content: Raw message content to keep; only pass it when the user enabled
                ``store_message_content``.
        """
        if self._closed:
            self._counts["dropped"] += 1
            self._warn("metrics store is closed; dropping metrics")
            return
        try:
            row = {
                "created_at": datetime.now(timezone.utc),
                "request_id": result.request_id,
                "source": source,
                "model": result.model,
                "mode": result.mode,
                "tokens_before": result.tokens_before,
                "tokens_after": result.tokens_after,
                "tokens_saved": result.tokens_saved,
                "cost_before_usd": result.estimated_cost_before_usd,
                "cost_after_usd": result.estimated_cost_after_usd,
                "transforms_applied": result.transforms_applied,
                "transform_savings": result.transform_savings,
                "latency_ms": result.latency_ms,
                "stable_prefix_hash": result.stable_prefix_hash,
                "failed": result.failed,
                "error": result.error,
                "content": content,
                "provider_input_tokens": result.provider_input_tokens,
                "provider_output_tokens": result.provider_output_tokens,
            }
            if self._thread is None:
                self._start_writer()
            self._queue.put_nowait(row)
            self._counts["recorded"] += 1
        except queue.Full:
            self._counts["dropped"] += 1
            self._warn(f"metrics queue full ({self._max_queue} rows); dropping metrics")
        except Exception as exc:  # recording must never fail the caller's request
            self._counts["dropped"] += 1
            self._warn(f"could not queue metrics: {exc}")

    def flush(self, timeout: float | None = 10.0) -> bool:
        """Wait until every queued row is written (or failed); True when done within ``timeout``."""
        if self._thread is None or not self._thread.is_alive():
            return self._queue.empty()
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    def close(self) -> None:
        """Flush pending rows, stop the writer and release the database connections."""
        if self._closed:
            return
        self._closed = True
        thread = self._thread
        if thread is not None and thread.is_alive():
            self.flush()
            self._queue.put(_STOP)
            thread.join(timeout=10.0)
        self._thread = None
        _live_stores.discard(self)
        self._engine.dispose()

    def __enter__(self) -> MetricsStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def stats(self) -> dict[str, int]:
        """Counters of this process: rows recorded, written, dropped (queue full) and failed
        (database error), and rows still queued."""
        return {**self._counts, "queued": self._queue.qsize()}

    def _start_writer(self) -> None:
        with self._lock:
            if self._thread is not None or self._closed:
                return
            thread = threading.Thread(
                target=self._run_writer, name="headroom-metrics-writer", daemon=True
            )
            thread.start()
            self._thread = thread

    def _run_writer(self) -> None:
        pending = self._queue
        backlog = False
        while True:
            item = pending.get()
            if isinstance(item, dict) and not backlog:
                # Let a batch gather: one write per linger period instead of one per request
                # keeps the writer from competing with request threads for the GIL.
                time.sleep(_LINGER_S)
            batch: list[dict[str, Any]] = []
            markers: list[threading.Event] = []
            stop = False
            while True:
                if item is _STOP:
                    stop = True
                elif isinstance(item, threading.Event):
                    markers.append(item)
                else:
                    batch.append(item)
                if stop or len(batch) >= self.batch_size:
                    break
                try:
                    item = pending.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._write(batch)
            backlog = len(batch) >= self.batch_size  # more may be waiting: no linger
            for marker in markers:
                marker.set()
            if stop:
                return

    def _write(self, batch: list[dict[str, Any]]) -> None:
        rows = [_encode(row) for row in batch]
        error: Exception | None = None
        for attempt in range(_WRITE_ATTEMPTS):
            try:
                self._ensure_schema()
                with self._engine.begin() as connection:
                    connection.execute(insert(_TABLE), rows)
                self._counts["written"] += len(rows)
                return
            except Exception as exc:  # locked, disconnected, down: retry, then count
                error = exc
                time.sleep(0.05 * 2**attempt)
        self._counts["failed"] += len(rows)
        self._warn(f"could not write {len(rows)} metrics rows to {self.safe_url}: {error}")

    def _ensure_schema(self) -> None:
        if self._schema_ready:
            return
        try:
            SQLModel.metadata.create_all(self._engine, tables=[_TABLE])
        except Exception:
            # Another process may have created the table between the check and the CREATE.
            if not inspect(self._engine).has_table(_TABLE.name):
                raise
        self._add_missing_columns()
        self._schema_ready = True

    def _add_missing_columns(self) -> None:
        """Columns added since a store file was created (nullable, so old rows stay valid)."""
        present = {column["name"] for column in inspect(self._engine).get_columns(_TABLE.name)}
        missing = [column for column in _TABLE.columns if column.name not in present]
        for column in missing:
            kind = column.type.compile(dialect=self._engine.dialect)
            statement = f'ALTER TABLE {_TABLE.name} ADD COLUMN "{column.name}" {kind}'
            try:
                with self._engine.begin() as connection:
                    connection.exec_driver_sql(statement)
            except Exception:  # another process added it first
                present = {c["name"] for c in inspect(self._engine).get_columns(_TABLE.name)}
                if column.name not in present:
                    raise

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._last_warning >= _WARNING_INTERVAL_S:
            self._last_warning = now
            logger.warning("%s (counters: %s)", message, self.stats())

    def _after_fork(self) -> None:
        """In a forked child: a fresh queue and writer, no connections shared with the parent."""
        self._lock = threading.Lock()
        self._queue = queue.Queue(maxsize=self._max_queue)
        self._thread = None
        self._counts = dict.fromkeys(self._counts, 0)
        self._engine.dispose(close=False)

    # -- reading -------------------------------------------------------------------------------

    def ping(self) -> bool:
        """Whether the database answers."""
        try:
            with self._engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def query(
        self,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        model: str | None = None,
        mode: str | None = None,
        *,
        source: str | None = None,
        limit: int | None = 100,
    ) -> list[RequestMetrics]:
        """Stored requests, newest first.

        Args:
            start_time: Only requests at or after this time (naive datetimes are taken as UTC).
            end_time: Only requests before this time.
            model: Only this model.
            mode: Only this mode (``audit``, ``optimize``, ``simulate``).
            source: Only requests recorded with this source.
            limit: Most rows returned; None for all.

        Raises:
            StorageError: The database cannot be read.
        """
        statement = select(_TABLE)
        statement = _filtered(statement, start_time, end_time, model, mode, source)
        statement = statement.order_by(_TABLE.c.created_at.desc(), _TABLE.c.id.desc())
        if limit is not None:
            statement = statement.limit(limit)
        rows = self._read(lambda connection: connection.execute(statement).mappings().all())
        return [_to_metrics(row) for row in rows]

    def requests_by_model(self, *, source: str | None = None) -> dict[str, int]:
        """How many requests each model got (of ``source`` when given).

        Raises:
            StorageError: The database cannot be read.
        """
        t = _TABLE.c
        statement = select(t.model, func.count(t.id)).group_by(t.model)
        if source is not None:
            statement = statement.where(t.source == source)
        rows = self._read(lambda connection: connection.execute(statement).all())
        return {str(model): int(count) for model, count in rows}

    def summary(
        self,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        model: str | None = None,
        mode: str | None = None,
        *,
        source: str | None = None,
    ) -> dict[str, Any]:
        """Totals over the stored requests.

        Returns:
            ``total_requests``, ``total_tokens_before``, ``total_tokens_saved``,
            ``avg_compression_ratio`` (``tokens_after / tokens_before`` summed over all
            requests, so weighted by size: a large request counts for its tokens, a tiny one
            barely; ``1 - total_tokens_saved / total_tokens_before`` when no request grew, as
            one can when the cache aligner moves a date into the user turn),
            ``total_cost_saved_usd`` (over requests with a known price) and ``failures``.

        Raises:
            StorageError: The database cannot be read.
        """
        t = _TABLE.c
        cost_saved = case(
            (
                t.cost_before_usd.is_not(None) & t.cost_after_usd.is_not(None),
                t.cost_before_usd - t.cost_after_usd,
            )
        )
        statement = select(
            func.count(t.id),
            func.coalesce(func.sum(t.tokens_before), 0),
            func.coalesce(func.sum(t.tokens_saved), 0),
            func.coalesce(func.sum(t.tokens_after), 0),
            func.coalesce(func.sum(cost_saved), 0.0),
            func.coalesce(func.sum(case((t.failed, 1), else_=0)), 0),
        )
        statement = _filtered(statement, start_time, end_time, model, mode, source)
        row = self._read(lambda connection: connection.execute(statement).one())
        requests, before, saved, after, cost, failures = row
        return {
            "total_requests": int(requests),
            "total_tokens_before": int(before),
            "total_tokens_saved": int(saved),
            "avg_compression_ratio": int(after) / int(before) if before else 1.0,
            "total_cost_saved_usd": float(cost),
            "failures": int(failures),
        }

    def _read(self, run: Any) -> Any:
        try:
            self._ensure_schema()
            with self._engine.connect() as connection:
                return run(connection)
        except Exception as exc:
            raise StorageError(
                f"Could not read metrics from {self.safe_url}: {exc}",
                details={"url": self.safe_url},
            ) from exc


def _encode(row: dict[str, Any]) -> dict[str, Any]:
    """The queued dict as column values (JSON encoding happens here, off the request path)."""
    content = row["content"]
    if content is not None:
        content = json.dumps(content, ensure_ascii=False, default=str)
    return {
        **row,
        "transforms_applied": json.dumps(list(row["transforms_applied"])),
        "transform_savings": json.dumps(dict(row["transform_savings"])),
        "error": row["error"][:2000] if row["error"] else row["error"],
        "content": content,
    }


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def _filtered(
    statement: Any,
    start_time: datetime | None,
    end_time: datetime | None,
    model: str | None,
    mode: str | None,
    source: str | None,
) -> Any:
    t = _TABLE.c
    if start_time is not None:
        statement = statement.where(t.created_at >= _as_utc(start_time))
    if end_time is not None:
        statement = statement.where(t.created_at < _as_utc(end_time))
    if model is not None:
        statement = statement.where(t.model == model)
    if mode is not None:
        statement = statement.where(t.mode == mode)
    if source is not None:
        statement = statement.where(t.source == source)
    return statement


def _to_metrics(row: Mapping[str, Any]) -> RequestMetrics:
    content = row["content"]
    return RequestMetrics(
        timestamp=_as_utc(row["created_at"]),
        request_id=row["request_id"],
        model=row["model"],
        mode=row["mode"],
        tokens_before=row["tokens_before"],
        tokens_after=row["tokens_after"],
        tokens_saved=row["tokens_saved"],
        cost_before_usd=row["cost_before_usd"],
        cost_after_usd=row["cost_after_usd"],
        transforms_applied=json.loads(row["transforms_applied"] or "[]"),
        transform_savings=json.loads(row["transform_savings"] or "{}"),
        latency_ms=row["latency_ms"],
        stable_prefix_hash=row["stable_prefix_hash"],
        failed=bool(row["failed"]),
        error=row["error"],
        source=row["source"],
        content=json.loads(content) if content is not None else None,
        provider_input_tokens=row.get("provider_input_tokens"),
        provider_output_tokens=row.get("provider_output_tokens"),
    )


def _flush_all_at_exit() -> None:
    for store in list(_live_stores):
        store.flush(timeout=5.0)


def _reset_all_after_fork() -> None:
    for store in list(_live_stores):
        store._after_fork()


atexit.register(_flush_all_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_all_after_fork)
