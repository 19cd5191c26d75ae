"""Budgeted selection: the most relevant texts that fit a token budget, near-duplicates folded in.

Retrieval adapters (a LangChain document compressor, a LlamaIndex node postprocessor) face the
same choice: of the texts a retriever returned, which go into the prompt? This module makes it
once. Texts are ranked by relevance to the query, optionally blended with the retriever's own
scores; going down the ranking a text is kept while it fits the budget, a near-duplicate of a
kept text is merged into it instead of spending the budget twice, and a caller may offer to
shrink a relevant text that does not fit (by compressing it) before it is given up.

Examples:
    >>> texts = [
    ...     "ERROR disk /dev/sda1 is full on host combo",
    ...     "ERROR disk /dev/sda1 is full on host combo!",
    ...     "INFO nightly backup finished",
    ... ]
    >>> selection = select_within_budget(texts, "disk full", token_budget=50)
    >>> [(pick.index, pick.merged) for pick in selection.picks]
    [(0, (1,)), (2, ())]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from headroom_core.relevance import RelevanceScorer, create_scorer
from headroom_core.tokenizer import Tokenizer, get_tokenizer

__all__ = [
    "MAX_SHRINK_MISSES",
    "MIN_SHRINK_ROOM",
    "Pick",
    "Selection",
    "Shrink",
    "blended_scores",
    "select_within_budget",
]

MIN_SHRINK_ROOM = 64
"""Shrinking is tried only while the budget still has this many tokens left."""
MAX_SHRINK_MISSES = 2
"""Shrinking stops after this many shrunk texts in a row still did not fit (each try costs)."""

Shrink = Callable[[int, int], int | None]
"""``shrink(index, room)``: make a shorter version of text ``index`` aiming at ``room`` tokens and
return its token count, or None when it cannot be shortened. The caller keeps the shorter
version; the selection only needs its size."""


@dataclass(frozen=True)
class Pick:
    """One text kept by the selection.

    Attributes:
        index: Position of the text in the input.
        score: Its (blended) relevance score, in ``[0, 1]``.
        tokens: Tokens it takes in the budget (after shrinking, when it was shrunk).
        merged: Positions of the near-duplicates folded into it, best-ranked first.
    """

    index: int
    score: float
    tokens: int
    merged: tuple[int, ...] = ()


@dataclass(frozen=True)
class Selection:
    """What :func:`select_within_budget` chose.

    Attributes:
        picks: The kept texts, best-ranked first.
        scores: The (blended) score of every input text, in input order.
        token_counts: Tokens of every input text as given, in input order.
    """

    picks: list[Pick]
    scores: list[float]
    token_counts: list[int]

    @property
    def tokens_before(self) -> int:
        """Tokens of all input texts."""
        return sum(self.token_counts)

    @property
    def tokens_after(self) -> int:
        """Tokens of the kept texts (shrunk sizes where they were shrunk)."""
        return sum(pick.tokens for pick in self.picks)


@dataclass
class _Draft:
    index: int
    tokens: int
    merged: list[int] = field(default_factory=list)


def blended_scores(
    texts: Sequence[str],
    query: str,
    scorer: RelevanceScorer,
    prior_scores: Sequence[float | None] | None = None,
    prior_weight: float = 0.0,
) -> list[float]:
    """Relevance of each text to ``query``, blended with prior (e.g. retriever) scores.

    Prior scores are min-max scaled to ``[0, 1]`` first, since retrievers score on scales of
    their own; a missing prior counts as 0, and priors that are all equal carry no ranking
    signal and all become 1. With a blank query only the priors rank (all 0 without them).

    Args:
        texts: The texts to score.
        query: What the user asked.
        scorer: Relevance scorer for ``texts`` against ``query``.
        prior_scores: One score or None per text; None (or all None) for no priors.
        prior_weight: Share of the prior in the blend, in ``[0, 1]``.

    Returns:
        One score in ``[0, 1]`` per text, in order.
    """
    prior = _min_max(prior_scores)
    if not query.strip():
        return prior if prior is not None else [0.0] * len(texts)
    relevance = scorer.score_items(texts, query)
    if prior is None:
        return relevance
    return [
        (1.0 - prior_weight) * ours + prior_weight * theirs
        for ours, theirs in zip(relevance, prior, strict=True)
    ]


def select_within_budget(
    texts: Sequence[str],
    query: str,
    *,
    scorer: RelevanceScorer | None = None,
    prior_scores: Sequence[float | None] | None = None,
    prior_weight: float = 0.0,
    token_counts: Sequence[int] | None = None,
    tokenizer: Tokenizer | None = None,
    token_budget: int | None = None,
    top_k: int | None = None,
    min_relevance: float = 0.0,
    dedup_threshold: float | None = 90.0,
    dedup_texts: Sequence[str] | None = None,
    shrink: Shrink | None = None,
    keep_one: bool = False,
) -> Selection:
    """Choose the most relevant texts that fit ``token_budget``, best first.

    Going down the ranking, the walk stops at the first text scoring below ``min_relevance``
    or once ``top_k`` texts are kept. A text that fits is kept unless it is a near-duplicate
    of a kept text, in which case it is merged into the first such text. A text that does not
    fit is skipped, or, when ``shrink`` is given, offered to it (see :data:`MIN_SHRINK_ROOM`
    and :data:`MAX_SHRINK_MISSES`) and kept if its shorter version fits.

    Args:
        texts: The candidate texts, as they would enter the prompt.
        query: What the user asked.
        scorer: Relevance scorer; BM25 when None.
        prior_scores: Scores the texts already have (a retriever's), blended in by
            :func:`blended_scores`.
        prior_weight: Share of the prior scores in the blend, in ``[0, 1]``.
        token_counts: Tokens of each text, when the caller has them.
        tokenizer: Counts the texts when ``token_counts`` is None (gpt-4o's when None too).
        token_budget: Most tokens the kept texts may take together; None for no limit.
        top_k: Most texts kept; None for no limit.
        min_relevance: Texts scoring below this are not kept.
        dedup_threshold: rapidfuzz ratio (0-100) at which two texts are near-duplicates;
            None disables merging.
        dedup_texts: What to compare for near-duplicates when it differs from ``texts``
            (e.g. without a metadata header every text shares).
        shrink: Offers a shorter version of a text that does not fit; None never shrinks.
        keep_one: When nothing fits, keep the best candidate anyway (so a query never loses
            all of its context); otherwise the selection may be empty.

    Returns:
        The :class:`Selection`: the picks, every score and every token count.
    """
    counts = list(token_counts) if token_counts is not None else _count(texts, tokenizer)
    scores = blended_scores(
        texts, query, scorer or create_scorer("bm25"), prior_scores, prior_weight
    )
    compared = dedup_texts if dedup_texts is not None else texts
    remaining: float = token_budget if token_budget is not None else math.inf
    kept: list[_Draft] = []
    fallback: _Draft | None = None  # the best candidate, kept when nothing fits and keep_one
    misses = 0
    for index in sorted(range(len(texts)), key=lambda i: -scores[i]):
        if scores[index] < min_relevance or (top_k is not None and len(kept) >= top_k):
            break
        tokens = counts[index]
        fits = tokens <= remaining
        may_shrink = (
            shrink is not None and misses < MAX_SHRINK_MISSES and remaining >= MIN_SHRINK_ROOM
        )
        if not fits and not may_shrink:
            fallback = fallback or _Draft(index, tokens)
            continue
        twin = _near_duplicate(compared[index], kept, compared, dedup_threshold)
        if twin is not None:
            twin.merged.append(index)
            continue
        if not fits and shrink is not None:
            shrunk = shrink(index, int(remaining))
            if shrunk is not None and shrunk < tokens:
                tokens = shrunk
        draft = _Draft(index, tokens)
        fallback = fallback or draft
        if tokens <= remaining:
            kept.append(draft)
            remaining -= tokens
        else:
            misses += 1
    if not kept and keep_one and fallback is not None:
        kept.append(fallback)
    picks = [Pick(d.index, scores[d.index], d.tokens, tuple(d.merged)) for d in kept]
    return Selection(picks=picks, scores=scores, token_counts=counts)


def _count(texts: Sequence[str], tokenizer: Tokenizer | None) -> list[int]:
    tokenizer = tokenizer or get_tokenizer()
    return [tokenizer.count_text(text) for text in texts]


def _near_duplicate(
    text: str, kept: list[_Draft], compared: Sequence[str], threshold: float | None
) -> _Draft | None:
    """The first kept text ``text`` nearly duplicates, or None."""
    if threshold is None:
        return None
    for draft in kept:
        if fuzz.ratio(text, compared[draft.index], score_cutoff=threshold):
            return draft
    return None


def _min_max(scores: Sequence[float | None] | None) -> list[float] | None:
    if scores is None:
        return None
    present = [score for score in scores if score is not None]
    if not present:
        return None
    low, high = min(present), max(present)
    span = high - low
    return [
        0.0 if score is None else (1.0 if span == 0 else (score - low) / span) for score in scores
    ]
