"""Which rows of a table must survive lossy selection: errors and statistical anomalies.

Also summarises dropped rows (value ranges, distinct values) for the marker the model reads.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from headroom_core.transforms._json.encoding import Table, cell_text

__all__ = ["anomaly_rows", "error_rows", "summarize_rows"]

_ERROR_WORDS = re.compile(
    r"\b(?:errors?|fail(?:s|ed|ing|ures?)?|exceptions?|timeout|timed[ _-]?out|fatal|critical|"
    r"panic|traceback|crash(?:ed)?|abort(?:ed)?|denied|refused|unhealthy|startup_failure)\b",
    re.IGNORECASE,
)
_STATUS_KEYS = frozenset(
    {"status", "state", "conclusion", "level", "severity", "loglevel", "log_level", "levelname",
     "result", "outcome", "health"}
)
_STATUS_CODE_KEYS = frozenset(
    {"status", "status_code", "statuscode", "http_status", "response_code", "code", "http_code"}
)
_ERROR_KEYS = frozenset(
    {"error", "errors", "exception", "exc", "error_message", "error_msg", "err", "failure",
     "traceback", "stacktrace", "stack_trace"}
)
RARE_SHARE = 0.01
"""A categorical value in at most this share of rows (or in one row) is rare."""


def _leaf(column: str) -> str:
    return column.rsplit(".", 1)[-1].lower()


def _is_error_value(leaf: str, value: Any) -> bool:
    if leaf in _ERROR_KEYS:
        return value not in (None, False, "", 0, [], {})
    if isinstance(value, bool) or value is None:
        return False
    if isinstance(value, int) and leaf in _STATUS_CODE_KEYS:
        return 100 <= value <= 599 and not 200 <= value <= 299
    if isinstance(value, str):
        if leaf in _STATUS_KEYS or leaf in _STATUS_CODE_KEYS:
            return bool(_ERROR_WORDS.search(value.replace("_", " "))) or value.lower() in {
                "err", "failure", "startup_failure", "timed_out", "cancelled", "canceled", "crit",
                "emerg", "alert", "rejected"
            }
        return not value.startswith(("http://", "https://")) and bool(_ERROR_WORDS.search(value))
    return False


def error_rows(table: Table) -> set[int]:
    """Rows an error field, a failure status, a non-2xx code or error wording marks as errors."""
    flagged: set[int] = set()
    leaves = {column: _leaf(column) for column in table.columns}
    for index, row in enumerate(table.rows):
        for column, value in row.items():
            if _is_error_value(leaves[column], value):
                flagged.add(index)
                break
    return flagged


def _numeric(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def anomaly_rows(table: Table, std_threshold: float) -> set[int]:
    """Rows holding a numeric outlier (z-score >= ``std_threshold``) or a rare categorical value."""
    flagged: set[int] = set()
    count = len(table.rows)
    if count < 3:
        return flagged
    rows = table.rows
    for column in table.columns:
        values = [row.get(column, _MISSING) for row in rows]
        numbers = [(i, v) for i, v in enumerate(values) if _numeric(v)]
        if len(numbers) >= max(5, count // 2):
            array = np.fromiter((float(v) for _, v in numbers), dtype=float, count=len(numbers))
            std = float(array.std())
            if std > 0:
                z = np.abs(array - array.mean()) / std
                flagged.update(numbers[i][0] for i in np.flatnonzero(z >= std_threshold))
        flagged.update(_rare_category_rows(values, count))
    return flagged


_MISSING = object()


def _category(value: Any) -> tuple[str, Any] | None:
    """A hashable category of a value; None for values that are not categorical (floats, lists)."""
    if value is _MISSING:
        return ("absent", None)
    if value is None or isinstance(value, (str, int)):
        return (type(value).__name__, value)
    return None


def _rare_category_rows(values: Sequence[Any], count: int) -> list[int]:
    """Rows whose value is rare in a column of few distinct values (a one-off among repeats)."""
    keys = [_category(value) for value in values]
    if None in keys:
        return []
    counts = Counter(keys)
    if not 2 <= len(counts) <= max(3, int(math.sqrt(count))):
        return []
    rare_limit = max(1, int(RARE_SHARE * count))
    if counts.most_common(1)[0][1] <= rare_limit:
        return []
    rare = {key for key, seen in counts.items() if seen <= rare_limit}
    return [index for index, key in enumerate(keys) if key in rare] if rare else []


def summarize_rows(table: Table, indices: Sequence[int], *, max_columns: int = 6,
                   max_values: int = 5) -> str:
    """A short description of the rows at ``indices``: numeric ranges and few-valued columns."""
    parts: list[str] = []
    rows = table.rows
    for column in table.columns:
        if len(parts) >= max_columns:
            break
        values = [rows[i][column] for i in indices if column in rows[i]]
        if not values:
            continue
        numbers = [v for v in values if _numeric(v)]
        if numbers and len(numbers) == len(values):
            low, high = min(numbers), max(numbers)
            if low != high:
                parts.append(f"{column} {cell_text(low)}..{cell_text(high)}")
            continue
        scalar_texts = (cell_text(v) for v in values if not isinstance(v, (dict, list)))
        distinct = list(dict.fromkeys(scalar_texts))
        if 1 < len(distinct) <= max_values:
            parts.append(f"{column} in {{{', '.join(distinct)}}}")
    return "; ".join(parts)
