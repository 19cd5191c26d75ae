"""select_within_budget: relevance ranking, near-duplicate merging and packing into a budget."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import pytest

import headroom_core.selection
from headroom_core.relevance import BM25Scorer
from headroom_core.selection import (
    MAX_SHRINK_MISSES,
    MIN_SHRINK_ROOM,
    blended_scores,
    select_within_budget,
)
from headroom_core.tokenizer import get_tokenizer

LOG = json.loads((Path(__file__).parents[1] / "data" / "loghub-hdfs-a.json").read_text())
LINES = LOG["content"].splitlines()[:40]
QUERY = "Received block of size from"


def test_keeps_the_most_relevant_lines_that_fit() -> None:
    tokenizer = get_tokenizer("gpt-4o")

    selection = select_within_budget(LINES, QUERY, tokenizer=tokenizer, token_budget=120)

    kept = [pick.index for pick in selection.picks]
    received = [index for index, line in enumerate(LINES) if "Received block" in line]
    left_out = [index for index in received if index not in kept]
    assert 0 < len(kept) < len(LINES)
    assert kept[:2] == received[:2]
    assert all(selection.tokens_after + selection.token_counts[i] > 120 for i in left_out)
    assert selection.tokens_after <= 120
    assert selection.token_counts == [tokenizer.count_text(line) for line in LINES]
    assert selection.tokens_before == sum(selection.token_counts)
    assert [pick.score for pick in selection.picks] == sorted(
        (pick.score for pick in selection.picks), reverse=True
    )
    assert all(pick.score == selection.scores[pick.index] for pick in selection.picks)


def test_a_text_too_big_for_the_rest_is_skipped_not_the_end() -> None:
    texts = ["disk full " * 40, "disk full on host combo", "backup done"]

    selection = select_within_budget(texts, "disk full", token_counts=[80, 6, 3], token_budget=10)

    assert [pick.index for pick in selection.picks] == [1, 2]


def test_near_duplicates_merge_into_the_first_kept_text() -> None:
    line = next(text for text in LINES if "Received block" in text)
    texts = [line, line.replace("081109", "081110"), "INFO nightly backup finished"]

    merged = select_within_budget(texts, QUERY, token_budget=1_000)
    plain = select_within_budget(texts, QUERY, token_budget=1_000, dedup_threshold=None)

    assert [(pick.index, pick.merged) for pick in merged.picks] == [(0, (1,)), (2, ())]
    assert [pick.index for pick in plain.picks] == [0, 1, 2]


def test_dedup_texts_are_what_is_compared() -> None:
    texts = ["[source: a.log]\nERROR disk full", "[source: b.log]\nERROR disk gone"]
    bodies = ["ERROR disk full", "ERROR disk full"]

    selection = select_within_budget(texts, "disk", token_budget=100, dedup_texts=bodies)

    assert [pick.merged for pick in selection.picks] == [(1,)]


def test_min_relevance_and_top_k_bound_the_picks() -> None:
    unbounded = select_within_budget(LINES, QUERY)
    relevant = select_within_budget(LINES, QUERY, min_relevance=0.5)
    two = select_within_budget(LINES, QUERY, top_k=2)

    assert len(relevant.picks) < len(unbounded.picks)
    assert all(pick.score >= 0.5 for pick in relevant.picks)
    assert [pick.index for pick in two.picks] == [pick.index for pick in unbounded.picks[:2]]


def test_prior_scores_are_min_max_scaled_and_blended() -> None:
    texts = ["disk full", "backup done", "disk full again"]
    scorer = BM25Scorer()
    relevance = scorer.score_items(texts, "disk")

    blended = blended_scores(texts, "disk", scorer, [10.0, None, 30.0], prior_weight=0.25)

    prior = [0.0, 0.0, 1.0]
    assert blended == pytest.approx(
        [0.75 * ours + 0.25 * theirs for ours, theirs in zip(relevance, prior, strict=True)]
    )
    assert blended_scores(texts, "disk", scorer, [0.4, 0.4, 0.4], 1.0) == [1.0, 1.0, 1.0]
    assert blended_scores(texts, "disk", scorer, [None, None, None], 0.5) == relevance


def test_a_blank_query_ranks_by_the_priors_alone() -> None:
    texts = ["first", "second", "third"]

    selection = select_within_budget(texts, "  ", prior_scores=[0.1, 0.9, 0.5], prior_weight=0.3)

    assert selection.scores == [0.0, 1.0, 0.5]
    assert [pick.index for pick in selection.picks] == [1, 2, 0]
    assert select_within_budget(texts, "").scores == [0.0, 0.0, 0.0]


def test_a_text_that_does_not_fit_is_offered_for_shrinking() -> None:
    texts = ["disk full " * 100, "disk full"]
    offered: list[tuple[int, int]] = []

    def shrink(index: int, room: int) -> int | None:
        offered.append((index, room))
        return 70

    selection = select_within_budget(
        texts, "disk full", token_counts=[200, 3], token_budget=100, shrink=shrink
    )

    assert offered == [(0, 100)]
    assert [(pick.index, pick.tokens) for pick in selection.picks] == [(0, 70), (1, 3)]
    assert selection.tokens_after == 73


def test_shrinking_gives_up_after_misses_and_on_little_room() -> None:
    texts = [f"disk full {n}" for n in range(6)]
    calls: list[int] = []

    def useless(index: int, room: int) -> int | None:
        calls.append(index)
        return room + 1

    counts = [500] * len(texts)
    select_within_budget(texts, "disk", token_counts=counts, token_budget=100, shrink=useless)
    small_room = select_within_budget(
        texts[:2], "disk", token_counts=[10, 500], token_budget=MIN_SHRINK_ROOM, shrink=useless
    )

    assert len(calls) == MAX_SHRINK_MISSES
    assert [pick.index for pick in small_room.picks] == [0]


def test_keep_one_keeps_the_best_when_nothing_fits() -> None:
    texts = ["disk full on combo", "backup done"]

    empty = select_within_budget(texts, "disk", token_counts=[50, 40], token_budget=10)
    one = select_within_budget(texts, "disk", token_counts=[50, 40], token_budget=10, keep_one=True)

    assert empty.picks == []
    assert [(pick.index, pick.tokens) for pick in one.picks] == [(0, 50)]


def test_no_texts_no_picks() -> None:
    selection = select_within_budget([], "disk", keep_one=True)

    assert (selection.picks, selection.tokens_before, selection.tokens_after) == ([], 0, 0)


def test_module_example_runs() -> None:
    assert doctest.testmod(headroom_core.selection).failed == 0
