"""SmartCrusher on real and generated JSON: lossless facts, lossy selection, bad input."""

from __future__ import annotations

import doctest
import json
import random
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headroom_core.config import SmartCrusherConfig
from headroom_core.errors import TransformError
from headroom_core.relevance import BM25Scorer
from headroom_core.retrieval import (
    InMemoryOriginalsStore,
    SQLOriginalsStore,
    default_originals_store,
    retrieve,
)
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms import smart_crusher
from headroom_core.transforms._counting import THREAD_MIN_CHARS, count_tokens_split
from headroom_core.transforms._json import selection
from headroom_core.transforms._json.parse import SHARED_STRING_CHARS, parse_json_text
from headroom_core.transforms._json.selection import relevance_scores
from headroom_core.transforms._json.table import extract_tables
from headroom_core.transforms.smart_crusher import CrushResult, SmartCrusher

DATA = Path(__file__).resolve().parents[2] / "data"


def load(name: str) -> str:
    return (DATA / name).read_text()


def scalars(value: Any) -> list[Any]:
    """Every scalar inside ``value``."""
    found: list[Any] = []
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        else:
            found.append(node)
    return found


def assert_every_scalar_survives(value: Any, output: str) -> None:
    for scalar in scalars(value):
        if isinstance(scalar, str):
            assert scalar in output or json.dumps(scalar, ensure_ascii=False) in output, scalar
        else:
            assert json.dumps(scalar) in output, scalar


def events(count: int, seed: int = 7) -> list[dict[str, Any]]:
    """Realistic service events: ids, timestamps, levels, services, latencies, messages."""
    rng = random.Random(seed)
    services = ["checkout", "payments", "search", "inventory"]
    messages = ["request completed", "cache hit", "cache miss", "retrying upstream call"]
    return [
        {
            "id": f"evt_{100000 + i}",
            "timestamp": f"2024-05-01T12:{i // 60 % 60:02d}:{i % 60:02d}"
            f".{rng.randint(0, 999):03d}Z",
            "level": "INFO",
            "service": rng.choice(services),
            "region": "eu-west-1",
            "latency_ms": rng.randint(20, 80),
            "status": 200,
            "message": rng.choice(messages),
        }
        for i in range(count)
    ]


@pytest.fixture
def store() -> InMemoryOriginalsStore:
    return InMemoryOriginalsStore()


# -- lossless ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["vega_flights_300.json", "github_workflow_runs.json"])
def test_lossless_keeps_every_scalar_of_real_outputs(name: str) -> None:
    text = load(name)
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(text)
    assert result.strategy == "lossless"
    assert result.tokens_after < result.tokens_before
    assert_every_scalar_survives(json.loads(text), result.compressed)
    assert result.tokens_before == get_tokenizer("gpt-4o").count_text(text)
    assert result.tokens_after == get_tokenizer("gpt-4o").count_text(result.compressed)


scalar = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["", "x3", "true", "12", "|", " padded ", "a\nb", '"q"', "[x", "~", "^2"]),
)
record = st.dictionaries(
    st.sampled_from(["id", "name", "status", "n", "meta"]),
    st.one_of(scalar, st.dictionaries(st.sampled_from(["a", "b"]), scalar, max_size=2),
              st.lists(scalar, max_size=3)),
    min_size=1,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(record, min_size=2, max_size=30))
def test_lossless_output_holds_every_scalar_of_any_array(records: list[dict[str, Any]]) -> None:
    config = SmartCrusherConfig(lossless_only=True, min_tokens_to_crush=0)
    result = SmartCrusher(config).crush(records)
    assert_every_scalar_survives(records, result.compressed)


def test_lossless_table_has_one_header_and_one_line_per_row() -> None:
    records = events(120)
    records[5]["message"] = "contains | the delimiter"
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(json.dumps(records))
    lines = result.compressed.splitlines()
    header = next(line for line in lines if line.startswith("id|"))
    assert header.split("|") == ["id", "timestamp", "service", "latency_ms", "message"]
    rows = lines[lines.index(header) + 1 :]
    assert len(rows) == 120
    assert rows[0].startswith("evt_100000|2024-05-01T12:00:00.")
    assert '"contains | the delimiter"' in rows[5]
    assert_every_scalar_survives(records, result.compressed)


def test_constant_columns_are_stated_once() -> None:
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(events(100))
    assert "all rows: level=INFO; region=eu-west-1; status=200" in result.compressed
    assert result.compressed.count("eu-west-1") == 1


def test_dominant_values_leave_blank_cells() -> None:
    records = events(100)
    for index in (10, 60):
        records[index]["region"] = "us-east-2"
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(records)
    assert "blank = region=eu-west-1" in result.compressed
    assert result.compressed.count("us-east-2") == 2
    assert result.compressed.count("eu-west-1") == 1


def test_consecutive_duplicates_collapse_with_a_count() -> None:
    records = [{"host": "web-1", "check": "disk", "ok": True, "note": "fine"}] * 40
    records += [{"host": "web-2", "check": "disk", "ok": False, "note": "full"}] * 3
    config = SmartCrusherConfig(lossless_only=True, min_tokens_to_crush=0)
    result = SmartCrusher(config).crush(records)
    assert "blank = host=web-1; ok=true; note=fine" in result.compressed
    assert "\n|||x40\nweb-2|false|full|x3" in result.compressed


def test_numbers_keep_their_exact_text() -> None:
    text = json.dumps([{"n": i, "v": "X"} for i in range(60)])[:-1]
    text += ', {"n": 1.10, "v": 1E5}, {"n": 123456789012345678901234567890, "v": -0.0}]'
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True, min_tokens_to_crush=0)).crush(text)
    for literal in ("1.10", "1E5", "123456789012345678901234567890", "-0.0"):
        assert literal in result.compressed


def test_nested_objects_flatten_to_dotted_columns() -> None:
    text = load("github_workflow_runs.json")
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(text)
    assert "repository.owner.login" in result.compressed
    skeleton = result.compressed.splitlines()[1]
    assert skeleton.startswith('{"total_count":1374,"workflow_runs":"<table 1>"}')


def test_arrays_inside_rows_become_a_grouped_child_table() -> None:
    builds = [
        {
            "build": 100 + b,
            "steps": [{"name": f"step-{s}", "seconds": b * 10 + s} for s in range(3)],
        }
        for b in range(30)
    ]
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(builds)
    text = result.compressed
    assert "all rows: steps=<table 2>" in text
    assert "<table 2> at $[*].steps: 90 rows (grouped by row of <table 1>)" in text
    assert "^29\nstep-0|290\nstep-1|291\nstep-2|292" in text
    assert "#|build\n0|100\n" in text
    assert_every_scalar_survives(builds, text)


def test_objects_with_different_keys_mark_absent_keys() -> None:
    records = [{"id": i, "name": f"n{i}"} for i in range(30)]
    records[7]["retry_of"] = 3
    text = SmartCrusher(SmartCrusherConfig(lossless_only=True, min_tokens_to_crush=0)).crush(
        records
    ).compressed
    assert "blank = retry_of=~" in text
    assert "id|name|retry_of" in text
    assert "7|n7|3" in text


# -- lossy ---------------------------------------------------------------------------------------


def test_lossy_keeps_errors_anomalies_relevant_first_last(store: InMemoryOriginalsStore) -> None:
    records = events(400)
    records[150].update(level="ERROR", status=503, message="upstream timeout")
    records[220]["latency_ms"] = 9400
    config = SmartCrusherConfig(max_items_after_crush=20, keep_first=2, keep_last=2)
    crusher = SmartCrusher(config, store=store)
    result = crusher.crush(records, query="what happened to evt_100333?")
    assert result.strategy == "lossy"
    assert {0, 1, 150, 220, 333, 398, 399} <= set(result.kept_indices)
    assert sorted(result.kept_indices + result.dropped_indices) == list(range(400))
    for index in result.kept_indices:
        assert records[index]["id"] in result.compressed
    assert "evt_100200" not in result.compressed or 200 in result.kept_indices
    assert "\nall rows: region=eu-west-1\n" in result.compressed
    assert result.tokens_after < result.tokens_before / 5


def test_query_matches_are_not_crowded_out_by_anomalies(store: InMemoryOriginalsStore) -> None:
    records = events(300)
    for index in range(0, 300, 10):
        records[index]["latency_ms"] = 5000 + index  # 30 outliers fill the allowance
    config = SmartCrusherConfig(max_items_after_crush=10)
    result = SmartCrusher(config, store=store).crush(records, query="evt_100123 and evt_100257")
    assert {123, 257} <= set(result.kept_indices)
    assert "2 relevant" in result.reasons[0]


def test_values_shared_only_by_the_shown_rows_say_so(store: InMemoryOriginalsStore) -> None:
    records = events(300)
    for record in records[100:]:
        record["region"] = "us-east-2"
    config = SmartCrusherConfig(max_items_after_crush=3, keep_first=3, keep_last=0)
    result = SmartCrusher(config, store=store).crush(records)
    assert result.kept_indices == [0, 1, 2]
    assert "\nall shown rows: region=eu-west-1" in result.compressed
    assert "region in {eu-west-1, us-east-2}" in result.compressed


def test_small_reductions_keep_everything(store: InMemoryOriginalsStore) -> None:
    records = events(60)
    result = SmartCrusher(SmartCrusherConfig(max_items_after_crush=50), store=store).crush(records)
    assert result.strategy == "lossless"
    assert result.dropped_indices == []


def test_long_lists_of_plain_values_are_reduced_too(store: InMemoryOriginalsStore) -> None:
    sizes = [100 + i % 7 for i in range(400)]
    sizes[222] = 99999
    paths = [f"src/pkg/module_{i}.py" for i in range(300)]
    data = {"sizes": sizes, "paths": paths, "tags": ["a", "b"]}
    result = SmartCrusher(store=store).crush(data, query="where is module_177.py?")
    text = result.compressed
    assert result.strategy == "lossy"
    assert '"tags":["a","b"]' in text
    assert "\n222|99999\n" in text
    assert "\n177|src/pkg/module_177.py\n" in text
    dropped = [sizes[i] for i in result.dropped_indices]
    assert store.get(result.retrieval_key) == dropped


def test_marker_names_dropped_count_ranges_and_key(store: InMemoryOriginalsStore) -> None:
    records = events(300)
    crusher = SmartCrusher(SmartCrusherConfig(max_items_after_crush=10), store=store)
    result = crusher.crush(records)
    dropped = len(result.dropped_indices)
    assert f"[{dropped} more rows not shown" in result.compressed
    assert "latency_ms 20..80" in result.compressed
    assert f'call headroom_retrieve with key "{result.retrieval_key}"' in result.compressed
    assert store.get(result.retrieval_key) == [records[i] for i in result.dropped_indices]


def test_without_a_store_nothing_is_stored_and_the_marker_names_no_key(
    store: InMemoryOriginalsStore,
) -> None:
    records = events(300, seed=5150)
    config = SmartCrusherConfig(max_items_after_crush=10)
    with_store = SmartCrusher(config, store=store).crush(records)
    result = SmartCrusher(config, store=None).crush(records)

    assert result.retrieval_key is None
    assert result.kept_indices == with_store.kept_indices, "retrieval never changes the selection"
    dropped = len(result.dropped_indices)
    assert f"[{dropped} more rows not shown" in result.compressed
    assert "latency_ms 20..80" in result.compressed
    assert "headroom_retrieve" not in result.compressed and "with key" not in result.compressed
    assert default_originals_store().get(with_store.retrieval_key) is None


def test_without_a_store_a_shortened_string_names_no_key() -> None:
    files = [{"filename": "tests/test_repo.py", "patch": long_patch()}]
    result = SmartCrusher(store=None).crush({"files": files}, query="why does it time out?")
    assert result.strategy == "lossy" and result.retrieval_key is None
    assert "long text of" in result.compressed and "TimeoutError" in result.compressed
    assert "headroom_retrieve" not in result.compressed


def test_by_default_dropped_rows_go_to_the_process_wide_store() -> None:
    records = events(200, seed=6262)
    result = SmartCrusher(SmartCrusherConfig(max_items_after_crush=10)).crush(records)
    assert retrieve(result.retrieval_key) == [records[i] for i in result.dropped_indices]


def test_dropped_rows_come_back_from_a_sqlite_store(tmp_path: Path) -> None:
    store = SQLOriginalsStore(f"sqlite:///{tmp_path / 'originals.db'}")
    try:
        records = events(200)
        result = SmartCrusher(SmartCrusherConfig(max_items_after_crush=10), store=store).crush(
            records
        )
        assert retrieve(result.retrieval_key, store=store) == [
            records[i] for i in result.dropped_indices
        ]
        wanted = records[result.dropped_indices[100]]
        assert retrieve(result.retrieval_key, query=wanted["id"], store=store)[0] == wanted
    finally:
        store.close()


def test_real_workflow_runs_keep_failed_and_cancelled_runs(store: InMemoryOriginalsStore) -> None:
    text = load("github_workflow_runs.json")
    runs = json.loads(text)["workflow_runs"]
    crusher = SmartCrusher(SmartCrusherConfig(max_items_after_crush=2, keep_first=1, keep_last=0),
                           store=store)
    result = crusher.crush(text)
    assert result.strategy == "lossy"
    for run in runs:
        if run["conclusion"] != "success":
            assert run["node_id"] in result.compressed


def test_token_budget_is_met_when_must_keep_rows_allow(store: InMemoryOriginalsStore) -> None:
    records = events(500)
    result = SmartCrusher(store=store).crush(records, token_budget=1500)
    assert result.strategy == "lossy"
    assert result.tokens_after <= 1500


def long_patch() -> str:
    lines = [f"+    assert fixture_{i}.value == {i}" for i in range(400)]
    lines[150] = "+    raise TimeoutError('upstream did not answer')"
    lines[260] = "+    client.get_repo('octo/hello-world')"
    lines[300] = "+" + "x" * 5000
    return "\n".join(lines)


def test_long_strings_keep_head_tail_and_telling_lines(store: InMemoryOriginalsStore) -> None:
    patch = long_patch()
    files = [{"filename": "tests/test_repo.py", "sha": "6736be47", "patch": patch}]
    files += [{"filename": f"m{i}.py", "sha": f"{i:08x}", "patch": "@@ -1 +1 @@"} for i in range(5)]
    query = "why does 'octo/hello-world' fail?"
    result = SmartCrusher(store=store).crush({"files": files}, query=query)
    text = result.compressed
    assert result.strategy == "lossy"
    assert "shortened 1 strings over 4000 chars" in result.reasons
    for kept in ("fixture_0.value == 0", "fixture_399.value == 399", "TimeoutError", "hello-world"):
        assert kept in text
    assert "fixture_200.value" not in text
    assert "[... " in text and " lines ...]" in text
    key = re.search(r'long text of \d+ chars shortened; .* key \\"(\w+)\\"', text)
    assert key is not None
    assert key.group(1) == result.retrieval_key
    assert store.get(result.retrieval_key) == [patch]
    assert result.tokens_after < result.tokens_before / 3


def test_lossless_only_keeps_long_strings_whole() -> None:
    patch = long_patch()
    config = SmartCrusherConfig(lossless_only=True)
    result = SmartCrusher(config).crush({"patch": patch, "n": [1, 2]})
    assert json.loads(result.compressed)["patch"] == patch


def test_lossless_only_never_drops(store: InMemoryOriginalsStore) -> None:
    result = SmartCrusher(SmartCrusherConfig(lossless_only=True), store=store).crush(events(400))
    assert result.strategy == "lossless"
    assert result.dropped_indices == []


@pytest.mark.parametrize("name", ["vega_flights_300.json", "github_workflow_runs.json"])
def test_parsing_stores_repeated_short_values_once(name: str) -> None:
    text = load(name)
    value, _ = parse_json_text(text)
    assert value == json.loads(text)
    shorts = [v for v in scalars(value) if isinstance(v, str) and len(v) <= SHARED_STRING_CHARS]
    assert len(shorts) > len(set(shorts))  # the output repeats values
    first: dict[str, str] = {}
    assert all(first.setdefault(text, text) is text for text in shorts)


def test_relevance_scores_do_not_depend_on_rows_per_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    records = events(700)
    for index in (3, 300, 699):  # in the first, second and last pass of rows
        records[index]["message"] = f"zebra crossing {index} blocked"
    table = extract_tables(records)[1][0]
    query = "why is zebra crossing 300 blocked"
    scorer = BM25Scorer()
    scores = relevance_scores(table, query, scorer)
    monkeypatch.setattr(selection, "ROWS_PER_PASS", len(records))
    assert relevance_scores(table, query, scorer) == scores
    assert scores[300] == max(scores)  # it also holds the number the query names
    assert 0 < scores[3] < scores[300] and 0 < scores[699] < scores[300]
    assert sum(score > 0 for score in scores) == 3


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4"])
def test_split_counts_are_exact(model: str) -> None:
    tokenizer = get_tokenizer(model)
    crushed = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(events(3000)).compressed
    for text in (load("vega_flights_300.json") * 4, crushed * 2):
        assert len(text) > 2 * THREAD_MIN_CHARS
        assert count_tokens_split(tokenizer, text) == tokenizer.count_text(text)


def test_the_original_is_counted_exactly_whatever_the_input_form() -> None:
    tokenizer = get_tokenizer("gpt-4o")
    records = events(1500)  # large enough for the count to run beside the parse
    text = json.dumps(records, indent=1)
    compact = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(records).compressed
    cases: list[tuple[Any, str]] = [
        (text, text),
        (f"\n {text}\n", f"\n {text}\n"),
        (text.encode(), text),
        (records, json.dumps(records, ensure_ascii=False)),
        (compact, compact),  # passes through: already compact
        (text[:100_000], text[:100_000]),  # passes through: truncated JSON
        ("plain words " * 500, "plain words " * 500),
    ]
    for data, counted in cases:
        result = SmartCrusher(store=None).crush(data, tokenizer=tokenizer)
        assert result.tokens_before == tokenizer.count_text(counted), str(data)[:40]


# -- pass-through and bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("plain text, not JSON at all " * 20, "not a JSON object or array"),
        ('{"a": [1, 2, ' * 40, "invalid JSON"),
        ("[" + "NaN, " * 100 + "1]", "non-standard JSON constant NaN"),
        ('{"x": [' + "Infinity," * 100 + "1]}", "non-standard JSON constant Infinity"),
        ("[" * 10_000 + "]" * 10_000, "nested too deeply to parse"),
        ('{"a": ' * 900 + '"deep"' + "}" * 900, "nested too deeply"),
        ("[" + "9" * 5000 + "]", "unsupported JSON value"),
        ("\x00\xff\xfe garbage \x13" * 50, "not a JSON object or array"),
        ('[{"a": 1}] trailing' + " words" * 50, "extra data"),
    ],
)
def test_bad_input_passes_through_with_a_reason(data: str, reason: str) -> None:
    result = SmartCrusher(SmartCrusherConfig(min_tokens_to_crush=0)).crush(data)
    assert result.strategy == "passthrough"
    assert result.compressed == data
    assert result.tokens_before == result.tokens_after
    assert reason in result.reasons[0]


def test_parsed_data_with_nan_passes_through_with_a_reason() -> None:
    data = [{"reading": float("nan"), "sensor": f"s{i}"} for i in range(50)]
    result = SmartCrusher().crush(data)
    assert result.strategy == "passthrough"
    assert "NaN" in result.reasons[0]
    assert result.original is data


def test_small_output_passes_through() -> None:
    result = SmartCrusher().crush('[{"a": 1}, {"a": 2}]')
    assert result.strategy == "passthrough"
    assert "min_tokens_to_crush" in result.reasons[0]


@pytest.mark.parametrize(
    "data",
    [
        b"\xff\xfe\x00binary",
        "[" + "1," * 16_000_001 + "1]",  # over MAX_INPUT_CHARS (the router cuts such outputs)
        {"bad": object()},
        "\x00\x9f garbage" * 30_000,
    ],
    ids=["non-utf8-bytes", "over-size-limit", "not-json-serialisable", "large-non-json"],
)
def test_unusable_input_raises_transform_error(data: Any) -> None:
    with pytest.raises(TransformError):
        SmartCrusher().crush(data)


class BrokenScorer:
    """A user-supplied scorer that fails."""

    def score_items(self, items: list[str], query: str) -> list[float]:
        raise RuntimeError("model server unreachable")


class DownStore:
    """An originals store whose database is down."""

    def put(self, items: list[Any], *, tool_name: str | None = None, kind: str = "json") -> str:
        raise ConnectionError("database is down")

    def get(self, key: str) -> list[Any] | None:
        return None


def test_a_store_that_is_down_costs_the_key_not_the_crush() -> None:
    result = SmartCrusher(SmartCrusherConfig(max_items_after_crush=10), store=DownStore()).crush(
        events(300)
    )
    assert result.strategy == "lossy"
    assert result.retrieval_key is None
    assert "more rows not shown" in result.compressed
    assert "headroom_retrieve" not in result.compressed


def test_a_failing_collaborator_surfaces_as_transform_error() -> None:
    crusher = SmartCrusher(scorer=BrokenScorer())
    with pytest.raises(TransformError, match="model server unreachable") as caught:
        crusher.crush(events(300), query="evt_100007 status")
    assert caught.value.details["error"] == "RuntimeError"


def test_deeply_nested_parsed_data_raises_transform_error() -> None:
    data: Any = []
    for _ in range(5000):
        data = [data]
    with pytest.raises(TransformError, match="nested too deeply"):
        SmartCrusher().crush(data)


def test_crushing_twice_changes_nothing(store: InMemoryOriginalsStore) -> None:
    crusher = SmartCrusher(SmartCrusherConfig(max_items_after_crush=10), store=store)
    first = crusher.crush(events(200))
    second = crusher.crush(first.compressed)
    assert second.strategy == "passthrough"
    assert second.compressed == first.compressed
    assert isinstance(second, CrushResult)


# -- messages ------------------------------------------------------------------------------------


def conversation(tool_output: str) -> list[dict[str, Any]]:
    return [
        {"role": "system", "content": "You are an SRE assistant."},
        {"role": "user", "content": "Which workflow runs did not succeed?"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "list_runs", "arguments": '{"repo": "Phishing"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": tool_output},
    ]


def test_apply_crushes_tool_messages_and_keeps_the_rest(store: InMemoryOriginalsStore) -> None:
    messages = conversation(load("github_workflow_runs.json"))
    snapshot = json.dumps(messages)
    result = SmartCrusher(store=store).apply(messages)
    assert json.dumps(messages) == snapshot
    assert result.messages[:3] == messages[:3]
    assert result.messages[3]["tool_call_id"] == "call_1"
    assert result.messages[3]["content"] != messages[3]["content"]
    assert result.transforms_applied == ["smart_crusher"]
    assert result.tokens_after < result.tokens_before
    assert result.tokens_before == get_tokenizer("gpt-4o").count_messages(messages)
    assert result.details["by_strategy"]["lossless"] == result.tokens_saved


def test_apply_is_idempotent(store: InMemoryOriginalsStore) -> None:
    crusher = SmartCrusher(store=store)
    once = crusher.apply(conversation(json.dumps(events(300))))
    twice = crusher.apply(once.messages)
    assert twice.messages == once.messages
    assert twice.tokens_saved == 0
    assert twice.transforms_applied == []


def test_apply_leaves_non_json_tool_output_alone(store: InMemoryOriginalsStore) -> None:
    messages = conversation("total 0\n" + "drwxr-xr-x 2 root root 4096 Nov 26 06:41 data\n" * 50)
    result = SmartCrusher(store=store).apply(messages)
    assert result.messages == messages
    assert result.warnings == []


def test_docstring_examples_run() -> None:
    outcome = doctest.testmod(smart_crusher)
    assert outcome.attempted > 0
    assert outcome.failed == 0


def test_a_series_of_pairs_becomes_a_table_and_keeps_its_spike() -> None:
    rng = random.Random(3)
    points = [[1_700_000_000 + 60 * i, round(rng.random(), 4)] for i in range(400)]
    points[123][1] = 97.5
    store = InMemoryOriginalsStore()
    result = SmartCrusher(store=store).crush(
        json.dumps({"metric": "cpu", "values": points}), query="when did the cpu spike?"
    )
    assert result.strategy == "lossy" and result.tokens_after < result.tokens_before / 3
    assert "#|[0]|[1]" in result.compressed and "123|1700007380|97.5" in result.compressed
    dropped = retrieve(result.retrieval_key or "", store=store)
    assert len(dropped) + 50 >= 400 and all(point in points for point in dropped)
    lossless = SmartCrusher(SmartCrusherConfig(lossless_only=True)).crush(json.dumps(points))
    assert all(f"{t}|{v}" in lossless.compressed for t, v in points)
