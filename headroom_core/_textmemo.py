"""Memoising functions of (possibly very large) texts without keeping the texts alive.

``functools.lru_cache`` keys on the argument itself, so a cache of 8,192 tool outputs can pin
hundreds of megabytes. Long texts are keyed here by their length and hash instead, and the cache
forgets its least recently used entries past ``maxsize``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import wraps
from typing import Generic, TypeVar

__all__ = ["BoundedMemo", "text_key", "text_memo"]

T = TypeVar("T")
LONG_TEXT = 256  # texts from this length on are keyed by (length, hash)


def text_key(text: str) -> Hashable:
    """A memo key for ``text``: itself when short, else its length and hash (nothing big kept)."""
    return text if len(text) < LONG_TEXT else (len(text), hash(text))


class BoundedMemo(Generic[T]):
    """A thread-safe map of at most ``maxsize`` entries that forgets the least recently used.

    Callers choose keys that do not hold large objects (see :func:`text_key`).
    """

    def __init__(self, maxsize: int) -> None:
        self._entries: OrderedDict[Hashable, T] = OrderedDict()
        self._maxsize = maxsize
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> T | None:
        """The value stored under ``key`` (now the most recently used), or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: Hashable, value: T) -> None:
        """Store ``value`` under ``key``, forgetting the least recently used entry if full."""
        with self._lock:
            self._entries[key] = value
            if len(self._entries) > self._maxsize:
                self._entries.popitem(last=False)


def text_memo(maxsize: int) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """Decorate a function of one text with a bounded, thread-safe memo."""

    def decorate(function: Callable[[str], T]) -> Callable[[str], T]:
        memo: BoundedMemo[tuple[T]] = BoundedMemo(maxsize)

        @wraps(function)
        def memoised(text: str) -> T:
            key = text_key(text)
            found = memo.get(key)
            if found is not None:
                return found[0]
            value = function(text)
            memo.put(key, (value,))
            return value

        return memoised

    return decorate
