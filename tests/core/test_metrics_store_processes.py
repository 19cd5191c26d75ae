"""Many processes writing into one store lose no row (SQLite file and PostgreSQL)."""

from __future__ import annotations

import multiprocessing
import os
import uuid

import pytest

from headroom_core.results import SimulationResult
from headroom_core.storage import MetricsStore

PROCESSES = 8
REQUESTS_PER_PROCESS = 1_000


def _write_rows(url: str, source: str, count: int) -> dict[str, int]:
    """Record ``count`` requests from a fresh process and report the store's counters."""
    store = MetricsStore(url)
    for index in range(count):
        store.record(
            SimulationResult(
                tokens_before=500,
                tokens_after=500 - index % 7,
                model="gpt-4o",
                mode="optimize",
                request_id=f"{os.getpid()}-{index}",
            ),
            source=source,
        )
    store.close()
    return store.stats()


def _write_from_processes(url: str) -> tuple[str, list[dict[str, int]]]:
    source = f"mp-{uuid.uuid4().hex[:12]}"
    MetricsStore(url).close()  # create the table once, as an application's first start would
    context = multiprocessing.get_context("spawn")
    with context.Pool(PROCESSES) as pool:
        stats = pool.starmap(_write_rows, [(url, source, REQUESTS_PER_PROCESS)] * PROCESSES)
    return source, stats


def _assert_no_row_lost(url: str, source: str, stats: list[dict[str, int]]) -> None:
    assert all(s["dropped"] == 0 and s["failed"] == 0 for s in stats), stats
    with MetricsStore(url) as store:
        summary = store.summary(source=source)
        rows = store.query(source=source, limit=None)
    assert summary["total_requests"] == PROCESSES * REQUESTS_PER_PROCESS
    assert len({row.request_id for row in rows}) == PROCESSES * REQUESTS_PER_PROCESS
    expected_saved = PROCESSES * sum(index % 7 for index in range(REQUESTS_PER_PROCESS))
    assert summary["total_tokens_saved"] == expected_saved


@pytest.mark.slow
def test_eight_processes_into_one_sqlite_file(tmp_path):
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    source, stats = _write_from_processes(url)
    _assert_no_row_lost(url, source, stats)


@pytest.mark.slow
@pytest.mark.postgres
def test_eight_processes_into_postgres(postgres_url):
    source, stats = _write_from_processes(postgres_url)
    _assert_no_row_lost(postgres_url, source, stats)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_forked_child_gets_its_own_writer(tmp_path):
    url = f"sqlite:///{tmp_path / 'forked.db'}"
    store = MetricsStore(url)
    store.record(SimulationResult(tokens_before=10, tokens_after=5, request_id="parent"))
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_record_in_child, args=(store,))
    child.start()
    child.join(30)
    assert child.exitcode == 0
    store.flush()
    assert sorted(row.request_id for row in store.query()) == ["child", "parent"]
    store.close()


def _record_in_child(store: MetricsStore) -> None:
    store.record(SimulationResult(tokens_before=10, tokens_after=5, request_id="child"))
    if not store.flush() or store.stats()["written"] != 1:
        raise SystemExit(1)
