"""Cheap checks on raw tool-output text shared by the router and the crushers."""

from __future__ import annotations

from headroom_core.errors import TransformError

__all__ = ["looks_binary", "require_text"]

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


def require_text(text: object, where: str) -> str:
    """``text`` when it is a string; a :class:`TransformError` naming ``where`` otherwise."""
    if not isinstance(text, str):
        raise TransformError(
            f"{where} needs text (str), got {type(text).__name__}.",
            details={"type": type(text).__name__},
        )
    return text
