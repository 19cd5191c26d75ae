"""Embedding and hybrid scoring with the real all-MiniLM-L6-v2 model, loaded offline."""

from __future__ import annotations

import os

import pytest

from headroom_core.relevance import (
    BM25Scorer,
    EmbeddingScorer,
    HybridScorer,
    create_scorer,
    embedding_available,
)

pytestmark = [
    pytest.mark.embedding,
    pytest.mark.slow,
    pytest.mark.skipif(
        not embedding_available(),
        reason="sentence-transformers is not installed (the 'relevance' extra)",
    ),
]

ITEMS = [
    "The database connection timed out after 30 seconds",
    "User profile picture uploaded successfully",
    "Disk usage on /var reached 97 percent",
    "Payment gateway declined the card",
]


@pytest.fixture(scope="module", autouse=True)
def offline_hub() -> None:
    os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture(scope="module")
def scorer() -> EmbeddingScorer:
    return EmbeddingScorer()


def test_paraphrase_ranks_first_without_shared_words(scorer: EmbeddingScorer) -> None:
    scores = scorer.score_items(ITEMS, "sql server not responding")
    assert max(range(len(ITEMS)), key=scores.__getitem__) == 0
    assert BM25Scorer().score_items(ITEMS, "sql server not responding")[0] == 0.0


def test_scores_in_unit_interval(scorer: EmbeddingScorer) -> None:
    scores = scorer.score_items([*ITEMS, "", "🙂", "x" * 5000], "storage almost full")
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert max(range(len(ITEMS)), key=scores.__getitem__) == 2


def test_batch_equals_one_by_one(scorer: EmbeddingScorer) -> None:
    query = "card was rejected"
    batch = scorer.score_items(ITEMS, query)
    single = [scorer.score(item, query) for item in ITEMS]
    assert batch == pytest.approx(single, abs=1e-4)


def test_empty_inputs(scorer: EmbeddingScorer) -> None:
    assert scorer.score_items([], "anything") == []
    assert scorer.score_items(ITEMS, "  ") == [0.0] * len(ITEMS)


def test_model_loads_once_per_process(scorer: EmbeddingScorer) -> None:
    from headroom_core.relevance.embedding import load_model

    assert load_model() is load_model("all-MiniLM-L6-v2")


def test_hybrid_blends_both_signals() -> None:
    hybrid = HybridScorer(alpha=0.5)
    assert hybrid.embedding is not None
    query = "timeout on the database"
    keyword = BM25Scorer().score_items(ITEMS, query)
    semantic = EmbeddingScorer().score_items(ITEMS, query)
    expected = [0.5 * k + 0.5 * s for k, s in zip(keyword, semantic, strict=True)]
    assert hybrid.score_items(ITEMS, query) == pytest.approx(expected)


def test_auto_is_hybrid_when_embeddings_exist() -> None:
    assert isinstance(create_scorer("auto"), HybridScorer)


def test_hybrid_falls_back_to_bm25_when_the_model_cannot_load(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from headroom_core.relevance import hybrid

    monkeypatch.setattr(hybrid, "_fallback_warned", False)
    scorer = HybridScorer(alpha=0.5, model="no-such-model-anywhere")
    with pytest.warns(RuntimeWarning, match="no-such-model-anywhere"):
        scores = scorer.score_items(ITEMS, "card declined")
    assert scores == BM25Scorer().score_items(ITEMS, "card declined")
    assert scorer.embedding is None


def test_embedding_scorer_names_a_model_it_cannot_load() -> None:
    from headroom_core.errors import ConfigurationError

    with pytest.raises(ConfigurationError, match="no-such-model-anywhere") as info:
        EmbeddingScorer("no-such-model-anywhere").score_items(ITEMS, "card")
    assert info.value.details["field"] == "embedding_model"
