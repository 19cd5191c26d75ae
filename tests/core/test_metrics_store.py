"""MetricsStore on real SQLite files and a real PostgreSQL server."""

from __future__ import annotations

import logging
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from headroom_core.errors import ConfigurationError
from headroom_core.results import SimulationResult
from headroom_core.storage import MetricsStore


def _result(saved: int, *, model: str = "gpt-4o", mode: str = "optimize", failed: bool = False):
    return SimulationResult(
        tokens_before=1000,
        tokens_after=1000 - saved,
        transforms_applied=["smart_crusher"] if saved else [],
        transform_savings={"smart_crusher": saved} if saved else {},
        model=model,
        mode=mode,
        request_id=uuid.uuid4().hex,
        estimated_cost_before_usd=1000 * 2.5e-6,
        estimated_cost_after_usd=(1000 - saved) * 2.5e-6,
        latency_ms=1.5,
        stable_prefix_hash="abc123",
        failed=failed,
        error="cache_aligner: RuntimeError: boom" if failed else None,
    )


@pytest.fixture
def store(tmp_path):
    with MetricsStore(f"sqlite:///{tmp_path / 'metrics.db'}") as opened:
        yield opened


def test_rows_round_trip_with_utc_times_and_decoded_json(store):
    result = _result(400)
    before = datetime.now(timezone.utc)
    store.record(result, source="tests")
    assert store.flush()

    [row] = store.query()
    assert row.request_id == result.request_id
    assert (row.tokens_before, row.tokens_after, row.tokens_saved) == (1000, 600, 400)
    assert row.transforms_applied == ["smart_crusher"]
    assert row.transform_savings == {"smart_crusher": 400}
    assert row.cost_before_usd == pytest.approx(0.0025)
    assert row.stable_prefix_hash == "abc123"
    assert row.source == "tests"
    assert row.content is None
    assert row.timestamp.tzinfo is timezone.utc
    assert before - timedelta(seconds=1) <= row.timestamp <= datetime.now(timezone.utc)
    assert store.stats() == {"recorded": 1, "written": 1, "dropped": 0, "failed": 0, "queued": 0}


def test_summary_adds_up_over_the_rows(store):
    for saved in (0, 100, 250, 600):
        store.record(_result(saved))
    store.record(_result(0, failed=True))
    store.flush()

    rows = store.query(limit=None)
    summary = store.summary()
    assert summary["total_requests"] == len(rows) == 5
    assert summary["total_tokens_before"] == 5000
    assert summary["total_tokens_saved"] == sum(r.tokens_saved for r in rows) == 950
    assert summary["avg_compression_ratio"] == pytest.approx(
        sum(r.tokens_after / r.tokens_before for r in rows) / 5
    )
    assert summary["total_cost_saved_usd"] == pytest.approx(950 * 2.5e-6)
    assert summary["failures"] == 1


def test_the_average_ratio_weighs_requests_by_their_tokens(store):
    store.record(SimulationResult(tokens_before=10_000, tokens_after=1_000, request_id="big"))
    store.record(SimulationResult(tokens_before=100, tokens_after=100, request_id="small"))
    store.flush()

    summary = store.summary()
    assert summary["avg_compression_ratio"] == pytest.approx(1_100 / 10_100)
    assert summary["avg_compression_ratio"] == pytest.approx(
        1 - summary["total_tokens_saved"] / summary["total_tokens_before"]
    )


def test_filters_by_model_mode_and_time(store):
    store.record(_result(10, model="gpt-4o"))
    store.record(_result(20, model="gpt-4o-mini", mode="audit"))
    store.flush()

    assert [r.tokens_saved for r in store.query(model="gpt-4o-mini")] == [20]
    assert [r.model for r in store.query(mode="optimize")] == ["gpt-4o"]
    naive_hour_ago = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1)
    assert len(store.query(start_time=naive_hour_ago)) == 2
    assert store.query(end_time=naive_hour_ago) == []
    assert store.summary(model="gpt-4o")["total_tokens_saved"] == 10
    assert len(store.query(limit=1)) == 1


def test_message_content_is_kept_only_when_given(store):
    messages = [{"role": "user", "content": "order 7731 is late"}]
    store.record(_result(0), content={"original": messages})
    store.record(_result(0))
    store.flush()
    contents = [row.content for row in store.query()]
    assert {"original": messages} in contents
    assert None in contents


def test_unreachable_database_costs_a_warning_and_a_counter(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'missing-dir' / 'metrics.db'}"
    with caplog.at_level(logging.WARNING, logger="headroom_core.storage.store"):
        store = MetricsStore(url)
        store.record(_result(5))
        assert store.flush()
    assert store.stats()["failed"] == 1
    assert store.stats()["written"] == 0
    assert "not reachable" in caplog.text
    assert not store.ping()
    store.close()


def test_full_queue_drops_and_counts_instead_of_blocking(tmp_path):
    store = MetricsStore(f"sqlite:///{tmp_path / 'missing-dir' / 'm.db'}", max_queue=2)
    for _ in range(6):
        store.record(_result(1))
    stats = store.stats()
    assert stats["dropped"] >= 1
    assert stats["recorded"] + stats["dropped"] == 6
    store.close()


def test_recording_after_close_is_counted_not_raised(tmp_path):
    store = MetricsStore(f"sqlite:///{tmp_path / 'closed.db'}")
    store.close()
    store.record(_result(3))
    assert store.stats()["dropped"] == 1


def test_bad_url_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="store_url"):
        MetricsStore("not a url")


def test_in_memory_sqlite_works_across_the_writer_thread():
    with MetricsStore("sqlite://") as store:
        store.record(_result(7))
        store.flush()
        assert store.summary()["total_tokens_saved"] == 7


@pytest.mark.postgres
def test_postgres_store_round_trip(postgres_url):
    source = f"pg-{uuid.uuid4().hex[:12]}"
    with MetricsStore(postgres_url) as store:
        assert store.ping()
        for saved in (100, 300):
            store.record(_result(saved), source=source)
        store.flush()
        rows = store.query(source=source)
        assert sorted(r.tokens_saved for r in rows) == [100, 300]
        assert all(r.timestamp.tzinfo is not None for r in rows)
        summary = store.summary(source=source)
        assert summary["total_requests"] == 2
        assert summary["total_tokens_saved"] == 400
        assert store.stats()["failed"] == 0


def test_queued_rows_are_written_at_interpreter_exit(tmp_path):
    url = f"sqlite:///{tmp_path / 'exit.db'}"
    script = (
        "from headroom_core.results import SimulationResult\n"
        "from headroom_core.storage import MetricsStore\n"
        f"store = MetricsStore({url!r})\n"
        "for i in range(500):\n"
        "    store.record(SimulationResult(tokens_before=10, tokens_after=4, request_id=str(i)))\n"
        # no flush() and no close(): the exit handler must write the queue
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    with MetricsStore(url) as store:
        assert store.summary()["total_requests"] == 500
