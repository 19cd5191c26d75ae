"""Parse tool output as JSON without ever failing loudly or changing a number's text.

Bad input (not JSON, NaN/Infinity, absurd nesting, oversized integers) is rejected with a
reason the caller reports; it is never an unhandled exception.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["MAX_DEPTH", "JsonFloat", "NotJson", "check_depth", "parse_json_text"]

MAX_DEPTH = 256
"""Deeper documents pass through: nobody reads them and walking them costs stack."""


class NotJson(Exception):
    """The input is not JSON the crusher can work on; the message is the reason."""


class JsonFloat(float):
    """A float that keeps its source text (``1.10`` stays ``1.10``, ``1E5`` stays ``1E5``)."""

    text: str

    def __new__(cls, text: str) -> JsonFloat:
        value = super().__new__(cls, text)
        value.text = text
        return value

    def __repr__(self) -> str:
        return self.text


def _parse_float(text: str) -> float:
    value = float(text)
    return value if repr(value) == text else JsonFloat(text)


def _reject_constant(name: str) -> Any:
    raise NotJson(f"non-standard JSON constant {name}")


_DECODER = json.JSONDecoder(parse_float=_parse_float, parse_constant=_reject_constant)


def parse_json_text(text: str) -> Any:
    """Parse ``text`` as a JSON object or array; raise :class:`NotJson` saying why not.

    Floats whose text Python would print differently come back as :class:`JsonFloat`.
    """
    start = 0
    length = len(text)
    while start < length and text[start] in " \t\r\n":
        start += 1
    if start == length or text[start] not in "[{":
        raise NotJson("not a JSON object or array")
    try:
        value, end = _DECODER.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise NotJson(f"invalid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise NotJson("JSON nested too deeply to parse") from None
    except ValueError as exc:  # e.g. integers beyond Python's digit limit
        raise NotJson(f"unsupported JSON value: {exc}") from None
    if text[end:].strip():
        raise NotJson(f"extra data after the JSON value at position {end}")
    check_depth(value)
    return value


def check_depth(value: Any) -> None:
    """Raise :class:`NotJson` when ``value`` nests deeper than :data:`MAX_DEPTH` (iteratively)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise NotJson(f"JSON nested deeper than {MAX_DEPTH} levels")
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
