"""Retrieved documents inside a prompt: crushed like tool outputs and put back where they were.

A retrieval-augmented prompt carries its documents inside a system or user message (a response
synthesizer's ``context_str``). The caller names those texts; each one is crushed for the query
and replaced in place, so the template's own words around it stay as written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from headroom_core.errors import HeadroomError
from headroom_core.results import CrushResult

__all__ = ["crush_documents"]

Crush = Callable[[str], "CrushResult | HeadroomError"]


def crush_documents(
    messages: Sequence[dict[str, Any]],
    documents: Sequence[str],
    crush: Crush,
    *,
    start: int = 0,
) -> tuple[list[dict[str, Any]], list[CrushResult | HeadroomError]]:
    """The messages with each document found in them (from ``start`` on) crushed in place.

    A document that appears in no message is left out of the outcomes; one that appears in
    several is crushed once and replaced in each.
    """
    out = list(messages)
    outcomes: list[CrushResult | HeadroomError] = []
    for document in dict.fromkeys(text for text in documents if text):
        holders = [i for i in range(start, len(out)) if _holds(out[i], document)]
        if not holders:
            continue
        outcome = crush(document)
        outcomes.append(outcome)
        if isinstance(outcome, CrushResult) and outcome.changed:
            for index in holders:
                out[index] = _replaced(out[index], document, outcome.compressed)
    return out, outcomes


def _holds(message: Mapping[str, Any], document: str) -> bool:
    content = message.get("content")
    if isinstance(content, str):
        return document in content
    if isinstance(content, list):
        return any(document in part.get("text", "") for part in content if _is_text(part))
    return False


def _replaced(message: Mapping[str, Any], document: str, compressed: str) -> dict[str, Any]:
    copy = dict(message)
    content = message.get("content")
    if isinstance(content, str):
        copy["content"] = content.replace(document, compressed)
    elif isinstance(content, list):
        copy["content"] = [
            {**part, "text": part["text"].replace(document, compressed)}
            if _is_text(part) and document in part.get("text", "")
            else part
            for part in content
        ]
    return copy


def _is_text(part: Any) -> bool:
    return isinstance(part, Mapping) and part.get("type") == "text" and isinstance(
        part.get("text"), str
    )
