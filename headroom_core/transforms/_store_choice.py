"""Which originals store a crusher writes dropped items to: the default one, a given one, or none.

``None`` must mean "retrieval is off" (nothing stored, markers name no key), so "use the
process-wide store" needs a value of its own: :data:`DEFAULT_STORE`, the crushers' default.
"""

from __future__ import annotations

import enum
from typing import Literal, TypeAlias

from headroom_core.config import RetrievalConfig
from headroom_core.retrieval import OriginalsStore, open_originals_store

__all__ = ["DEFAULT_STORE", "StoreChoice", "StoresOriginals", "resolve_store"]


class _Default(enum.Enum):
    STORE = "default originals store"

    def __repr__(self) -> str:
        return "DEFAULT_STORE"


DEFAULT_STORE = _Default.STORE
"""The crushers' default: the process-wide originals store of
:func:`headroom_core.retrieval.default_originals_store`."""

StoreChoice: TypeAlias = OriginalsStore | Literal[_Default.STORE] | None


def resolve_store(
    choice: StoreChoice, config: RetrievalConfig | None = None
) -> OriginalsStore | None:
    """The store ``choice`` names: None when retrieval is off (``choice`` is None, or
    ``config.enabled`` is False), the process-wide store for ``config`` for :data:`DEFAULT_STORE`
    (None, with a warning, when its database cannot be opened: the crush goes on without keys).
    """
    if choice is None or (config is not None and not config.enabled):
        return None
    if choice is DEFAULT_STORE:
        return open_originals_store(config)
    return choice


class StoresOriginals:
    """What a crusher that keeps what it leaves out shares: its ``store``, resolved on first use
    (opening the process-wide store costs a database connection a crush may never need)."""

    _store: StoreChoice

    @property
    def store(self) -> OriginalsStore | None:
        """The store receiving what is left out; None when retrieval is off."""
        if self._store is DEFAULT_STORE:
            self._store = resolve_store(DEFAULT_STORE)
        return self._store
