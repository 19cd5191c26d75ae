"""Which rows of a table must survive lossy selection: errors and statistical anomalies.

Also summarises dropped rows (value ranges, distinct values) for the marker the model reads.
Everything works column by column with C-speed building blocks (``set``, ``Counter``, substring
pre-scans, numpy), because it runs on every oversized tool output.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np

from headroom_core.transforms._json.encoding import cell_text
from headroom_core.transforms._json.parse import JsonFloat
from headroom_core.transforms._json.table import MISSING, Table

__all__ = ["anomaly_rows", "error_rows", "mentions_error", "summarize_rows"]

_ERROR_WORDS = re.compile(
    r"\b(?:errors?|fail(?:s|ed|ing|ures?)?|exceptions?|timeout|timed[ _-]?out|fatal|critical|"
    r"panic|traceback|crash(?:ed)?|abort(?:ed)?|denied|refused|unhealthy|"
    r"startup_failure|cancell?ed|rejected)\b",
    re.IGNORECASE,
)
_ERROR_STEMS = (
    "error", "fail", "exception", "timeout", "timed", "fatal", "critical", "panic", "traceback",
    "crash", "abort", "denied", "refused", "unhealthy", "cancel", "reject",
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
     "traceback", "stacktrace", "stack_trace", "failed", "is_error", "has_error", "errored"}
)
_SUCCESS_FLAGS = frozenset({"success", "succeeded", "ok", "passed", "healthy"})
"""Boolean fields whose ``false`` marks a failure."""
_STATUS_ERROR_VALUES = frozenset({"err", "crit", "emerg", "alert", "ko", "nok"})
_NUMERIC_TYPES = frozenset({int, float, JsonFloat})
_CATEGORY_TYPES = frozenset({str, int, bool, type(None)})
RARE_SHARE = 0.01
"""A categorical value in at most this share of rows (or in one row) is rare."""
ANOMALY_SHARE = 0.01
ANOMALY_FLOOR = 25
"""A column flags at most ``max(ANOMALY_FLOOR, ANOMALY_SHARE * rows)`` anomalies, the most extreme
first: in a large table (a long export, data repeated) a z-score of 2 or a value in 1% of rows
is common, and anomalies must stay a few rows worth looking at."""

_NOT_NUMBERS = frozenset({bool, type(None), type(MISSING)})


def _leaf(column: str) -> str:
    return column.rsplit(".", 1)[-1].lower()


def _is_error_text(text: str, status_field: bool) -> bool:
    if status_field:
        words = text.replace("_", " ")
        return bool(_ERROR_WORDS.search(words)) or text.lower() in _STATUS_ERROR_VALUES
    return not text.startswith(("http://", "https://")) and bool(_ERROR_WORDS.search(text))


def mentions_error(text: str) -> bool:
    """A fast pre-check (plain substring scans) before the word-boundary regex runs per value."""
    lowered = text.lower()
    return any(stem in lowered for stem in _ERROR_STEMS)


def error_rows(table: Table) -> set[int]:
    """Rows an error field, a failure status, a non-2xx code or error wording marks as errors."""
    flagged: set[int] = set()
    for column in table.columns:
        leaf = _leaf(column)
        values = table.values(column)
        if leaf in _ERROR_KEYS:
            flagged.update(i for i, v in enumerate(values) if v is not MISSING and v)
            continue
        if leaf in _SUCCESS_FLAGS:
            flagged.update(i for i, v in enumerate(values) if v is False)
            continue
        status_code_field = leaf in _STATUS_CODE_KEYS
        if not status_code_field and str not in set(map(type, values)):
            continue  # no text and no status code: a column of numbers holds no error
        distinct = _distinct(values)
        if status_code_field:
            codes = {v for v in distinct if type(v) is int and _is_failure_code(v)}
            if codes:
                flagged.update(i for i, v in enumerate(values) if type(v) is int and v in codes)
        texts = [v for v in distinct if type(v) is str]
        status_field = leaf in _STATUS_KEYS or status_code_field
        if not texts or not (status_field or mentions_error("\n".join(texts))):
            continue
        bad = {text for text in texts if _is_error_text(text, status_field)}
        if bad:
            flagged.update(i for i, v in enumerate(values) if type(v) is str and v in bad)
    return flagged


def _is_failure_code(code: int) -> bool:
    return 100 <= code <= 599 and not 200 <= code <= 299


def _distinct(values: list[Any]) -> set[Any]:
    """The distinct scalar values of a column (lists and objects left out)."""
    try:
        return set(values)
    except TypeError:
        return {v for v in values if type(v) not in (list, dict)}


def anomaly_rows(table: Table, std_threshold: float) -> set[int]:
    """Rows holding a numeric outlier (z-score >= ``std_threshold``) or a rare categorical value,
    at most ``max(ANOMALY_FLOOR, ANOMALY_SHARE * rows)`` per column, the most extreme first."""
    flagged: set[int] = set()
    count = len(table)
    if count < 3:
        return flagged
    limit = max(ANOMALY_FLOOR, int(ANOMALY_SHARE * count))
    for column in table.columns:
        values = table.values(column)
        kinds = set(map(type, values))
        if kinds - _NOT_NUMBERS <= _NUMERIC_TYPES:
            flagged.update(_outlier_rows(values, count, std_threshold)[:limit])
        flagged.update(_rare_category_rows(values, kinds, count)[:limit])
    return flagged


def _outlier_rows(values: list[Any], count: int, std_threshold: float) -> list[int]:
    """Rows whose number lies ``std_threshold`` standard deviations or more from the mean."""
    # One float per row, NaN where the value is not a number: no per-row Python objects.
    array = np.fromiter(
        (float(v) if type(v) in _NUMERIC_TYPES else np.nan for v in values),
        dtype=float, count=len(values),
    )
    if np.count_nonzero(~np.isnan(array)) < max(5, count // 2):
        return []
    finite = np.isfinite(array)
    if not finite.all():
        array = np.where(finite, array, np.nan)
    with np.errstate(over="ignore", invalid="ignore"):  # values near float max: no outliers
        mean = np.nanmean(array)
        std = np.nanstd(array)
        if not np.isfinite(std) or not std > 0:
            return []
        distance = np.abs(array - mean)
        outliers = np.flatnonzero(distance >= std_threshold * std)
    # the most extreme first (then in row order), so a cap keeps the strongest outliers
    order = np.lexsort((outliers, -distance[outliers]))
    return outliers[order].tolist()


def _rare_category_rows(values: list[Any], kinds: set[type], count: int) -> list[int]:
    """Rows whose value is rare in a column of few distinct values (a one-off among repeats)."""
    if not kinds <= _CATEGORY_TYPES | {type(MISSING)}:
        return []
    keys: list[Any] = values
    if bool in kinds and int in kinds:  # True == 1: keep them apart
        keys = [(type(v), v) for v in values]
    counts = Counter(keys)
    if not 2 <= len(counts) <= max(3, int(math.sqrt(count))):
        return []
    rare_limit = max(1, int(RARE_SHARE * count))
    if counts.most_common(1)[0][1] <= rare_limit:
        return []
    rare = {key for key, seen in counts.items() if seen <= rare_limit}
    if not rare:
        return []
    rows = [index for index, key in enumerate(keys) if key in rare]
    return sorted(rows, key=lambda index: counts[keys[index]])  # the rarest values first


def summarize_rows(
    table: Table, indices: Sequence[int], *, max_columns: int = 6, max_values: int = 5
) -> str:
    """A short description of the rows at ``indices``: numeric ranges and few-valued columns."""
    parts: list[str] = []
    scalar_types = _CATEGORY_TYPES | _NUMERIC_TYPES
    for column in table.columns:
        if len(parts) >= max_columns:
            break
        every = table.values(column)
        probe = {every[i] for i in indices[:64] if type(every[i]) in scalar_types}
        if len(probe) > max_values and not {type(v) for v in probe} <= _NUMERIC_TYPES:
            continue  # many different texts: nothing short to say (decided on a probe)
        present = [every[i] for i in indices]
        present = [v for v in present if v is not MISSING and v is not None]
        kinds = set(map(type, present))
        if not present or not kinds <= scalar_types:
            continue
        if kinds <= _NUMERIC_TYPES:
            finite = [v for v in present if math.isfinite(v)]
            low, high = (min(finite), max(finite)) if finite else (0, 0)
            if low != high:
                parts.append(f"{column} {cell_text(low)}..{cell_text(high)}")
            continue
        distinct = dict.fromkeys(present if bool not in kinds else ((type(v), v) for v in present))
        if 1 < len(distinct) <= max_values:
            shown = (cell_text(v[1] if bool in kinds else v) for v in distinct)
            parts.append(f"{column} in {{{', '.join(shown)}}}")
    return "; ".join(parts)
