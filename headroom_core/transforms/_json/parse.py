"""Parse tool output as JSON without ever failing loudly or changing a number's text.

Bad input (not JSON, NaN/Infinity, nesting too deep for the parser, oversized integers) is
rejected with a reason the caller reports; it is never an unhandled exception.
"""

from __future__ import annotations

import json
from typing import Any

__all__ = ["JsonFloat", "NotJson", "parse_json_text"]


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


SHARED_STRING_CHARS = 64
"""Object values up to this long are stored once however often they repeat: tool outputs repeat
statuses, types and dates in every row, and the parsed document lives through the whole crush."""


def _reject_constant(name: str) -> Any:
    raise NotJson(f"non-standard JSON constant {name}")


def parse_json_text(text: str) -> tuple[Any, bool]:
    """Parse ``text`` as a JSON object or array; raise :class:`NotJson` saying why not.

    Returns the value and whether it holds a :class:`JsonFloat` (a float Python would print
    differently from its source text).
    """
    start = 0
    length = len(text)
    while start < length and text[start] in " \t\r\n":
        start += 1
    if start == length or text[start] not in "[{":
        raise NotJson("not a JSON object or array")
    inexact: list[JsonFloat] = []

    def parse_float(number: str) -> float:
        # Up to 15 significant digits, no trailing zero, no exponent, not tiny: Python prints the
        # float exactly as written. That is the common case, and this runs for every float.
        if len(number) < 16 and number[-1] != "0" and "e" not in number and "E" not in number and (
            "0.0000" not in number
        ):
            return float(number)
        value = float(number)
        if repr(value) == number:
            return value
        exact = JsonFloat(number)
        inexact.append(exact)
        return exact

    shared: dict[str, str] = {}

    def share_repeated(obj: dict[str, Any]) -> dict[str, Any]:
        for key, value in obj.items():  # replacing values never resizes the dict
            if type(value) is str and len(value) <= SHARED_STRING_CHARS:
                obj[key] = shared.setdefault(value, value)
        return obj

    decoder = json.JSONDecoder(
        parse_float=parse_float, parse_constant=_reject_constant, object_hook=share_repeated
    )
    try:
        value, end = decoder.raw_decode(text, start)
    except json.JSONDecodeError as exc:
        raise NotJson(f"invalid JSON: {exc.msg} at position {exc.pos}") from None
    except RecursionError:
        raise NotJson("JSON nested too deeply to parse") from None
    except ValueError as exc:  # e.g. integers beyond Python's digit limit
        raise NotJson(f"unsupported JSON value: {exc}") from None
    if text[end:].strip():
        raise NotJson(f"extra data after the JSON value at position {end}")
    return value, bool(inexact)
