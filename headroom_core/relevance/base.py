"""The interface every relevance scorer implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from headroom_core.errors import ValidationError

__all__ = ["RelevanceScorer", "ensure_texts"]


def ensure_texts(items: Sequence[object], query: object) -> None:
    """Raise :class:`ValidationError` naming the first item (or the query) that is not a string."""
    if not isinstance(query, str):
        raise ValidationError(
            f"The query must be a string, got {type(query).__name__}.",
            details={"problem": "query is not a string", "type": type(query).__name__},
        )
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise ValidationError(
                f"Items to score must be strings; item {index} is a {type(item).__name__}. "
                "Serialise JSON items (json.dumps) before scoring them.",
                details={"index": index, "type": type(item).__name__},
            )


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

        Raises:
            ValidationError: When an item or the query is not a string.
        """

    def score(self, item: str, query: str) -> float:
        """Score one item against ``query`` (a batch of one)."""
        return self.score_items([item], query)[0]
