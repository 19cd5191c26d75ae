"""The lossless compact encoding: arrays of objects become tables a model reads at a glance.

A table is a header line of column names (nested keys dotted) and one line per object, cells
split by ``|``. Text is written as is unless that would be ambiguous (empty, padded, holding the
delimiter or a line break, or looking like a number, ``true``/``false``/``null`` or JSON); then it
is JSON-quoted. A column with one value in every row is stated once ("all rows:"); a column where
one value dominates leaves those cells blank ("blank ="). Arrays of objects inside rows become
child tables whose rows are grouped under ``^N`` lines naming their parent row. Every value keeps
its exact text.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any

from headroom_core.transforms._json.parse import JsonFloat
from headroom_core.transforms._json.table import MISSING, ChildRows, Table, rebuilt_if_changed

__all__ = [
    "ABSENT",
    "LONG_TEXT_CHARS",
    "cell_text",
    "dump_json",
    "is_compact_output",
    "render_document",
    "render_table",
    "shorten_strings",
]

Shorten = Callable[[str], str]

DELIMITER = "|"
ABSENT = "~"
"""Cell text of a key the object does not have."""

LEGEND_START = "[compact JSON:"
"""How every compact output begins; also how already-crushed output is recognised."""

_LEGEND_PARTS = {
    "base": (
        f"{LEGEND_START} a table lists objects as rows under a header of their keys (a.b = nested "
        'key), cells split by "|", verbatim unless JSON-quoted'
    ),
    "constants": '"all rows:" = value in every row ("all shown rows:": in every row shown)',
    "defaults": '"blank =" = value of empty cells',
    "absent": "~ = key absent",
    "runs": "last cell xN = row repeated N times",
    "index": "# = position in the original list",
    "groups": "^N = rows below belong to row #N of the parent table",
    "positions": "[N] = item N of each row's array (rows that are arrays)",
}

LONG_TEXT_CHARS = 4000
"""Strings longer than this (about 1,000 tokens) go through ``shorten`` when one is given."""

RENDER_ROWS = 512
"""Longer tables are rendered a block of this many rows at a time."""
DEFAULT_MIN_SHARE = 0.5
"""A value filling at least this share of a column becomes the column's blank default."""

# Text that can stand bare in a cell: not empty, not padded, no delimiter or control character,
# not starting like JSON, a reference or a marker, and not reading as a literal, number or "xN".
_BARE = re.compile(
    r"(?!(?:true|false|null|x\d+|-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?)\Z)"
    r'[^\s"\[{~^<|\x00-\x1f\x7f](?:[^|\x00-\x1f\x7f]*[^\s|\x00-\x1f\x7f])?\Z'
)


def is_compact_output(text: str) -> bool:
    """Whether ``text`` is already this encoding (so crushing it again changes nothing)."""
    return text.startswith(LEGEND_START)


def dump_json(value: Any, exact_floats: bool = False) -> str:
    """Minified JSON of ``value``; with ``exact_floats`` floats keep their source text."""
    if not exact_floats:
        return _dump_in_batches(value)
    if isinstance(value, JsonFloat):
        return value.text
    if isinstance(value, dict):
        inner = ",".join(
            f"{json.dumps(str(key), ensure_ascii=False)}:{dump_json(item, True)}"
            for key, item in value.items()
        )
        return "{" + inner + "}"
    if isinstance(value, list):
        return "[" + ",".join(dump_json(item, True) for item in value) + "]"
    return json.dumps(value, ensure_ascii=False)


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
_DUMP_BATCH = 64
_DUMP_DEPTH = 3


def _dump_in_batches(value: Any, depth: int = 0) -> str:
    """Minified JSON of ``value``, its upper levels and long lists encoded a batch at a time:
    one ``json.dumps`` call gathers a small string per value before joining them, a peak
    several times the output."""
    if depth < _DUMP_DEPTH and isinstance(value, dict) and value:
        return "{" + ",".join(
            f"{_COMPACT.encode(key)}:{_dump_in_batches(item, depth + 1)}"
            for key, item in value.items()
        ) + "}"
    if depth < _DUMP_DEPTH and isinstance(value, list) and len(value) > _DUMP_BATCH:
        return "[" + ",".join(
            _COMPACT.encode(value[start : start + _DUMP_BATCH])[1:-1]
            for start in range(0, len(value), _DUMP_BATCH)
        ) + "]"
    return _COMPACT.encode(value)


def cell_text(value: Any, exact_floats: bool = False) -> str:
    """The cell text of one value: verbatim when unambiguous, else JSON."""
    if isinstance(value, str):
        return value if _BARE.match(value) else json.dumps(value, ensure_ascii=False)
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, JsonFloat):
        return value.text
    if isinstance(value, float):
        return json.dumps(value)
    return dump_json(value, exact_floats)


def _column_cells(
    table: Table, column: str, indices: Sequence[int], exact: bool, shorten: Shorten | None
) -> list[str]:
    """Cell texts of one column (the common types inlined: this is the hot loop)."""
    values = table.values(column)
    if len(indices) < len(table):  # a reduced table: the shown rows' values
        values = [values[index] for index in indices]
    child = table.children.get(column)
    reference = f"<table {child.number}>" if child is not None else ""
    bare = _BARE.match
    dumps = json.dumps
    texts: dict[str, str] = {}  # columns repeat values: each distinct string is checked once
    numbers: dict[int, str] = {}
    cells: list[str] = []
    append = cells.append
    for value in values:
        kind = type(value)
        if kind is str:
            text = texts.get(value)
            if text is None:
                short = value
                if shorten is not None and len(value) > LONG_TEXT_CHARS:
                    short = shorten(value)
                text = texts[value] = short if bare(short) else dumps(short, ensure_ascii=False)
            append(text)
        elif kind is int:  # repeated numbers (codes, counts) share one text
            text = numbers.get(value)
            if text is None:
                text = numbers[value] = str(value)
            append(text)
        elif kind is float:  # a plain float prints as written (see parse): no JSON call
            append(repr(value))
        elif value is MISSING:
            append(ABSENT)
        elif kind is ChildRows:
            append(reference)
        else:
            append(cell_text(value, exact))
    return cells


def render_table(
    table: Table,
    indices: Sequence[int] | None = None,
    *,
    exact_floats: bool = False,
    marker: str = "",
    features: set[str] | None = None,
    shorten: Shorten | None = None,
) -> str:
    """Text of ``table`` restricted to the rows at ``indices`` (all when None).

    Rows carry their position in a ``#`` column when the table is reduced or has child tables.
    ``features`` collects which parts of the legend the text relies on; ``shorten`` rewrites
    strings longer than :data:`LONG_TEXT_CHARS`.
    """
    used = features if features is not None else set()
    if table.positional:
        used.add("positions")
    reduced = indices is not None and len(indices) < len(table)
    rows_at: Sequence[int] = range(len(table)) if indices is None else list(indices)
    count = len(rows_at)
    constants: list[str] = []
    shown_constants: list[str] = []  # same in every shown row of a cut table, not in all rows
    defaults: list[str] = []
    shown: list[tuple[str, str | None, list[str] | None]] = []  # column, its blank, its cells
    for column in table.columns:
        cells = _column_cells(table, column, rows_at, exact_floats, shorten)
        value, freq = Counter(cells).most_common(1)[0] if cells else (ABSENT, 0)
        if freq == count and count > 1:
            if value != ABSENT:
                same_everywhere = not reduced or _is_constant(table.values(column))
                (constants if same_everywhere else shown_constants).append(f"{column}={value}")
            continue
        blank = None
        if count >= 4 and freq >= DEFAULT_MIN_SHARE * count:
            defaults.append(f"{column}={value}")
            blank = value
        if blank != ABSENT and ABSENT in cells:
            used.add("absent")
        # A long table's cells are made again a block of rows at a time (below), so the cells
        # of all its columns never exist at once.
        shown.append((column, blank, _blanked(cells, blank) if count <= RENDER_ROWS else None))
        del cells
    where = f"<table {table.number}> at {table.path}: {len(table)} rows"
    if reduced:
        where += f", {count} shown"
    if table.parent is not None:
        where += f" (grouped by row of <table {table.parent.number}>)"
        used.add("groups")
    lines = [where]
    if constants:
        lines.append("all rows: " + "; ".join(constants))
        used.add("constants")
    if shown_constants:
        lines.append("all shown rows: " + "; ".join(shown_constants))
        used.add("constants")
    if defaults:
        lines.append("blank = " + "; ".join(defaults))
        used.add("defaults")
    header = [column for column, _, _ in shown]
    numbered = reduced or bool(table.children)
    if numbered:
        used.add("index")
        header.insert(0, "#")
    lines.append(DELIMITER.join(header))
    body: list[str] = []
    columns: list[list[str]] = []
    for start in range(0, count, RENDER_ROWS) if header else ():
        block = rows_at[start : start + RENDER_ROWS]
        columns = [
            cells if cells is not None
            else _blanked(_column_cells(table, column, block, exact_floats, shorten), blank)
            for column, blank, cells in shown
        ]
        if numbered:
            columns.insert(0, [str(i) for i in block])
        body.extend(DELIMITER.join(row) for row in zip(*columns, strict=True))
    del shown, columns  # the cells now live in the rows; free them before the final join
    if table.parent is not None:
        body = _grouped(body, [table.parent_rows[i] for i in rows_at], used)
    else:
        body = _collapse_runs(body, used)
    lines.extend(body)
    if marker:
        lines.append(marker)
    return "\n".join(lines)


def _blanked(cells: list[str], blank: str | None) -> list[str]:
    """``cells`` with those equal to ``blank`` (the column's default) left empty."""
    return cells if blank is None else ["" if cell == blank else cell for cell in cells]


def _is_constant(values: list[Any]) -> bool:
    first = values[0]
    return all(type(value) is type(first) and value == first for value in values)


def _grouped(body: list[str], parents: list[int], used: set[str]) -> list[str]:
    """Rows under a ``^N`` line each time the parent row changes (runs collapsed per group)."""
    out: list[str] = []
    start = 0
    for end in range(1, len(body) + 1):
        if end == len(body) or parents[end] != parents[start]:
            out.append(f"^{parents[start]}")
            out.extend(_collapse_runs(body[start:end], used))
            start = end
    return out


def _collapse_runs(lines: list[str], used: set[str]) -> list[str]:
    """Consecutive identical rows become one row with a trailing ``xN`` cell."""
    out: list[str] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        end = index + 1
        while end < len(lines) and lines[end] == line:
            end += 1
        if end - index > 1:
            out.append(f"{line}{DELIMITER}x{end - index}")
            used.add("runs")
        else:
            out.append(line)
        index = end
    return out


def shorten_strings(value: Any, shorten: Shorten) -> Any:
    """``value`` with strings longer than :data:`LONG_TEXT_CHARS` shortened; unchanged parts
    are shared with ``value``, which is never modified."""
    if isinstance(value, str):
        return shorten(value) if len(value) > LONG_TEXT_CHARS else value
    if isinstance(value, dict):
        return rebuilt_if_changed(
            value, {key: shorten_strings(item, shorten) for key, item in value.items()}
        )
    if isinstance(value, list):
        return rebuilt_if_changed(value, [shorten_strings(item, shorten) for item in value])
    return value


def render_document(
    skeleton: Any, table_texts: Sequence[str], features: set[str], *, exact_floats: bool = False
) -> str:
    """The whole compact output: legend, skeleton JSON (unless the root is a table), tables."""
    legend = "; ".join(
        text for name, text in _LEGEND_PARTS.items() if name == "base" or name in features
    )
    parts = [legend + "]"]
    if skeleton != "<table 1>":
        parts.append(dump_json(skeleton, exact_floats))
    parts.extend(table_texts)
    return "\n".join(parts)
