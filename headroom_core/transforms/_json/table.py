"""Arrays of objects found in a parsed document, held column by column.

As Python dicts, an array of small objects costs four to six times its JSON text; as columns,
each value costs one pointer. A :class:`Table` keeps each column's values and the original object
only for rows the columns cannot give back exactly (nested objects, an unusual key order); the
other rows are rebuilt when they are stored for retrieval. Arrays of objects inside rows become
child tables; the parent's cell then holds a :class:`ChildRows` standing for them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import compress, repeat
from typing import Any

from headroom_core._sequences import ComputedSequence

__all__ = [
    "MIN_TABLE_ROWS",
    "MIN_VALUE_TABLE_ROWS",
    "MISSING",
    "VALUE_COLUMN",
    "ChildRows",
    "Table",
    "extract_tables",
    "rebuilt_if_changed",
]

MIN_TABLE_ROWS = 2
MIN_VALUE_TABLE_ROWS = 50
"""A list of plain values this long becomes a one-column table (so it can be reduced too)."""
VALUE_COLUMN = "(value)"
"""Header of the one column of a table made from a list of plain values."""
MAX_POSITIONS = 16
"""A long list of arrays of plain values, all this long or shorter and of one length (a series
of pairs, say), becomes a table whose columns are the positions ``[0]``, ``[1]``..."""
MISSING: Any = type("Missing", (), {"__repr__": lambda self: "MISSING"})()
"""Stands for a key an object does not have."""


class ChildRows:
    """A parent cell's array of objects, now rows ``start`` to ``stop`` of a child table.

    Its text is that of the array itself, so row texts read as before the table was built.
    """

    __slots__ = ("start", "stop", "table")

    def __init__(self, table: Table, start: int, stop: int) -> None:
        self.table = table
        self.start = start
        self.stop = stop

    def items(self) -> list[Any]:
        """The array's objects, as parsed."""
        return [self.table.item(index) for index in range(self.start, self.stop)]

    def __repr__(self) -> str:
        return repr(self.items())


class Table:
    """One array of objects (or long array of plain values) in the document.

    A child table holds the objects of arrays found inside the rows of its ``parent``;
    ``parent_rows[i]`` is the parent row that row ``i`` came from.
    """

    def __init__(
        self, number: int, path: str, count: int,
        parent: Table | None = None, parent_rows: list[int] | None = None,
    ) -> None:
        self.number = number
        self.path = path
        self.parent = parent
        self.parent_rows = parent_rows or []
        self.columns: list[str] = []
        self.children: dict[str, Table] = {}
        self.plain = False  # a list of plain values: one column, rows are the values
        self.positional = False  # a list of arrays: columns are positions, rows are arrays
        self.dense = False  # every row has every column
        self._count = count
        self._values: dict[str, list[Any]] = {}
        self._originals: dict[int, Any] = {}  # rows the columns cannot give back exactly
        self._nested = bytearray()  # 1 for a row whose nested objects were spread into columns

    def __len__(self) -> int:
        return self._count

    def __repr__(self) -> str:
        return f"Table({self.number}, {self.path!r}, {self._count} rows)"

    def values(self, column: str) -> list[Any]:
        """The column's value in every row (:data:`MISSING` where the key is absent)."""
        return self._values[column]

    def row_values(self, start: int, stop: int) -> list[Sequence[Any]]:
        """The values of rows ``start`` to ``stop`` each in its object's key order (nested keys
        spread), absent keys left out."""
        columns = [self._values[column][start:stop] for column in self.columns]
        rows: list[Sequence[Any]] = [
            [value for value in row if value is not MISSING] for row in zip(*columns, strict=True)
        ]
        for index, original in self._originals.items():
            if start <= index < stop:
                rows[index - start] = list(flatten(original).values())
        return rows

    def item(self, index: int) -> Any:
        """Row ``index`` as parsed (an object, or the plain value of a value table)."""
        if self.plain:
            return self._values[VALUE_COLUMN][index]
        if self.positional:
            return [values[index] for values in self._values.values()]
        original = self._originals.get(index, MISSING)
        if original is not MISSING:
            return original
        pairs = [
            (column, value.items() if type(value) is ChildRows else value)
            for column, values in self._values.items()
            if (value := values[index]) is not MISSING
        ]
        if self._nested and self._nested[index]:  # a spread row: dotted keys nest again
            return _nest(pairs)
        return dict(pairs)

    def items_at(self, indices: Sequence[int]) -> Sequence[Any]:
        """The rows at ``indices`` as parsed, rebuilt only when read (a slice at a time)."""
        return _RowItems(self, indices)

    def _items(self, indices: Sequence[int]) -> list[Any]:
        """The rows at ``indices`` as parsed; rows of a dense table rebuilt column-wise, in C."""
        if self.plain:
            column = self._values[VALUE_COLUMN]
            return [column[index] for index in indices]
        originals = self._originals
        if (
            not self.dense or self.children or self._nested
            or (originals and any(i in originals for i in indices))
        ):
            return [self.item(index) for index in indices]
        picked = [[values[index] for index in indices] for values in self._values.values()]
        if self.positional:
            return list(map(list, zip(*picked, strict=True)))
        return list(map(dict, map(zip, repeat(self.columns), zip(*picked, strict=True))))


class _RowItems(ComputedSequence[Any]):
    """Rows of a table rebuilt on access: storing a long cut never holds them all at once."""

    def __init__(self, table: Table, indices: Sequence[int]) -> None:
        self._table = table
        self._indices = indices

    def __len__(self) -> int:
        return len(self._indices)

    def _at(self, index: int) -> Any:
        return self._table.item(self._indices[index])

    def _slice(self, positions: slice) -> list[Any]:
        return self._table._items(self._indices[positions])

    def __iter__(self) -> Iterator[Any]:
        return map(self._table.item, self._indices)


def _is_value_list(value: list[Any]) -> bool:
    """Whether every item of ``value`` is a plain value (no object, no list)."""
    return not any(isinstance(item, (dict, list)) for item in value)


def _is_array_list(value: list[Any]) -> bool:
    """Whether ``value`` is a list of arrays of plain values, all of one length up to
    :data:`MAX_POSITIONS` (a table with a column per position)."""
    first = value[0]
    if type(first) is not list or not 0 < len(first) <= MAX_POSITIONS:
        return False
    width = len(first)
    return all(
        type(item) is list and len(item) == width and _is_value_list(item) for item in value
    )


def _is_row_list(value: Any) -> bool:
    """Whether ``value`` is a list of objects that belongs in a (child) table."""
    return (
        isinstance(value, list)
        and len(value) > 0
        and all(isinstance(item, dict) and item for item in value)
    )


def _flattened(
    items: list[Any], release: bool
) -> tuple[list[dict[str, Any]], bytearray, dict[int, Any]]:
    """Each item flattened (see :func:`flatten`; ``items`` itself when none holds an object),
    a 1 for each item that was spread, and the items whose nested keys hold a dot (spread,
    they read like deeper nesting), by position.

    With ``release``, a spread item that can be rebuilt from its flat form is let go (its
    place in ``items`` left None).
    """
    if not any(map(_holds_objects, items)):
        return items, bytearray(), {}
    rows: list[dict[str, Any]] = []
    spread = bytearray(len(items))
    ambiguous: dict[int, Any] = {}
    names = _Names()  # one text per dotted name, not one per row
    for index, item in enumerate(items):
        if not _holds_objects(item):
            rows.append(item)
            continue
        flat: dict[str, Any] = {}
        spread[index] = 1
        if _spread(item, "", flat, names):
            ambiguous[index] = item
        elif release:
            items[index] = None
        rows.append(flat)
    return rows, spread, ambiguous


def flatten(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` with nested non-empty objects spread into dotted keys, in key order.

    Items without nested objects are returned as they are (no copy).
    """
    if not _holds_objects(item):
        return item
    flat: dict[str, Any] = {}
    _spread(item, "", flat, _Names())
    return flat


def _nest(pairs: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The object a spread row came from: dotted keys nested again, in their order."""
    item: dict[str, Any] = {}
    for column, value in pairs:
        *parents, leaf = column.split(".")
        node = item
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return item


def _holds_objects(item: dict[str, Any]) -> bool:
    """Whether ``item`` has a non-empty object as a value (the first test runs in C: most items
    hold no objects at all)."""
    values = item.values()
    return dict in map(type, values) and any(type(v) is dict and v for v in values)


class _Names:
    """The dotted names of spread keys, each made once: ``(prefix, key) -> name`` and
    ``name -> name + "."``."""

    __slots__ = ("names", "prefixes")

    def __init__(self) -> None:
        self.names: dict[tuple[str, str], str] = {}
        self.prefixes: dict[str, str] = {}

    def name(self, prefix: str, key: str) -> str:
        name = self.names.get((prefix, key))
        if name is None:
            name = self.names[prefix, key] = f"{prefix}{key}"
        return name

    def prefix(self, name: str) -> str:
        prefix = self.prefixes.get(name)
        if prefix is None:
            prefix = self.prefixes[name] = f"{name}."
        return prefix


def _spread(node: dict[str, Any], prefix: str, flat: dict[str, Any], names: _Names) -> bool:
    """Spread ``node`` into ``flat`` under dotted names; whether one of its keys holds a dot."""
    dotted = False
    for key, value in node.items():
        name = names.name(prefix, key)
        if "." in key:
            dotted = True
        if type(value) is dict and value:
            dotted = _spread(value, names.prefix(name), flat, names) or dotted
        else:
            flat[name] = value
    return dotted


def _build_table(
    tables: list[Table], path: str, items: list[Any], release: bool,
    parent: Table | None = None, parent_rows: list[int] | None = None,
    shared: frozenset[int] = frozenset(),
) -> Table:
    """The table of ``items``; with ``release``, objects are let go as their cells are taken,
    except that the objects at ``shared`` (held by a row kept whole elsewhere) are never
    changed."""
    table = Table(len(tables) + 1, path, len(items), parent, parent_rows)
    tables.append(table)
    if isinstance(items[0], list):  # a long list of arrays: one column per position
        table.positional = table.dense = True
        table.columns = [f"[{position}]" for position in range(len(items[0]))]
        table._values = _columns(items, range(len(items[0])), items if release else None)
        return table
    if not isinstance(items[0], dict):  # a long list of plain values: one column
        table.plain = True
        table.columns = [VALUE_COLUMN]
        table._values[VALUE_COLUMN] = items
        return table
    rows, spread, ambiguous = _flattened(items, release)
    shapes = dict.fromkeys(tuple(row) for row in rows)
    table.columns = list(dict.fromkeys(column for shape in shapes for column in shape))
    table.dense = len(shapes) == 1
    # Rows that cannot be rebuilt from the columns: nested keys holding a dot (spread, they
    # read like deeper nesting) and keys out of column order.
    table._nested = spread
    originals = ambiguous
    unordered = {shape for shape in shapes if not _in_column_order(shape, table.columns)}
    if unordered:
        for index, row in enumerate(rows):
            if tuple(row) in unordered and index not in originals:
                item = items[index]
                originals[index] = _nest(row.items()) if item is None else item
    table._originals = dict(sorted(originals.items()))
    # Arrays of objects in rows become child tables; a handed-over row lets go of its array
    # (unless it is kept whole), so the objects are let go as the child takes their cells.
    held = shared.union(originals)  # rows whose objects someone else still reads
    nested = _nested_rows(
        rows, held.difference(compress(range(len(spread)), spread)) if release else None
    )
    children = {
        column: _build_table(
            tables, f"{path}[*].{column}", objects, release, table, refs,
            frozenset(i for row in held if row in spans for i in range(*spans[row])),
        )
        for column, (refs, objects, spans) in nested.items()
    }
    table._values = values = _columns(rows, table.columns, items if release else None)
    for column, child in children.items():
        table.children[column] = child
        cells = values[column]
        for index, (start, stop) in nested[column][2].items():
            cells[index] = ChildRows(child, start, stop)
    return table


_RELEASE_ROWS = 1024
"""Rows turned into column cells at a time before the parsed objects are let go."""


def _columns(
    rows: list[Any], columns: Sequence[str] | range, release: list[Any] | None
) -> dict[str, list[Any]]:
    """Each column's value in every row (:data:`MISSING` where an object lacks the key; for
    rows that are arrays, ``columns`` is a range of positions). With ``release`` (the parsed
    list the rows came from, owned by the caller), each block of rows is let go once its cells
    are taken, so the objects and their columns never all exist at once."""
    positions = isinstance(columns, range)
    values: dict[Any, list[Any]] = {column: [] for column in columns}
    for start in range(0, len(rows), _RELEASE_ROWS):
        block = rows[start : start + _RELEASE_ROWS]
        for column, cells in values.items():
            if positions:
                cells.extend([row[column] for row in block])
            else:
                cells.extend([row.get(column, MISSING) for row in block])
        if release is not None:
            del block
            cleared = [None] * min(_RELEASE_ROWS, len(rows) - start)
            release[start : start + _RELEASE_ROWS] = cleared
            if rows is not release:
                rows[start : start + _RELEASE_ROWS] = cleared
    if positions:
        return {f"[{position}]": cells for position, cells in values.items()}
    return values


def _nested_rows(
    rows: list[dict[str, Any]], detach_except: frozenset[int] | set[int] | None
) -> dict[str, tuple[list[int], list[dict[str, Any]], dict[int, tuple[int, int]]]]:
    """Per column holding arrays of objects: the parent row of each object, the objects, and
    where each row's array lies among them. With ``detach_except``, each row's array is taken
    out of the row (its cell left None), except in the rows it names."""
    nested: dict[str, tuple[list[int], list[dict[str, Any]], dict[int, tuple[int, int]]]] = {}
    for index, row in enumerate(rows):
        for column, value in row.items():
            if type(value) is list and value and _is_row_list(value):
                refs, children, spans = nested.setdefault(column, ([], [], {}))
                spans[index] = (len(children), len(children) + len(value))
                refs.extend([index] * len(value))
                children.extend(value)
                if detach_except is not None and index not in detach_except:
                    row[column] = None  # a new value, not a new key: iteration goes on
    return nested


def _in_column_order(shape: tuple[str, ...], columns: list[str]) -> bool:
    """Whether keys ``shape`` appear in the order of ``columns`` (so a row can be rebuilt)."""
    present = set(shape)
    return tuple(column for column in columns if column in present) == shape


def extract_tables(root: Any, *, release: bool = False) -> tuple[Any, list[Table]]:
    """Find the arrays of objects (and long arrays of plain values or of short arrays of them)
    in ``root``; return the
    skeleton (tables replaced by ``"<table N>"`` placeholders, other nodes shared with ``root``)
    and the tables, each parent before its children.

    ``root`` is not modified unless ``release`` is set: then the caller hands it over, and the
    objects of each table are let go as soon as their cells are taken (the list is left holding
    None), so a large document never exists twice.
    """
    tables: list[Table] = []

    def visit(node: Any, path: str) -> Any:
        if isinstance(node, list) and (
            (len(node) >= MIN_TABLE_ROWS and _is_row_list(node))
            or (
                len(node) >= MIN_VALUE_TABLE_ROWS
                and (_is_value_list(node) or _is_array_list(node))
            )
        ):
            return f"<table {_build_table(tables, path, node, release).number}>"
        if isinstance(node, dict):
            return rebuilt_if_changed(
                node, {key: visit(value, f"{path}.{key}") for key, value in node.items()}
            )
        if isinstance(node, list) and not _is_value_list(node):
            return rebuilt_if_changed(
                node, [visit(value, f"{path}[{index}]") for index, value in enumerate(node)]
            )
        return node

    skeleton = visit(root, "$")
    return skeleton, tables


def rebuilt_if_changed(original: Any, rebuilt: Any) -> Any:
    """``original`` when ``rebuilt`` holds the very same children, else ``rebuilt``: a document
    copied node by node would cost several times its text, and most nodes never change."""
    if isinstance(original, dict):
        pairs = zip(original.values(), rebuilt.values(), strict=True)
    else:
        pairs = zip(original, rebuilt, strict=True)
    return original if all(old is new for old, new in pairs) else rebuilt
