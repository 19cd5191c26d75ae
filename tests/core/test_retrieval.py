from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from headroom_core.config import RetrievalConfig
from headroom_core.errors import CacheError, ConfigurationError, HeadroomError, StorageError
from headroom_core.retrieval import (
    RETRIEVAL_TOOL_NAME,
    InMemoryOriginalsStore,
    OriginalsStore,
    SQLOriginalsStore,
    default_originals_store,
    is_retrievable,
    originals_key,
    retrieval_tool_definition,
    retrieval_tool_result,
    retrieve,
)
from headroom_core.tokenizer import Tokenizer

DATA = Path(__file__).resolve().parents[1] / "data"


class Clock:
    """A settable time source, so expiry is tested without sleeping."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hdfs_lines() -> list[str]:
    case = json.loads((DATA / "loghub-hdfs-a.json").read_text(encoding="utf-8"))
    return case["content"].splitlines()


def test_round_trip_keeps_items_exactly() -> None:
    store = InMemoryOriginalsStore()
    items = [{"id": 12345678901234567890, "price": 0.1, "name": "Ünïcode", "tags": [None, True]}]
    key = store.put(items, tool_name="search", kind="json")
    assert store.get(key) == items
    assert isinstance(store, OriginalsStore)


def test_keys_are_short_and_derive_from_content() -> None:
    first, second = InMemoryOriginalsStore(), InMemoryOriginalsStore()
    key = first.put([{"a": 1}, {"a": 2}])
    assert len(key) == 10 and all(c in "0123456789abcdef" for c in key)
    assert second.put([{"a": 1}, {"a": 2}]) == key
    assert first.put([{"a": 1}, {"a": 3}]) != key
    assert first.put([{"a": 1}, {"a": 2}], kind="log") != key


def test_keys_are_the_hash_of_the_items_compact_json_array() -> None:
    # Longer than one hashing piece, with characters of every UTF-8 length.
    items = [{"id": n, "name": f"Ünïcode €{n} 😀", "ok": n % 2 == 0} for n in range(3000)]
    payload = json.dumps(items, ensure_ascii=False, separators=(",", ":"))
    assert len(payload) > 1 << 16
    expected = hashlib.sha256(f"json\0{payload}".encode()).hexdigest()[:10]
    assert originals_key(payload) == expected
    assert InMemoryOriginalsStore().put(items) == expected
    assert InMemoryOriginalsStore().put([]) == originals_key("[]")


def test_large_entries_are_kept_deflated_and_come_back_exactly() -> None:
    items = [{"id": n, "name": f"Ünïcode €{n} 😀", "line": "x" * (n % 50)} for n in range(3000)]
    payload = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
    store = InMemoryOriginalsStore()
    key = store.put(items)
    assert store.get(key) == items
    assert sum(entry.size for entry in store._entries.values()) < len(payload) / 4


def test_returned_items_are_copies() -> None:
    store = InMemoryOriginalsStore()
    items = [{"id": 1}]
    key = store.put(items)
    items[0]["id"] = 2
    store.get(key)[0]["id"] = 3  # type: ignore[index]
    assert store.get(key) == [{"id": 1}]


def test_lru_bound_evicts_the_least_recently_used() -> None:
    store = InMemoryOriginalsStore(max_entries=3)
    keys = [store.put([n]) for n in range(3)]
    assert store.get(keys[0]) == [0]  # now the most recently used
    newest = store.put([3])
    assert len(store) == 3
    assert store.get(keys[1]) is None
    assert store.get(keys[0]) == [0]
    assert store.get(keys[2]) == [2]
    assert store.get(newest) == [3]


def test_entries_expire_after_their_ttl() -> None:
    clock = Clock()
    store = InMemoryOriginalsStore(ttl_seconds=60, clock=clock)
    key = store.put(["a line"], kind="log")
    clock.now += 59
    assert store.get(key) == ["a line"]
    clock.now += 2
    assert store.get(key) is None
    assert len(store) == 0


def test_storing_again_refreshes_the_ttl() -> None:
    clock = Clock()
    store = InMemoryOriginalsStore(ttl_seconds=60, clock=clock)
    key = store.put(["x"])
    clock.now += 50
    assert store.put(["x"]) == key
    clock.now += 50
    assert store.get(key) == ["x"]


def test_concurrent_puts_respect_the_bound() -> None:
    store = InMemoryOriginalsStore(max_entries=50)

    def writer(offset: int) -> None:
        for n in range(200):
            store.put([offset, n])

    threads = [threading.Thread(target=writer, args=(t,)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store) == 50


def test_retrieve_returns_all_items_or_the_matching_ones(hdfs_lines: list[str]) -> None:
    store = InMemoryOriginalsStore()
    key = store.put(hdfs_lines, tool_name="read_log", kind="log")
    assert retrieve(key, store=store) == hdfs_lines
    matching = retrieve(key, query="Verification succeeded", store=store)
    assert matching
    assert all("Verification" in line or "succeeded" in line for line in matching)
    assert "Verification succeeded" in matching[0]
    assert len(matching) < len(hdfs_lines)
    assert retrieve(key, query="kubernetes", store=store) == []


def test_retrieve_ranks_json_items_by_query() -> None:
    store = InMemoryOriginalsStore()
    items = [{"id": n, "state": "done"} for n in range(20)] + [{"id": 99, "state": "failed"}]
    key = store.put(items)
    assert retrieve(key, query="failed", store=store) == [{"id": 99, "state": "failed"}]


def test_unknown_or_expired_key_raises_cache_error_naming_it() -> None:
    clock = Clock()
    store = InMemoryOriginalsStore(ttl_seconds=1, clock=clock)
    with pytest.raises(CacheError, match="0123456789") as info:
        retrieve("0123456789", store=store)
    assert info.value.details == {"key": "0123456789"}
    key = store.put([1])
    clock.now += 5
    with pytest.raises(CacheError, match=key):
        retrieve(key, store=store)


def test_items_that_are_not_json_raise_cache_error() -> None:
    with pytest.raises(CacheError, match="JSON"):
        InMemoryOriginalsStore().put([{"when": object()}])
    with pytest.raises(CacheError, match="JSON"):  # a lone surrogate has no UTF-8 form
        InMemoryOriginalsStore().put(["half of a pair: \ud800"])


def test_nan_and_infinity_round_trip() -> None:
    store = InMemoryOriginalsStore()
    restored = store.get(store.put([float("inf"), float("-inf"), float("nan")]))
    assert restored is not None
    assert restored[:2] == [float("inf"), float("-inf")]
    assert restored[2] != restored[2]


def test_default_store_is_shared_per_process() -> None:
    store = default_originals_store()
    assert store is default_originals_store(RetrievalConfig())
    key = store.put([{"shared": uuid.uuid4().hex}])
    assert retrieve(key) == store.get(key)


def test_tool_definition_is_an_openai_function_tool() -> None:
    tool = retrieval_tool_definition()
    assert tool["type"] == "function"
    function = tool["function"]
    assert function["name"] == RETRIEVAL_TOOL_NAME == "headroom_retrieve"
    assert function["description"]
    assert function["parameters"]["required"] == ["key"]
    assert set(function["parameters"]["properties"]) == {"key", "query", "offset"}
    assert Tokenizer("gpt-4o").count_tools([tool]) > 0
    json.dumps(tool)


def _sql_round_trip(url: str) -> None:
    clock = Clock()
    clock.now = time.time()  # real time: other processes sharing the table purge by it
    # a bound far above what other tests sharing the table store, so the purge query runs
    store = SQLOriginalsStore(url, ttl_seconds=60, max_entries=10**6, clock=clock)
    marker = uuid.uuid4().hex
    items = [{"id": 1, "marker": marker, "big": 2**70, "text": "naïve"}, "plain line"]
    key = store.put(items, tool_name="search", kind="json")
    other = store.put([marker, "second"], kind="log")
    try:
        assert store.get(key) == items
        assert store.put(items, tool_name="search") == key
        assert retrieve(key, query=marker, store=store) == [items[0]]
        clock.now += 61
        assert store.get(key) is None
        with pytest.raises(CacheError, match=key):
            retrieve(key, store=store)
        fresh = SQLOriginalsStore(url, ttl_seconds=60, clock=clock)
        assert fresh.put(["after expiry", marker]) is not None
        assert fresh.get(other) is None
        fresh.close()
    finally:
        for stale in (key, other):
            store.delete(stale)
        store.close()


def test_sqlite_file_store_round_trip(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'originals.db'}"
    _sql_round_trip(url)
    reopened = SQLOriginalsStore(url)
    key = reopened.put(["survives a reopen"])
    reopened.close()
    assert SQLOriginalsStore(url).get(key) == ["survives a reopen"]


def test_expired_rows_are_purged_on_write(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "o.db"
    clock = Clock()
    store = SQLOriginalsStore(f"sqlite:///{path}", ttl_seconds=10, clock=clock)
    store.put(["old"])
    clock.now += 11
    fresh = store.put(["new"])
    store.close()
    with sqlite3.connect(path) as connection:
        keys = connection.execute("SELECT key FROM headroom_originals").fetchall()
    assert keys == [(fresh,)]


def test_has_tells_a_live_key_without_reading_its_items(tmp_path: Path) -> None:
    clock = Clock()
    for store in (
        SQLOriginalsStore(f"sqlite:///{tmp_path / 'h.db'}", ttl_seconds=10, clock=clock),
        InMemoryOriginalsStore(ttl_seconds=10, clock=clock),
    ):
        key = store.put(["kept line"])
        assert store.has(key) and is_retrievable(store, key)
        assert not store.has("0000000000")
        clock.now += 11
        assert not store.has(key) and not is_retrievable(store, key)


def test_unreachable_database_raises_storage_error(tmp_path: Path) -> None:
    with pytest.raises(StorageError):
        SQLOriginalsStore(f"sqlite:///{tmp_path / 'missing' / 'dir' / 'o.db'}")


def test_malformed_url_raises_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="store_url"):
        SQLOriginalsStore("not a url")


def test_password_never_appears_in_errors_or_repr() -> None:
    with pytest.raises(HeadroomError) as info:
        SQLOriginalsStore("postgresql+psycopg://user:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in str(info.value)
    assert "s3cret" not in repr(info.value.details)


def test_sqlite_url_in_config_gives_a_sql_default_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'default.db'}"
    store = default_originals_store(RetrievalConfig(store_url=url))
    assert isinstance(store, SQLOriginalsStore)
    assert default_originals_store(RetrievalConfig(store_url=url)) is store
    key = store.put(["via config"])
    assert retrieve(key, store=store) == ["via config"]


@pytest.mark.postgres
def test_postgres_round_trip(postgres_url: str) -> None:
    _sql_round_trip(postgres_url)


def test_tool_result_answers_the_model() -> None:
    store = InMemoryOriginalsStore()
    items = [{"id": 1, "state": "done"}, {"id": 2, "state": "failed"}]
    key = store.put(items)
    answer = json.loads(retrieval_tool_result(json.dumps({"key": key}), store=store))
    assert answer == {"key": key, "stored": 2, "matched": 2, "offset": 0, "items": items}
    filtered = json.loads(retrieval_tool_result({"key": key, "query": "failed"}, store=store))
    assert filtered["items"] == [items[1]]


ORDERS = [
    {"id": i, "customer": f"cust_{i % 37}", "amount": (i * 7) % 500, "status": "paid"}
    for i in range(1, 501)
]
ORDERS[199]["status"] = "refunded"


@pytest.mark.parametrize(
    "query", ["id 200", "id=200", "id: 200", "ID = 200", '"refunded"', "id 200 refunded"]
)
def test_the_queries_a_model_writes_find_the_one_row(query: str) -> None:
    store = InMemoryOriginalsStore()
    key = store.put(ORDERS[50:])  # 450 dropped rows, as a crush of 500 leaves them
    found = retrieve(key, query=query, store=store)
    assert found[0] == ORDERS[199]
    assert len(found) <= 5


def test_field_names_match_fields_and_numbers_match_exactly_first() -> None:
    store = InMemoryOriginalsStore()
    key = store.put(ORDERS)
    assert [row["id"] for row in retrieve(key, "amount 200", store=store)] == [
        row["id"] for row in ORDERS if row["amount"] == 200
    ]
    by_value = retrieve(key, "200", store=store)  # id 200 and every amount of 200, none of 1200
    amounts = {r["id"] for r in ORDERS if r["amount"] == 200}
    assert {row["id"] for row in by_value} == {200} | amounts
    assert retrieve(key, "customer cust_5 status paid", store=store) == [
        row for row in ORDERS if row["customer"] == "cust_5" and row["status"] == "paid"
    ]


def test_log_lines_match_words_and_phrases() -> None:
    store = InMemoryOriginalsStore()
    lines = [f"081109 2036{i:02d} INFO dfs.DataNode: Receiving blk_{900 + i}" for i in range(60)]
    lines[42] = "081109 203642 WARN dfs.DataNode: Slow BlockReceiver write for blk_942"
    key = store.put(lines, kind="lines")
    assert retrieve(key, "blk_942", store=store)[0] == lines[42]
    assert retrieve(key, '"Slow BlockReceiver"', store=store) == [lines[42]]
    # an id is not a prefix of other ids: nothing matches, and the answer says so
    answer = json.loads(retrieval_tool_result({"key": key, "query": "blk_9"}, store=store))
    assert answer["note"].startswith("no item matched every term")


def test_large_answers_are_capped_with_a_way_to_page_on() -> None:
    store = InMemoryOriginalsStore()
    key = store.put(ORDERS)
    first = json.loads(retrieval_tool_result({"key": key, "query": "paid"}, store=store))
    assert first["matched"] == 499 and len(first["items"]) == 20
    assert "call again with offset 20" in first["note"]
    arguments = {"key": key, "query": "paid", "offset": 20}
    second = json.loads(retrieval_tool_result(arguments, store=store))
    assert second["items"][0] == ORDERS[20]


def test_an_unknown_or_expired_key_says_what_to_do() -> None:
    store = InMemoryOriginalsStore()
    answer = json.loads(retrieval_tool_result({"key": "0123456789"}, store=store))
    assert "expired" in answer["error"] and "again" in answer["error"]


@pytest.mark.parametrize(
    "arguments",
    ['{"key": "ffffffffff"}', "not json", "[1, 2]", '{"query": "x"}', '{"key": 5}'],
)
def test_tool_result_reports_mistakes_as_errors(arguments: str) -> None:
    answer = json.loads(retrieval_tool_result(arguments, store=InMemoryOriginalsStore()))
    assert set(answer) == {"error"} and answer["error"]


def test_docstring_examples_run() -> None:
    import doctest

    import headroom_core.retrieval

    assert doctest.testmod(headroom_core.retrieval).failed == 0


def test_sql_store_keeps_only_the_newest_max_entries(tmp_path: Path) -> None:
    clock = Clock()
    store = SQLOriginalsStore(f"sqlite:///{tmp_path / 'bounded.db'}", max_entries=3, clock=clock)
    keys = []
    for n in range(5):
        clock.now += 1
        keys.append(store.put([n]))
    assert [store.get(key) for key in keys] == [None, None, [2], [3], [4]]
    store.close()



@pytest.mark.parametrize(
    ("path", "rows_of"),
    [
        ("engine_cars_200.json", lambda data: json.loads(data["content"])),
        ("vega_flights_300.json", lambda data: data),
    ],
)
def test_a_dropped_row_named_by_a_field_and_value_comes_first(path: str, rows_of: Any) -> None:
    """Real JSON outputs crushed as usual: each dropped row, asked for by a field whose value
    only it has among the dropped rows, is the first answer."""
    from headroom_core.config import SmartCrusherConfig
    from headroom_core.transforms.smart_crusher import SmartCrusher

    data = json.loads((Path(__file__).parents[1] / "data" / path).read_text(encoding="utf-8"))
    store = InMemoryOriginalsStore()
    crusher = SmartCrusher(SmartCrusherConfig(max_items_after_crush=5), store=store)
    result = crusher.crush(json.dumps(rows_of(data)))
    assert result.retrieval_key
    dropped = store.get(result.retrieval_key)
    assert dropped
    asked = 0
    for row in dropped[:: max(1, len(dropped) // 15)]:
        for field, value in row.items():
            if isinstance(value, (dict, list)) or value is None:
                continue
            if sum(1 for other in dropped if other.get(field) == value) == 1:
                found = retrieve(result.retrieval_key, f"{field} {value}", store=store)
                assert found[0] == row, (field, value)
                asked += 1
                break
    assert asked >= 5


_CRUSH_IN_ANOTHER_PROCESS = """
import json, sys
from headroom_core.config import HeadroomConfig, RetrievalConfig
from headroom_core.engine import HeadroomEngine
rows = [{"id": i, "customer": f"cust_{i % 37}", "amount": (i * 7) % 500} for i in range(1, 501)]
call = {"id": "c1", "type": "function", "function": {"name": "list_orders", "arguments": "{}"}}
messages = [{"role": "user", "content": "Summarise the orders."},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": json.dumps(rows)}]
config = HeadroomConfig(retrieval=RetrievalConfig(store_url=sys.argv[1]))
print(json.dumps(HeadroomEngine(config).optimize(messages, "gpt-4o").retrieval_keys))
"""


def _keys_from_another_process(url: str) -> list[str]:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", _CRUSH_IN_ANOTHER_PROCESS, url],
        capture_output=True, text=True, check=True, timeout=120,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _answered_here(url: str) -> None:
    [key] = _keys_from_another_process(url)
    store = SQLOriginalsStore(url)
    try:
        answer = json.loads(retrieval_tool_result({"key": key, "query": "id 200"}, store=store))
        assert answer["items"][0]["id"] == 200 and len(answer["items"]) <= 5
    finally:
        store.close()


def test_a_key_from_another_process_is_answered_through_a_shared_sqlite_file(
    tmp_path: Path,
) -> None:
    _answered_here(f"sqlite:///{tmp_path / 'shared.db'}")


@pytest.mark.postgres
def test_a_key_from_another_process_is_answered_through_postgres(postgres_url: str) -> None:
    _answered_here(postgres_url)


def test_a_store_that_is_down_costs_retrieval_never_the_request(caplog: Any) -> None:
    from headroom_core import compress
    from headroom_core.config import HeadroomConfig

    down = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    rows = [{"id": i, "status": "ok", "ms": i % 50} for i in range(400)]
    call = {"id": "c1", "type": "function", "function": {"name": "rows", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": "Which rows are slow?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps(rows)},
    ]
    config = HeadroomConfig(retrieval={"store_url": down})

    result = compress(messages, config=config)

    assert result.tokens_after < result.tokens_before / 2
    assert result.retrieval_keys == [] and "headroom_retrieve" not in json.dumps(result.messages)
    assert "Retrieval is off for this request" in caplog.text


def test_a_store_that_cannot_be_read_is_an_answer_not_an_exception() -> None:
    class Unreadable(InMemoryOriginalsStore):
        def get(self, key: str) -> list[Any] | None:
            raise StorageError("the database went away")

    answer = json.loads(retrieval_tool_result({"key": "abcdef0123"}, store=Unreadable()))
    assert "cannot be read now" in answer["error"]


def test_a_value_no_left_out_item_has_matches_nothing_and_says_so() -> None:
    store = InMemoryOriginalsStore()
    key = store.put([{"id": i, "status": "ok"} for i in range(9000, 9070)])

    assert retrieve(key, query="id 9100", store=store) == []
    answer = json.loads(retrieval_tool_result({"key": key, "query": "id 9100"}, store=store))
    assert answer["matched"] == 0 and "among the items shown" in answer["note"]
    assert retrieve(key, query="id 9005", store=store) == [{"id": 9005, "status": "ok"}]
