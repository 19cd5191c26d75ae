"""Configs: documented defaults, validation at construction, on assignment and from dicts/JSON."""

from __future__ import annotations

import pickle
from typing import Any

import pydantic
import pytest

from headroom_core.config import (
    CacheAlignerConfig,
    HeadroomConfig,
    IntelligentContextConfig,
    LineCrusherConfig,
    RelevanceScorerConfig,
    RetrievalConfig,
    RollingWindowConfig,
    ScoringWeights,
    SmartCrusherConfig,
    configuration_error,
)
from headroom_core.errors import ConfigurationError, HeadroomError

DEFAULTS: list[tuple[type, dict[str, Any]]] = [
    (
        SmartCrusherConfig,
        {
            "enabled": True,
            "min_tokens_to_crush": 200,
            "max_items_after_crush": 50,
            "keep_first": 3,
            "keep_last": 2,
            "relevance_threshold": 0.3,
            "anomaly_std_threshold": 2.0,
            "preserve_errors": True,
            "lossless_only": False,
            "token_budget": None,
        },
    ),
    (
        LineCrusherConfig,
        {
            "enabled": True,
            "min_tokens_to_crush": 200,
            "max_lines_after_crush": 120,
            "keep_first": 5,
            "keep_last": 5,
            "context_lines": 1,
            "relevance_threshold": 0.3,
            "similarity_threshold": 90.0,
            "compress_code": False,
        },
    ),
    (
        CacheAlignerConfig,
        {
            "enabled": True,
            "extract_dates": True,
            "normalize_whitespace": True,
            "stable_prefix_min_tokens": 100,
        },
    ),
    (
        RollingWindowConfig,
        {
            "enabled": True,
            "max_tokens": 100_000,
            "preserve_system": True,
            "preserve_recent_turns": 5,
            "drop_oldest_first": True,
        },
    ),
    (
        IntelligentContextConfig,
        {
            "enabled": True,
            "keep_system": True,
            "keep_last_turns": 2,
            "output_buffer_tokens": 4000,
            "use_importance_scoring": True,
            "toin_integration": True,
            "compress_before_drop": True,
            "on_overflow": "raise",
        },
    ),
    (
        RelevanceScorerConfig,
        {
            "scorer_type": "bm25",
            "bm25_k1": 1.5,
            "bm25_b": 0.75,
            "embedding_model": "all-MiniLM-L6-v2",
            "hybrid_alpha": 0.5,
        },
    ),
    (
        RetrievalConfig,
        {"enabled": True, "max_entries": 1000, "ttl_seconds": 3600.0, "store_url": None},
    ),
    (
        HeadroomConfig,
        {
            "default_mode": "optimize",
            "context_fitting": "intelligent",
            "fail_open": True,
            "store_url": None,
            "store_message_content": False,
            "compress_user_messages": False,
        },
    ),
]


@pytest.mark.parametrize(
    ("config_class", "defaults"), DEFAULTS, ids=lambda v: getattr(v, "__name__", "")
)
def test_documented_defaults(config_class: type, defaults: dict[str, Any]) -> None:
    config = config_class()
    for field, value in defaults.items():
        assert getattr(config, field) == value, field


def test_seed_examples_construct() -> None:
    assert (
        SmartCrusherConfig(
            min_tokens_to_crush=200,
            max_items_after_crush=50,
            keep_first=3,
            keep_last=2,
            relevance_threshold=0.3,
            anomaly_std_threshold=2.0,
            preserve_errors=True,
        )
        == SmartCrusherConfig()
    )
    config = IntelligentContextConfig(
        enabled=True,
        keep_system=True,
        keep_last_turns=2,
        output_buffer_tokens=4000,
        use_importance_scoring=True,
        scoring_weights=ScoringWeights(),
        toin_integration=True,
    )
    assert config == IntelligentContextConfig()


def test_nested_headroom_config_holds_every_sub_config() -> None:
    config = HeadroomConfig()
    expected = {
        "smart_crusher": SmartCrusherConfig,
        "line_crusher": LineCrusherConfig,
        "cache_aligner": CacheAlignerConfig,
        "rolling_window": RollingWindowConfig,
        "intelligent_context": IntelligentContextConfig,
        "relevance": RelevanceScorerConfig,
        "retrieval": RetrievalConfig,
    }
    for field, kind in expected.items():
        assert isinstance(getattr(config, field), kind)
    assert HeadroomConfig().smart_crusher is not config.smart_crusher


def test_seed_assignment_example() -> None:
    config = HeadroomConfig()
    config.smart_crusher.min_tokens_to_crush = 100
    config.cache_aligner.enabled = True
    config.rolling_window.preserve_recent_turns = 3
    assert config.smart_crusher.min_tokens_to_crush == 100
    assert config.rolling_window.preserve_recent_turns == 3


@pytest.mark.parametrize(
    ("config_class", "field", "value", "allowed"),
    [
        (SmartCrusherConfig, "min_tokens_to_crush", -5, "greater than or equal to 0"),
        (SmartCrusherConfig, "relevance_threshold", 1.5, "less than or equal to 1"),
        (SmartCrusherConfig, "max_items_after_crush", 0, "greater than or equal to 1"),
        (LineCrusherConfig, "similarity_threshold", 101.0, "less than or equal to 100"),
        (RollingWindowConfig, "max_tokens", 0, "greater than or equal to 1"),
        (IntelligentContextConfig, "on_overflow", "ignore", "'raise' or 'best_effort'"),
        (RelevanceScorerConfig, "scorer_type", "tfidf", "'auto', 'bm25', 'embedding' or 'hybrid'"),
        (RetrievalConfig, "ttl_seconds", 0, "greater than 0"),
        (HeadroomConfig, "default_mode", "fast", "'audit', 'optimize' or 'simulate'"),
    ],
)
def test_bad_values_fail_at_construction_and_assignment(
    config_class: type, field: str, value: Any, allowed: str
) -> None:
    with pytest.raises(ConfigurationError) as built:
        config_class(**{field: value})
    config = config_class()
    with pytest.raises(ConfigurationError) as assigned:
        setattr(config, field, value)
    for error in (built.value, assigned.value):
        assert error.details["field"] == field
        assert error.details["value"] == value
        assert allowed in error.details["allowed"]
        assert field in str(error) and repr(value) in str(error) and allowed in str(error)
    assert getattr(config, field) == getattr(config_class(), field)


def test_seed_bad_assignment_fails() -> None:
    config = HeadroomConfig()
    with pytest.raises(ConfigurationError, match="min_tokens_to_crush"):
        config.smart_crusher.min_tokens_to_crush = -5
    assert config.smart_crusher.min_tokens_to_crush == 200


def test_nested_errors_name_the_full_path() -> None:
    with pytest.raises(ConfigurationError) as info:
        HeadroomConfig(smart_crusher={"keep_first": -1})
    assert info.value.details["field"] == "smart_crusher.keep_first"
    assert info.value.details["value"] == -1
    with pytest.raises(ConfigurationError) as deep:
        HeadroomConfig(intelligent_context={"scoring_weights": {"recency": -1}})
    assert deep.value.details["field"] == "intelligent_context.scoring_weights.recency"


def test_any_pydantic_model_reports_through_configuration_error() -> None:
    class Budget(pydantic.BaseModel):
        tokens: int = pydantic.Field(gt=0)
        name: str

    with pytest.raises(pydantic.ValidationError) as raised:
        Budget(tokens=0, name=None)
    error = configuration_error(Budget, raised.value)

    assert isinstance(error, ConfigurationError)
    assert (error.details["config"], error.details["field"], error.details["value"]) == (
        "Budget",
        "tokens",
        0,
    )
    assert str(error).startswith("Invalid value for Budget.tokens: 0. Allowed: ")
    assert "(and 1 more problem)" in str(error)
    assert len(error.details["errors"]) == 2


def test_dicts_and_json_validate_into_configs() -> None:
    config = HeadroomConfig(smart_crusher={"keep_first": 7}, retrieval={"store_url": "sqlite://"})
    assert config.smart_crusher.keep_first == 7
    assert HeadroomConfig.model_validate(config.model_dump()) == config
    assert HeadroomConfig.model_validate_json(config.model_dump_json()) == config
    with pytest.raises(ConfigurationError, match=r"smart_crusher\.keep_first"):
        HeadroomConfig.model_validate({"smart_crusher": {"keep_first": -1}})
    with pytest.raises(ConfigurationError, match="default_mode"):
        HeadroomConfig.model_validate_json('{"default_mode": "turbo"}')


def test_unknown_fields_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="min_token_to_crush"):
        SmartCrusherConfig(min_token_to_crush=10)


def test_wrong_types_are_rejected() -> None:
    with pytest.raises(ConfigurationError, match="keep_first"):
        SmartCrusherConfig(keep_first="three")


def test_scoring_weights_normalise_to_one() -> None:
    weights = ScoringWeights()
    values = weights.model_dump()
    assert sum(values.values()) == pytest.approx(1.0)
    custom = ScoringWeights(
        recency=2, relevance=2, role=0, tool_value=0, error=0, forward_reference=0
    )
    assert custom.recency == pytest.approx(0.5) and custom.relevance == pytest.approx(0.5)
    custom.role = 1.0
    assert sum(custom.model_dump().values()) == pytest.approx(1.0)
    assert custom.role > custom.recency


def test_scoring_weights_need_a_positive_weight() -> None:
    zeros = dict.fromkeys(ScoringWeights.model_fields, 0.0)
    with pytest.raises(ConfigurationError, match="positive"):
        ScoringWeights(**zeros)
    with pytest.raises(ConfigurationError, match="recency"):
        ScoringWeights(recency=-0.1)


def test_configuration_error_is_a_headroom_value_error_and_pickles() -> None:
    with pytest.raises(ConfigurationError) as info:
        RollingWindowConfig(max_tokens=-1)
    error = info.value
    assert isinstance(error, HeadroomError) and isinstance(error, ValueError)
    restored = pickle.loads(pickle.dumps(error))
    assert str(restored) == str(error)
    assert restored.details["field"] == "max_tokens"


def test_configs_are_plain_data() -> None:
    config = HeadroomConfig()
    copy = config.model_copy(deep=True)
    copy.smart_crusher.keep_first = 9
    assert config.smart_crusher.keep_first == 3
    assert pickle.loads(pickle.dumps(config)) == config
