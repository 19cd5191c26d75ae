"""The lossless compact encoding: arrays of objects become tables a model reads at a glance.

A table is a header line of column names (nested keys dotted) and one line per object, cells
split by ``|``. Text is written as is unless that would be ambiguous (empty, padded, holding the
delimiter or a line break, or looking like a number, ``true``/``false``/``null`` or JSON); then it
is JSON-quoted. A column with one value in every row is stated once ("all rows:"); a column where
one value dominates leaves those cells blank ("blank ="). Every value keeps its exact text.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from headroom_core.transforms._json.parse import JsonFloat

__all__ = [
    "ABSENT",
    "LEGEND",
    "Table",
    "cell_text",
    "dump_json",
    "extract_tables",
    "is_compact_output",
    "render_document",
    "render_table",
]

DELIMITER = "|"
ABSENT = "~"
"""Cell text of a key the object does not have."""

LEGEND = (
    "[compact JSON: each table is a list of objects, one row per object under a header of keys "
    '(a.b = nested key), cells split by "|" and verbatim unless JSON-quoted; '
    '"all rows:" and "blank =" give values left out of the rows; ~ = key absent; '
    "a last cell xN repeats the row N times]"
)
"""First line of every compact output; also how already-crushed output is recognised."""

MIN_TABLE_ROWS = 2
DEFAULT_MIN_SHARE = 0.5
"""A value filling at least this share of a column becomes the column's blank default."""

_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_UNSAFE = re.compile(r'[|\x00-\x1f\x7f]|^[\s"\[{~]|\s$|^x\d+$')
_LITERALS = frozenset({"true", "false", "null"})


def is_compact_output(text: str) -> bool:
    """Whether ``text`` is already this encoding (so crushing it again changes nothing)."""
    return text.startswith(LEGEND[:20])


def dump_json(value: Any, exact_floats: bool = False) -> str:
    """Minified JSON of ``value``; with ``exact_floats`` floats keep their source text."""
    if not exact_floats:
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
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


def cell_text(value: Any, exact_floats: bool = False) -> str:
    """The cell text of one value: verbatim when unambiguous, else JSON."""
    if isinstance(value, str):
        if (
            value
            and not _UNSAFE.search(value)
            and value not in _LITERALS
            and not _NUMBER.fullmatch(value)
        ):
            return value
        return json.dumps(value, ensure_ascii=False)
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


def flatten(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with nested non-empty objects spread into dotted keys (iterative)."""
    flat: dict[str, Any] = {}
    stack: list[tuple[str, dict[str, Any]]] = [("", item)]
    while stack:
        prefix, node = stack.pop()
        pending = []
        for key, value in node.items():
            name = f"{prefix}{key}"
            if isinstance(value, dict) and value:
                pending.append((f"{name}.", value))
            else:
                flat[name] = value
        stack.extend(reversed(pending))
    return flat


@dataclass
class Table:
    """One array of objects found in the document, with its rows flattened."""

    path: str
    items: list[dict[str, Any]]
    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rows = [flatten(item) for item in self.items]
        seen: dict[str, None] = {}
        for row in self.rows:
            for key in row:
                if key not in seen:
                    seen[key] = None
        self.columns = list(seen)

    def __len__(self) -> int:
        return len(self.items)


def _is_table(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) >= MIN_TABLE_ROWS
        and all(isinstance(item, dict) and item for item in value)
    )


def extract_tables(root: Any) -> tuple[Any, list[Table]]:
    """Find the arrays of objects in ``root``; return the skeleton (tables replaced by
    ``"<table N>"`` placeholders) and the tables, outermost first."""
    tables: list[Table] = []

    def visit(node: Any, path: str) -> Any:
        if _is_table(node):
            tables.append(Table(path, node))
            return f"<table {len(tables)}>"
        if isinstance(node, dict):
            return {key: visit(value, f"{path}.{key}") for key, value in node.items()}
        if isinstance(node, list):
            return [visit(value, f"{path}[{index}]") for index, value in enumerate(node)]
        return node

    skeleton = visit(root, "$")
    return skeleton, tables


def _column_cells(table: Table, column: str, indices: Sequence[int], exact: bool) -> list[str]:
    rows = table.rows
    return [
        cell_text(rows[i][column], exact) if column in rows[i] else ABSENT for i in indices
    ]


def render_table(
    table: Table,
    number: int | None,
    indices: Sequence[int] | None = None,
    *,
    exact_floats: bool = False,
    marker: str = "",
) -> str:
    """Text of ``table`` restricted to the rows at ``indices`` (all when None).

    Kept rows of a reduced table carry their original position in a ``#`` column.
    """
    reduced = indices is not None
    rows_at = list(range(len(table))) if indices is None else list(indices)
    count = len(rows_at)
    constants: list[str] = []
    defaults: list[str] = []
    shown: list[tuple[str, list[str]]] = []
    for column in table.columns:
        cells = _column_cells(table, column, rows_at, exact_floats)
        value, freq = Counter(cells).most_common(1)[0] if cells else (ABSENT, 0)
        if freq == count and count > 1:
            if value != ABSENT:
                constants.append(f"{column}={value}")
            continue
        if count >= 4 and freq >= DEFAULT_MIN_SHARE * count:
            defaults.append(f"{column}={value}")
            cells = ["" if cell == value else cell for cell in cells]
        shown.append((column, cells))
    title = "table" if number is None else f"<table {number}>"
    where = f" at {table.path}" if number is not None else ""
    lines = [f"{title}{where}: {len(table)} rows" + (f", {count} shown" if reduced else "")]
    if constants:
        lines.append("all rows: " + "; ".join(constants))
    if defaults:
        lines.append("blank = " + "; ".join(defaults))
    header = [column for column, _ in shown]
    columns = [cells for _, cells in shown]
    if reduced:
        header.insert(0, "#")
        columns.insert(0, [str(i) for i in rows_at])
    lines.append(DELIMITER.join(header))
    rows = [DELIMITER.join(row) for row in zip(*columns, strict=True)] if columns else []
    lines.extend(_collapse_runs(rows))
    if marker:
        lines.append(marker)
    return "\n".join(lines)


def _collapse_runs(lines: list[str]) -> list[str]:
    """Consecutive identical rows become one row with a trailing ``xN`` cell."""
    out: list[str] = []
    previous: str | None = None
    run = 0
    for line in lines:
        if line == previous:
            run += 1
            continue
        if previous is not None:
            out.append(previous if run == 1 else f"{previous}{DELIMITER}x{run}")
        previous, run = line, 1
    if previous is not None:
        out.append(previous if run == 1 else f"{previous}{DELIMITER}x{run}")
    return out


def render_document(
    skeleton: Any, table_texts: Sequence[str], *, exact_floats: bool = False
) -> str:
    """The whole compact output: legend, skeleton JSON (unless the root is a table), tables."""
    parts = [LEGEND]
    if not (isinstance(skeleton, str) and skeleton == "<table 1>" and len(table_texts) == 1):
        parts.append(dump_json(skeleton, exact_floats))
    parts.extend(table_texts)
    return "\n".join(parts)
