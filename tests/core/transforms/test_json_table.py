"""Tables in column form give back every row exactly as parsed, in its key order."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from headroom_core.transforms._json.parse import parse_json_text
from headroom_core.transforms._json.table import (
    MAX_POSITIONS,
    MISSING,
    ChildRows,
    Table,
    extract_tables,
    flatten,
)

KEYS = st.sampled_from(["id", "name", "a", "b", "a.b", "user", "tags", "x"])
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 10**12),
    st.floats(allow_nan=False, allow_infinity=False, width=32), st.text(max_size=6),
)


def _objects(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    values: st.SearchStrategy[Any] = SCALARS
    if depth > 0:
        child = _objects(depth - 1)
        values = st.one_of(SCALARS, child, st.lists(child, min_size=1, max_size=3),
                           st.lists(SCALARS, max_size=3), st.just({}))
    return st.dictionaries(KEYS, values, min_size=1, max_size=5)


def _exact(value: Any) -> str:
    """JSON text keeping key order, so equal texts mean equal rows in equal order."""
    return json.dumps(value, ensure_ascii=False)


def _first_table(rows: list[Any], *, release: bool = False) -> tuple[Any, Table]:
    """The parsed ``rows`` and the table they make."""
    items, _ = parse_json_text(json.dumps(rows))
    return items, extract_tables(items, release=release)[1][0]


def _read(table: Table) -> list[list[str]]:
    return [[str(value) for value in values] for values in table.row_values(0, len(table))]


@settings(max_examples=200, deadline=None)
@given(st.lists(_objects(2), min_size=2, max_size=12))
def test_every_row_comes_back_exactly_in_its_key_order(rows: list[dict[str, Any]]) -> None:
    items, table = _first_table(rows)
    assert len(table) == len(items)
    handed_over, released = _first_table(rows, release=True)
    assert handed_over == [None] * len(items)  # every object was let go
    assert [_exact(released.item(i)) for i in range(len(table))] == [_exact(i) for i in items]
    assert _read(released) == _read(table)
    assert [_exact(table.item(i)) for i in range(len(table))] == [_exact(i) for i in items]
    every = table.items_at(range(len(table)))
    assert [_exact(item) for item in every[0 : len(every)]] == [_exact(i) for i in items]
    assert [_exact(item) for item in every] == [_exact(i) for i in items]


@settings(max_examples=200, deadline=None)
@given(st.lists(_objects(2), min_size=2, max_size=12))
def test_row_values_read_like_the_flattened_rows(rows: list[dict[str, Any]]) -> None:
    items, table = _first_table(rows)
    assert _read(table) == [[str(value) for value in flatten(item).values()] for item in items]


def test_arrays_of_objects_in_rows_become_child_tables_the_cells_point_to() -> None:
    runs = [{"id": n, "jobs": [{"name": f"job-{n}-{k}", "ok": k != 1} for k in range(3)]}
            for n in range(4)]
    skeleton, tables = extract_tables(runs)
    parent, child = tables
    assert skeleton == "<table 1>" and parent.children == {"jobs": child}
    cells = parent.values("jobs")
    assert all(type(cell) is ChildRows for cell in cells)
    assert cells[2].items() == runs[2]["jobs"]
    assert child.parent_rows == [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    assert parent.item(3) == runs[3]


def test_absent_keys_read_as_missing_and_are_left_out_of_rows() -> None:
    items = [{"id": 1, "error": "disk full"}, {"id": 2}, {"id": 3, "error": None}]
    table = extract_tables(items)[1][0]
    assert table.values("error") == ["disk full", MISSING, None]
    assert table.row_values(0, 3) == [[1, "disk full"], [2], [3, None]]
    assert table.items_at([1, 2])[0:2] == [{"id": 2}, {"id": 3, "error": None}]


def test_long_lists_of_plain_values_are_one_column_tables() -> None:
    numbers = list(range(60))
    table = extract_tables({"series": numbers})[1][0]
    assert table.plain and table.columns == ["(value)"]
    assert table.items_at([0, 59])[0:2] == [0, 59] and table.item(7) == 7


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 4).flatmap(
    lambda width: st.lists(st.lists(SCALARS, min_size=width, max_size=width), min_size=50,
                           max_size=80)
))
def test_long_lists_of_short_arrays_are_tables_with_a_column_per_position(
    arrays: list[list[Any]],
) -> None:
    items, _ = parse_json_text(json.dumps({"series": arrays}))
    skeleton, tables = extract_tables(items)
    table = tables[0]
    assert skeleton == {"series": "<table 1>"} and table.positional
    assert table.columns == [f"[{k}]" for k in range(len(arrays[0]))]
    expected = [_exact(row) for row in items["series"]]
    assert [_exact(table.item(i)) for i in range(len(table))] == expected
    assert [_exact(row) for row in table.items_at(range(len(table)))[0 : len(table)]] == expected
    handed_over, _ = parse_json_text(json.dumps(arrays))
    released = extract_tables(handed_over, release=True)[1][0]
    assert handed_over == [None] * len(arrays)
    assert [_exact(released.item(i)) for i in range(len(table))] == expected


def test_arrays_of_different_lengths_or_holding_objects_stay_json() -> None:
    ragged = [[n, n + 1] for n in range(60)] + [[1, 2, 3]]
    holding = [[n, {"x": n}] for n in range(60)]
    for value in (ragged, holding, [[n] * (MAX_POSITIONS + 1) for n in range(60)]):
        assert extract_tables(value)[1] == []
