"""Exact token counts of large texts, fast: counted while other work runs, or in two halves at once.

The shared tokenizer counts a long text into a numpy buffer (4 bytes a token), never a list of
token ids. tiktoken releases the GIL while it encodes, so the count of the original output runs
on a worker thread while a crusher parses, plans and renders, and a large result is counted in
two halves at once, split where the count splits exactly (see
:func:`headroom_core._token_cuts.safe_cut`).
"""

from __future__ import annotations

import threading

from headroom_core._token_cuts import safe_cut
from headroom_core.tokenizer import Tokenizer

__all__ = ["BackgroundCount", "count_tokens_split"]

THREAD_MIN_CHARS = 60_000
"""Below this a thread costs more than it saves."""


class BackgroundCount:
    """The token count of ``text``, computed on a worker thread when ``text`` is large."""

    def __init__(self, tokenizer: Tokenizer, text: str) -> None:
        self._value = 0
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if len(text) < THREAD_MIN_CHARS or not getattr(tokenizer, "is_exact", False):
            self._value = tokenizer.count_text(text)
            return
        tokenizer.encoding  # noqa: B018 - load the vocabulary once, on this thread
        self._thread = threading.Thread(target=self._run, args=(tokenizer, text), daemon=True)
        self._thread.start()

    def _run(self, tokenizer: Tokenizer, text: str) -> None:
        try:
            self._value = tokenizer.count_text(text)
        except BaseException as exc:  # re-raised by result() on the caller's thread
            self._error = exc

    @property
    def pending(self) -> bool:
        """Whether the count runs on a worker thread (``result()`` may wait)."""
        return self._thread is not None and self._thread.is_alive()

    def result(self) -> int:
        """The count (waits for the worker)."""
        if self._thread is not None:
            self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def count_tokens_split(tokenizer: Tokenizer, text: str) -> int:
    """Exact tokens of ``text``, counting two halves at once when it is large."""
    if len(text) < 2 * THREAD_MIN_CHARS or not getattr(tokenizer, "is_exact", False):
        return tokenizer.count_text(text)
    cut = safe_cut(text, len(text) // 2)
    if cut is None:
        return tokenizer.count_text(text)
    first = BackgroundCount(tokenizer, text[:cut])
    return tokenizer.count_text(text[cut:]) + first.result()
