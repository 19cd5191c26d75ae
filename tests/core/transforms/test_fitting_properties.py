"""Guarantees of context fitting, checked on generated conversations with tool calls.

For RollingWindow and IntelligentContextManager alike: the output is a request OpenAI and
Anthropic both accept, it fits the budget whenever the kept minimum does, the system prompt and
the last user message come through verbatim, and every other kept message is an unaltered
original (or a message the result names as compressed or lowered, which keeps its tool-call ids).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headroom_core.config import IntelligentContextConfig, RollingWindowConfig
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms.cache_aligner import CacheAligner
from headroom_core.transforms.intelligent_context import IntelligentContextManager
from headroom_core.transforms.pipeline import TransformPipeline
from headroom_core.transforms.rolling_window import RollingWindow
from tests.support.conversations import assert_valid_request, conversations

TOKENIZER = get_tokenizer("gpt-4o")
MARKER_ALLOWANCE = 40  # tokens the omission note may need on top of the kept minimum
PROPERTY_SETTINGS = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
budget_fractions = st.floats(min_value=0.05, max_value=1.2)
kept_turns = st.integers(min_value=1, max_value=3)


def _minimum_tokens(messages: Sequence[dict[str, Any]], keep_turns: int) -> int:
    """Tokens of the system prompt plus the last ``keep_turns`` turns."""
    users = [i for i, m in enumerate(messages) if m["role"] == "user"]
    start = users[-keep_turns] if len(users) >= keep_turns else 1
    return TOKENIZER.count_messages([messages[0], *messages[start:]])


def _assert_guarantees(
    original: list[dict[str, Any]],
    output: list[dict[str, Any]],
    *,
    budget: int,
    keep_turns: int,
    compressed: Sequence[int] = (),
    lowered: Sequence[int] = (),
) -> None:
    assert_valid_request(output)
    assert output[0] is original[0] or output[0] == original[0]
    last_user = max(i for i, m in enumerate(original) if m["role"] == "user")
    assert original[last_user] in output
    tokens = TOKENIZER.count_messages(output)
    if _minimum_tokens(original, keep_turns) + MARKER_ALLOWANCE <= budget:
        assert tokens <= budget, (tokens, budget)
    # kept messages are the originals, in order; only named compressions may differ
    compressed_ids = {original[i]["tool_call_id"] for i in compressed}
    cursor = 0
    for position, message in enumerate(output[1:], start=1):
        if message["role"] == "system" and message["content"].startswith(
            "[Earlier conversation omitted"
        ):
            continue
        if position in lowered:
            same_ids = ("tool_call_id", "tool_calls")
            while any(original[cursor].get(k) != message.get(k) for k in same_ids):
                cursor += 1
            cursor += 1
            continue
        if message["role"] == "tool" and message["tool_call_id"] in compressed_ids:
            while original[cursor].get("tool_call_id") != message["tool_call_id"]:
                cursor += 1
            cursor += 1
            continue
        cursor = original.index(message, cursor) + 1


@PROPERTY_SETTINGS
@given(conversations, budget_fractions, kept_turns)
def test_rolling_window_guarantees(messages, fraction, keep):
    budget = max(1, int(TOKENIZER.count_messages(messages) * fraction))
    window = RollingWindow(RollingWindowConfig(preserve_recent_turns=keep))
    result = window.apply(messages, TOKENIZER, max_tokens=budget)
    _assert_guarantees(messages, result.messages, budget=budget, keep_turns=keep)
    assert result.details["over_budget"] == (result.tokens_after > budget)
    assert window.apply(result.messages, TOKENIZER, max_tokens=budget).messages == result.messages


@PROPERTY_SETTINGS
@given(conversations, budget_fractions, kept_turns)
def test_intelligent_context_guarantees(messages, fraction, keep):
    budget = max(1, int(TOKENIZER.count_messages(messages) * fraction))
    config = IntelligentContextConfig(
        keep_last_turns=keep,
        output_buffer_tokens=0,
        compress_before_drop=False,
        on_overflow="best_effort",
    )
    manager = IntelligentContextManager(config)
    result = manager.apply(messages, TOKENIZER, model_limit=budget)
    _assert_guarantees(
        messages,
        result.messages,
        budget=budget,
        keep_turns=keep,
        lowered=result.details["lowered"],
    )
    assert manager.apply(result.messages, TOKENIZER, model_limit=budget).messages == result.messages


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conversations, budget_fractions)
def test_intelligent_context_with_compression_names_what_it_changed(messages, fraction):
    budget = max(1, int(TOKENIZER.count_messages(messages) * fraction))
    config = IntelligentContextConfig(
        keep_last_turns=1, output_buffer_tokens=0, on_overflow="best_effort"
    )
    result = IntelligentContextManager(config).apply(messages, TOKENIZER, model_limit=budget)
    compressed = [item["index"] for item in result.details["compressed"]]
    _assert_guarantees(
        messages,
        result.messages,
        budget=budget,
        keep_turns=1,
        compressed=compressed,
        lowered=result.details["lowered"],
    )


@PROPERTY_SETTINGS
@given(conversations, budget_fractions)
def test_aligned_and_fitted_requests_stay_valid_and_the_pipeline_is_idempotent(messages, fraction):
    budget = max(1, int(TOKENIZER.count_messages(messages) * fraction))
    pipeline = TransformPipeline(
        [CacheAligner(), RollingWindow(RollingWindowConfig(preserve_recent_turns=1))]
    )
    result = pipeline.transform(messages, tokenizer=TOKENIZER, max_tokens=budget)
    assert_valid_request(result.messages)
    again = pipeline.transform(result.messages, tokenizer=TOKENIZER, max_tokens=budget)
    assert again.messages == result.messages
