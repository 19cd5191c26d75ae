"""Read-only sequences whose items are made when read, for data kept in column form."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeVar, overload

__all__ = ["ComputedSequence"]

T = TypeVar("T")


class ComputedSequence(Sequence[T]):
    """A sequence that builds item ``i`` from its columns only when it is read.

    Subclasses give ``__len__`` and ``_at``; ``_slice`` and ``__iter__`` may be made faster.
    """

    __slots__ = ()

    def _at(self, index: int) -> T:
        raise NotImplementedError

    def _slice(self, positions: slice) -> list[T]:
        return [self._at(index) for index in range(*positions.indices(len(self)))]

    @overload
    def __getitem__(self, position: int) -> T: ...

    @overload
    def __getitem__(self, position: slice) -> list[T]: ...

    def __getitem__(self, position: int | slice) -> T | list[T]:
        if isinstance(position, slice):
            return self._slice(position)
        return self._at(position)

    def __iter__(self) -> Iterator[T]:
        return map(self._at, range(len(self)))
