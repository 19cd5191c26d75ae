from __future__ import annotations

import pytest

from headroom_core.config import RelevanceScorerConfig
from headroom_core.errors import ConfigurationError
from headroom_core.relevance import (
    BM25Scorer,
    HybridScorer,
    create_scorer,
    embedding_available,
)


def test_bm25_with_options() -> None:
    scorer = create_scorer("bm25", k1=1.2, b=0.5)
    assert isinstance(scorer, BM25Scorer)
    assert (scorer.k1, scorer.b) == (1.2, 0.5)


def test_config_supplies_type_and_settings() -> None:
    scorer = create_scorer(
        config=RelevanceScorerConfig(scorer_type="bm25", bm25_k1=2.0, bm25_b=0.1)
    )
    assert isinstance(scorer, BM25Scorer)
    assert (scorer.k1, scorer.b) == (2.0, 0.1)


def test_explicit_options_override_the_config() -> None:
    scorer = create_scorer("bm25", config=RelevanceScorerConfig(bm25_k1=2.0), k1=0.9)
    assert isinstance(scorer, BM25Scorer)
    assert scorer.k1 == 0.9


def test_auto_picks_the_best_available() -> None:
    scorer = create_scorer()
    expected = HybridScorer if embedding_available() else BM25Scorer
    assert type(scorer) is expected


def test_unknown_type_names_the_allowed_ones() -> None:
    with pytest.raises(ConfigurationError, match="scorer_type") as info:
        create_scorer("tfidf")
    assert info.value.details["value"] == "tfidf"
    assert "bm25" in info.value.details["allowed"]


def test_unknown_option_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="alpha"):
        create_scorer("bm25", alpha=0.3)


def test_embedding_without_the_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def without_sentence_transformers(name: str, *args: object) -> object:
        return None if name == "sentence_transformers" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", without_sentence_transformers)
    assert not embedding_available()
    with pytest.raises(ConfigurationError, match="relevance") as info:
        create_scorer("embedding")
    assert info.value.details["extra"] == "relevance"
    assert isinstance(create_scorer("auto"), BM25Scorer)


def test_hybrid_without_embeddings_falls_back_to_bm25_and_warns_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util

    from headroom_core.relevance import hybrid

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *args: None if name == "torch" else real_find_spec(name, *args),
    )
    monkeypatch.setattr(hybrid, "_fallback_warned", False)
    items = ["connection timeout to db-3", "cache warmed"]
    with pytest.warns(RuntimeWarning, match="BM25 alone.*relevance"):
        scorer = create_scorer("hybrid", alpha=0.3)
    assert scorer.score_items(items, "db-3 timeout") == BM25Scorer().score_items(
        items, "db-3 timeout"
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        HybridScorer(alpha=0.3)
