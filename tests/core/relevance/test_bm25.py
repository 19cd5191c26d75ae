from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headroom_core.relevance import BM25Scorer


def _best(items: list[str], query: str) -> list[str]:
    scores = BM25Scorer().score_items(items, query)
    order = sorted(range(len(items)), key=lambda i: -scores[i])
    return [items[i] for i in order if scores[i] > 0]


def test_log_lines_about_the_question_rank_first(hdfs_case: dict) -> None:
    lines = hdfs_case["content"].splitlines()
    ranked = _best(lines, "Verification succeeded for")
    wanted = [needle["text"] for needle in hdfs_case["needles"] if needle["why"] == "query"]
    top = ranked[: len(wanted)]
    for text in wanted:
        assert any(text in line for line in top), (text, top)


def test_a_block_id_finds_its_lines_only(hdfs_case: dict) -> None:
    lines = hdfs_case["content"].splitlines()
    block = "blk_-6952295868487656571"
    ranked = _best(lines, f"what happened to block {block}?")
    holding = [line for line in lines if block in line]
    assert holding
    assert set(ranked[: len(holding)]) == set(holding)


def test_identifier_query_prefers_the_exact_identifier(grep_case: dict) -> None:
    lines = grep_case["content"].splitlines()
    scores = BM25Scorer().score_items(lines, "get_repo")
    best = lines[max(range(len(lines)), key=scores.__getitem__)]
    assert "get_repo(" in best
    exact = [s for line, s in zip(lines, scores, strict=True) if "get_repo(" in line]
    partial = [s for line, s in zip(lines, scores, strict=True) if "get_repos(" in line]
    assert min(exact) > max(partial)


def test_snake_and_camel_case_match_plain_words() -> None:
    items = ["lastLoginTime=2024-05-01", "retry_count=3", "nothing related"]
    scores = BM25Scorer().score_items(items, "last login time")
    assert scores[0] > 0 and scores[1] == 0 and scores[2] == 0


def test_rare_terms_outweigh_common_ones() -> None:
    items = [f'{{"order_id": {n}, "status": "shipped"}}' for n in range(50)]
    items[17] = '{"order_id": 17, "status": "lost"}'
    scores = BM25Scorer().score_items(items, "which order status is lost")
    assert max(range(len(items)), key=scores.__getitem__) == 17
    assert scores[17] > 0.5 > max(scores[:17] + scores[18:])


def test_scores_are_in_unit_interval_and_batch_order_free() -> None:
    rng = random.Random(7)
    words = ["error", "timeout", "db", "cache", "user_id", "retry", "ok", "GET", "/api/v1", "500"]
    items = [" ".join(rng.choices(words, k=rng.randint(0, 30))) for _ in range(300)]
    query = "db timeout error 500"
    scorer = BM25Scorer()
    scores = scorer.score_items(items, query)
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(scores) > 0
    order = list(range(len(items)))
    rng.shuffle(order)
    shuffled = scorer.score_items([items[i] for i in order], query)
    assert shuffled == pytest.approx([scores[i] for i in order])


@given(st.lists(st.text(max_size=80), max_size=20), st.text(max_size=40))
def test_any_input_scores_within_bounds(items: list[str], query: str) -> None:
    scores = BM25Scorer().score_items(items, query)
    assert len(scores) == len(items)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_empty_inputs() -> None:
    scorer = BM25Scorer()
    assert scorer.score_items([], "anything") == []
    assert scorer.score_items(["a line", ""], "") == [0.0, 0.0]
    assert scorer.score_items(["a line", ""], "?!") == [0.0, 0.0]
    assert scorer.score_items(["", ""], "line") == [0.0, 0.0]


def test_score_is_a_batch_of_one() -> None:
    scorer = BM25Scorer()
    assert (
        scorer.score("disk full on node-7", "node-7")
        == scorer.score_items(["disk full on node-7"], "node-7")[0]
    )
    assert scorer.score("disk full on node-7", "node-7") > 0
    assert scorer.score("disk full on node-7", "memory") == 0.0


def test_parameters_change_length_normalisation() -> None:
    items = ["timeout", "timeout " + "filler " * 40]
    flat = BM25Scorer(b=0.0).score_items(items, "timeout")
    normalised = BM25Scorer(b=1.0).score_items(items, "timeout")
    assert flat[0] == pytest.approx(flat[1])
    assert normalised[0] > normalised[1]


@pytest.mark.parametrize(
    ("items", "query", "named"),
    [
        (["fine", {"id": 1}], "id", "item 1"),
        (["fine", None], "", "item 1"),
        (["fine"], None, "query"),
    ],
)
def test_non_text_input_is_a_validation_error(items: list, query: object, named: str) -> None:
    from headroom_core.errors import ValidationError

    with pytest.raises(ValidationError, match=named):
        BM25Scorer().score_items(items, query)  # type: ignore[arg-type]
