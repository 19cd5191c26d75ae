"""The retrieved context of a filled prompt template, handed from formatting to the model call.

LlamaIndex response synthesizers (query engines, the context and condense-plus-context chat
engines) call ``llm.predict(template, context_str=..., ...)``; the LLM formats the template
(``_get_messages`` / ``_get_prompt``) and then calls its own ``chat`` or ``complete`` with the
result. Formatting is the one place that knows which text is retrieved context and what the
question is; the call is where the engine runs. A context variable carries the first to the
second, tied to the very object formatting returned, so a later, unrelated call never picks it up.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

__all__ = ["CONTEXT_ARGUMENTS", "FilledTemplate", "remember_template", "take_filled_template"]

CONTEXT_ARGUMENTS = ("context_str", "context_msg")
"""Template variables that hold retrieved text (question-answering and refine templates)."""


@dataclass(frozen=True)
class FilledTemplate:
    """What formatting a template produced, the retrieved texts in it and the question."""

    sent: object
    documents: tuple[str, ...]
    query: str | None


_LAST: ContextVar[FilledTemplate | None] = ContextVar("headroom_filled_template", default=None)


def remember_template(sent: object, template: Any, arguments: Mapping[str, Any]) -> None:
    """Note the retrieved context and question of the template that produced ``sent``."""
    documents = tuple(
        text for name in CONTEXT_ARGUMENTS if isinstance(text := arguments.get(name), str) and text
    )
    if not documents:
        return
    partial = getattr(template, "kwargs", None) or {}
    query = arguments.get("query_str") or partial.get("query_str")
    _LAST.set(FilledTemplate(sent, documents, query if isinstance(query, str) else None))


def take_filled_template(sent: object) -> FilledTemplate | None:
    """The noted template whose formatting returned ``sent`` itself, if any (then forgotten,
    so the context is not held after its call)."""
    last = _LAST.get()
    if last is None or last.sent is not sent:
        return None
    _LAST.set(None)
    return last
