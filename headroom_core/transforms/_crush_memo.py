"""Crush outcomes remembered by content, query and settings.

An agent re-sends every earlier tool output at each step, so without a memory each step would
crush the whole run again (quadratic over a run). Crushing is deterministic for the same text,
query, tool, profile, budget and counter, so the outcome of an earlier step can be sent again
as it was: byte-identical, which also keeps provider prompt caches hitting.

The memo keys long texts by length and hash (nothing big is kept for the key) and keeps only
the compressed text, never the original. An outcome whose dropped items have left the
originals store is computed again, so a remembered marker never names a key that is gone.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from headroom_core._textmemo import BoundedMemo, text_key
from headroom_core.results import CrushResult
from headroom_core.retrieval import is_retrievable

if TYPE_CHECKING:
    from headroom_core.tokenizer import Tokenizer
    from headroom_core.transforms.router import ContentRouter

__all__ = ["CrushMemo"]

DEFAULT_ENTRIES = 2048


@dataclass(frozen=True)
class _Outcome:
    """A crush result without its original: ``compressed`` is None when the text passed."""

    compressed: str | None
    tokens_before: int
    tokens_after: int
    strategy: str
    reasons: tuple[str, ...]
    retrieval_key: str | None

    @classmethod
    def of(cls, result: CrushResult) -> _Outcome:
        return cls(
            compressed=result.compressed if result.changed else None,
            tokens_before=result.tokens_before,
            tokens_after=result.tokens_after,
            strategy=result.strategy,
            reasons=tuple(result.reasons),
            retrieval_key=result.retrieval_key,
        )

    def result_for(self, text: str) -> CrushResult:
        return CrushResult(
            compressed=text if self.compressed is None else self.compressed,
            original=text,
            tokens_before=self.tokens_before,
            tokens_after=self.tokens_after,
            strategy=self.strategy,
            reasons=list(self.reasons),
            retrieval_key=self.retrieval_key,
        )


class CrushMemo:
    """A bounded, thread-safe memory of one router's :meth:`ContentRouter.route` outcomes.

    A remembered result has the same compressed text, counts, strategy, reasons and key as the
    first one; it carries no item indices (``kept_indices`` and ``dropped_indices`` are empty).

    Args:
        router: The router whose outcomes are remembered (its settings are part of every key).
        maxsize: Outcomes kept; the least recently used go first.
    """

    def __init__(self, router: ContentRouter, maxsize: int = DEFAULT_ENTRIES) -> None:
        self._router = router
        self._outcomes: BoundedMemo[_Outcome] = BoundedMemo(maxsize)

    def __len__(self) -> int:
        return len(self._outcomes)

    def route(
        self,
        text: str,
        *,
        query: str,
        tokenizer: Tokenizer,
        tool_name: str | None = None,
        profile: Mapping[str, Any] | None = None,
        token_budget: int | None = None,
    ) -> CrushResult:
        """``ContentRouter.route(text, ...)``, from memory when the same crush ran before."""
        key = (
            text_key(text),
            text_key(query),
            tool_name,
            _profile_key(profile),
            token_budget,
            tokenizer.counting_key,
        )
        found = self._outcomes.get(key)
        if found is not None and self._still_retrievable(found):
            return found.result_for(text)
        result = self._router.route(
            text,
            query=query,
            tokenizer=tokenizer,
            tool_name=tool_name,
            profile=profile,
            token_budget=token_budget,
        )
        self._outcomes.put(key, _Outcome.of(result))
        return result

    def _still_retrievable(self, outcome: _Outcome) -> bool:
        if outcome.retrieval_key is None:
            return True
        store = self._router.store
        return store is not None and is_retrievable(store, outcome.retrieval_key)


def _profile_key(profile: Mapping[str, Any] | None) -> Hashable:
    if not profile:
        return None
    return tuple(sorted((str(name), repr(value)) for name, value in profile.items()))
