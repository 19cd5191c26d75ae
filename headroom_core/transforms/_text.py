"""Cheap checks on raw tool-output text shared by the router and the line crusher."""

from __future__ import annotations

__all__ = ["looks_binary"]

_SAMPLE_CHARS = 4096
_MAX_CONTROL_SHARE = 0.05
_ALLOWED_CONTROLS = frozenset("\n\r\t\f\v\x1b")


def looks_binary(text: str) -> bool:
    """Whether ``text`` looks like decoded binary data (NUL bytes or many control characters)."""
    sample = text[:_SAMPLE_CHARS]
    if "\x00" in sample:
        return True
    controls = sum(
        1 for char in sample if (char < " " or char == "\x7f") and char not in _ALLOWED_CONTROLS
    )
    replacement = sample.count("\ufffd")
    return (controls + replacement) > _MAX_CONTROL_SHARE * max(1, len(sample))
