"""The interface every relevance scorer implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

__all__ = ["RelevanceScorer"]


class RelevanceScorer(ABC):
    """Scores how relevant text items are to a query, each score in ``[0, 1]``.

    Subclasses implement :meth:`score_items`, which sees the whole batch at once so that it can
    vectorise and use batch statistics; :meth:`score` is the one-item convenience.
    """

    #: Short name used in results and logs.
    name: str = "relevance"

    @abstractmethod
    def score_items(self, items: Sequence[str], query: str) -> list[float]:
        """Score every item against ``query``.

        Args:
            items: Texts to score (for JSON items, their serialised form).
            query: What the user is looking for.

        Returns:
            One score per item, in order, each in ``[0, 1]``; all zeros for an empty query.
        """

    def score(self, item: str, query: str) -> float:
        """Score one item against ``query`` (a batch of one)."""
        return self.score_items([item], query)[0]
