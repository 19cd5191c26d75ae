"""TransformPipeline: order, per-transform accounting, idempotence."""

from __future__ import annotations

import pytest

from headroom_core.config import IntelligentContextConfig, RollingWindowConfig
from headroom_core.errors import ConfigurationError
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms.cache_aligner import CacheAligner
from headroom_core.transforms.intelligent_context import IntelligentContextManager
from headroom_core.transforms.pipeline import TransformPipeline
from headroom_core.transforms.rolling_window import RollingWindow
from tests.support.conversations import assert_valid_request, build_conversation

TOKENIZER = get_tokenizer("gpt-4o")
TURN = {"user_words": 20, "exchanges": [[6]], "reply_words": 25}


def _messages() -> list[dict]:
    messages = build_conversation([TURN] * 8)
    messages[0] = {"role": "system", "content": messages[0]["content"] + " Today is 2025-01-06.  "}
    return messages


def test_runs_in_order_and_accounts_per_transform():
    messages = _messages()
    budget = TOKENIZER.count_messages(messages) // 2
    pipeline = TransformPipeline(
        [CacheAligner(), RollingWindow(RollingWindowConfig(preserve_recent_turns=1))]
    )
    result = pipeline.transform(messages, max_tokens=budget)

    assert result.transforms_applied == ["cache_aligner", "rolling_window"]
    steps = result.details["per_transform"]
    assert [step["name"] for step in steps] == ["cache_aligner", "rolling_window"]
    assert steps[0]["tokens_before"] == result.tokens_before == TOKENIZER.count_messages(messages)
    assert steps[0]["tokens_after"] == steps[1]["tokens_before"]
    assert (
        steps[1]["tokens_after"] == result.tokens_after == TOKENIZER.count_messages(result.messages)
    )
    assert result.tokens_after <= budget
    assert result.details["cache_aligner"]["moved"][0]["value"] == "2025-01-06"
    assert_valid_request(result.messages)


def test_pipeline_is_idempotent():
    messages = _messages()
    limit = TOKENIZER.count_messages(messages) // 2
    pipeline = TransformPipeline(
        [
            CacheAligner(),
            IntelligentContextManager(IntelligentContextConfig(output_buffer_tokens=0)),
        ]
    )
    first = pipeline.transform(messages, model_limit=limit)
    second = pipeline.transform(first.messages, model_limit=limit)
    assert second.messages == first.messages
    assert second.transforms_applied == []


def test_rejects_what_is_not_a_transform():
    with pytest.raises(ConfigurationError) as error:
        TransformPipeline([CacheAligner(), "rolling_window"])
    assert error.value.details["field"] == "transforms[1]"
