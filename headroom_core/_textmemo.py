"""Memoising functions of (possibly very large) texts without keeping the texts alive.

``functools.lru_cache`` keys on the argument itself, so a cache of 8,192 tool outputs can pin
hundreds of megabytes. Long texts are keyed here by their length and hash instead, and the cache
forgets its oldest entries past ``maxsize``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

__all__ = ["text_memo"]

T = TypeVar("T")
LONG_TEXT = 256  # texts from this length on are keyed by (length, hash)


def text_memo(maxsize: int) -> Callable[[Callable[[str], T]], Callable[[str], T]]:
    """Decorate a function of one text with a bounded, thread-safe memo."""

    def decorate(function: Callable[[str], T]) -> Callable[[str], T]:
        cache: OrderedDict[Any, T] = OrderedDict()
        lock = threading.Lock()

        @wraps(function)
        def memoised(text: str) -> T:
            key = text if len(text) < LONG_TEXT else (len(text), hash(text))
            with lock:
                if key in cache:
                    cache.move_to_end(key)
                    return cache[key]
            value = function(text)
            with lock:
                cache[key] = value
                if len(cache) > maxsize:
                    cache.popitem(last=False)
            return value

        return memoised

    return decorate
