"""BM25 remembers the token counts of long texts; the scores stay those of plain Okapi BM25."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from headroom_core.relevance import BM25Scorer
from headroom_core.relevance.terms import compound_tokens, search_terms, token_terms

DATA = Path(__file__).resolve().parents[2] / "data"


def _reference(items: list[str], query: str, k1: float = 1.5, b: float = 0.75) -> list[float]:
    """BM25 as the module documents it, token by token, without any caching."""
    terms = list(dict.fromkeys(search_terms(query)))
    tokens = [compound_tokens(item) for item in items]
    frequencies = [
        [sum(term in token_terms(token) for token in item_tokens) for term in terms]
        for item_tokens in tokens
    ]
    holding = [sum(1 for row in frequencies if row[j]) for j in range(len(terms))]
    idf = [math.log1p((len(items) - df + 0.5) / (df + 0.5)) for df in holding]
    ideal = sum(weight for weight, df in zip(idf, holding, strict=True) if df)
    if not ideal:
        return [0.0] * len(items)
    average = max(sum(map(len, tokens)) / len(items), 1.0)
    scores = []
    for item_tokens, row in zip(tokens, frequencies, strict=True):
        norm = k1 * (1 - b + b * len(item_tokens) / average)
        raw = sum(f * (k1 + 1) / (f + norm) * w for f, w in zip(row, idf, strict=True))
        scores.append(min(1.0, max(0.0, raw / ideal)))
    return scores


def _workflow_runs() -> list[str]:
    runs = json.loads((DATA / "github_workflow_runs.json").read_text(encoding="utf-8"))
    return [json.dumps(run, indent=2) for run in runs["workflow_runs"]]


@pytest.mark.parametrize(
    "query",
    ["which run failed on main?", "completed success push", "head_sha", "nothing matches zzz"],
)
def test_short_long_and_huge_texts_score_as_plain_bm25_cold_and_remembered(query: str) -> None:
    long_items = _workflow_runs()  # real GitHub API records, each well over 256 characters
    assert min(map(len, long_items)) >= 256
    short_items = [line for item in long_items[:3] for line in item.splitlines()][:40]
    huge = "\n".join(long_items * 4)  # too big to remember: tokenised on every call
    assert len(huge) > 32_768
    items = [*long_items, *short_items, huge]
    expected = _reference(items, query)
    scorer = BM25Scorer()
    assert scorer.score_items(items, query) == pytest.approx(expected, abs=1e-12)
    # the second call reads the remembered counts of the long items
    assert scorer.score_items(items, query) == pytest.approx(expected, abs=1e-12)
    assert any(expected) == (query != "nothing matches zzz")
    forgetful = BM25Scorer(remember_long_texts=False)
    assert forgetful.score_items(items, query) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "query",
    ["getUserName failed", "USER name", "Straße ÜBER", "http_status 503", "blk_ id"],
)
def test_many_lines_score_as_plain_bm25_across_chunks(query: str) -> None:
    """More lines than one chunk, with query terms hidden in camelCase, snake_case and other
    cases: the pre-test that skips lines without a query term must never skip a match."""
    case = json.loads((DATA / "loghub-hdfs-a.json").read_text(encoding="utf-8"))
    lines = case["content"].splitlines()
    extra = ["call getUserName() -> None", "HTTP_STATUS=503 from upstream", "über die Straße",
             "USERNAME set", "user_name: bob", "Blk_77 moved"]
    items = [*lines, *lines, *extra] * 2
    assert len(items) > 512
    expected = _reference(items, query)
    assert any(expected)
    assert BM25Scorer().score_items(items, query) == pytest.approx(expected, abs=1e-12)


def test_a_long_text_that_repeats_a_term_counts_every_occurrence() -> None:
    filler = "routine heartbeat from the scheduler, all queues drained. "
    once = filler * 12 + "disk quota exceeded on node-7"
    thrice = filler * 12 + "disk quota exceeded on node-7; disk again; disk once more"
    other = filler * 5
    items = [once, thrice, other]
    scores = BM25Scorer().score_items(items, "disk")
    assert scores == pytest.approx(_reference(items, "disk"), abs=1e-12)
    assert scores[1] > scores[0] > scores[2] == 0.0


def test_the_line_crusher_scores_with_a_twin_that_remembers_nothing() -> None:
    from headroom_core.transforms.line_crusher import LineCrusher

    shared = BM25Scorer(k1=1.2, b=0.5)
    twin = LineCrusher(scorer=shared).scorer
    assert isinstance(twin, BM25Scorer)
    assert (twin.k1, twin.b, twin.remember_long_texts) == (1.2, 0.5, False)
    assert shared.remember_long_texts and twin.forgetful() is twin
