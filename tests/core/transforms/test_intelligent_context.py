"""IntelligentContextManager: importance decides what goes, the minimum and the pairs stay."""

from __future__ import annotations

import copy
import json

import pytest

from headroom_core.config import (
    HeadroomConfig,
    IntelligentContextConfig,
    RetrievalConfig,
    ScoringWeights,
)
from headroom_core.errors import TransformError
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms.intelligent_context import IntelligentContextManager
from headroom_core.transforms.router import ContentRouter
from headroom_core.transforms.toin import ToolImportanceLearner
from tests.support.conversations import assert_valid_request, build_conversation

TOKENIZER = get_tokenizer("gpt-4o")
TURN = {"user_words": 20, "exchanges": [[8], [5, 3]], "reply_words": 30}


def _config(**overrides) -> IntelligentContextConfig:
    return IntelligentContextConfig(output_buffer_tokens=0, compress_before_drop=False, **overrides)


def _call(call_id: str, name: str, arguments: str = "{}") -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def test_fits_keeps_system_and_last_turns_verbatim_and_pairs_intact():
    messages = build_conversation([TURN] * 8, pending_last=True)
    snapshot = copy.deepcopy(messages)
    budget = TOKENIZER.count_messages(messages) // 2
    result = IntelligentContextManager(_config()).apply(messages, TOKENIZER, model_limit=budget)

    assert messages == snapshot
    assert result.tokens_after <= budget
    assert result.tokens_after == TOKENIZER.count_messages(result.messages)
    assert result.messages[0] == messages[0]
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    tail = messages[last_user:]
    assert result.messages[-len(tail) :] == tail
    assert result.messages[1]["content"].startswith("[Earlier conversation omitted")
    assert result.transforms_applied == ["intelligent_context"]
    assert_valid_request(result.messages)
    # every kept message is an unchanged original
    originals = [m for m in messages]
    assert all(m in originals for m in result.messages[2:])


def test_output_buffer_is_kept_free():
    messages = build_conversation([TURN] * 6)
    limit = TOKENIZER.count_messages(messages) // 2
    config = IntelligentContextConfig(output_buffer_tokens=500, compress_before_drop=False)
    result = IntelligentContextManager(config).apply(messages, TOKENIZER, model_limit=limit)
    assert result.tokens_after <= limit - 500
    assert result.details["budget"] == limit - 500


def test_error_and_query_relevant_results_outlive_plain_ones():
    messages = [{"role": "system", "content": "You are an SRE assistant."}]
    for number in range(6):
        body = "\n".join(f"INFO node-{number} heartbeat ok seq {i}" for i in range(40))
        if number == 1:
            body += "\nERROR payment-gateway refused connection: Traceback (most recent call last)"
        if number == 3:
            body += "\nINFO shard kestrel_77 rebalanced"
        messages += [
            {"role": "user", "content": f"Check node {number}."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [_call(f"c{number}", "search_logs")],
            },
            {"role": "tool", "tool_call_id": f"c{number}", "content": body},
            {"role": "assistant", "content": f"Node {number} checked."},
        ]
    messages.append({"role": "user", "content": "What happened to shard kestrel_77?"})
    budget = TOKENIZER.count_messages(messages) * 2 // 3
    result = IntelligentContextManager(_config(keep_last_turns=1)).apply(
        messages, TOKENIZER, model_limit=budget
    )
    kept_ids = {m.get("tool_call_id") for m in result.messages if m["role"] == "tool"}
    assert {"c1", "c3"} <= kept_ids
    assert kept_ids != {f"c{n}" for n in range(6)}
    assert_valid_request(result.messages)


def test_forward_referenced_results_are_kept():
    messages = [{"role": "system", "content": "Be exact."}]
    for number in range(5):
        messages += [
            {"role": "user", "content": f"Look up batch {number}."},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [_call(f"c{number}", "get_batch")],
            },
            {
                "role": "tool",
                "tool_call_id": f"c{number}",
                "content": " ".join(f"batch {number} item {i} fine" for i in range(60))
                + f" checksum ck_{number}_abc9",
            },
            {"role": "assistant", "content": "Done."},
        ]
    messages.append({"role": "user", "content": "Compare ck_0_abc9 with the others, please."})
    weights = ScoringWeights(
        recency=0.1, relevance=0.0, role=0.0, tool_value=0.0, error=0.0, forward_reference=1.0
    )
    config = _config(keep_last_turns=1, scoring_weights=weights)
    budget = TOKENIZER.count_messages(messages) // 2
    result = IntelligentContextManager(config).apply(messages, TOKENIZER, model_limit=budget)
    assert "c0" in {m.get("tool_call_id") for m in result.messages}


def test_learned_tool_value_orders_the_drops():
    messages = [{"role": "system", "content": "Be exact."}]
    for number in range(6):
        tool = "useful_tool" if number % 2 else "noisy_tool"
        messages += [
            {"role": "user", "content": "Next."},
            {"role": "assistant", "content": None, "tool_calls": [_call(f"c{number}", tool)]},
            {"role": "tool", "tool_call_id": f"c{number}", "content": "value " * 120},
            {"role": "assistant", "content": "Noted."},
        ]
    messages.append({"role": "user", "content": "Summarise."})
    learner = ToolImportanceLearner(prior_weight=1.0)
    learner._stats.update(
        {"useful_tool": {"seen": 10, "used": 10}, "noisy_tool": {"seen": 10, "used": 0}}
    )
    weights = ScoringWeights(
        recency=0.0, relevance=0.0, role=0.0, tool_value=1.0, error=0.0, forward_reference=0.0
    )
    config = _config(keep_last_turns=1, scoring_weights=weights)
    budget = TOKENIZER.count_messages(messages) * 3 // 4
    result = IntelligentContextManager(config, toin=learner).apply(
        messages, TOKENIZER, model_limit=budget
    )
    kept = {m["tool_call_id"] for m in result.messages if m["role"] == "tool"}
    dropped = {f"c{n}" for n in range(6)} - kept
    assert dropped and all(int(call_id[1:]) % 2 == 0 for call_id in dropped)  # noisy_tool's


def test_overflow_raises_with_sizes_or_returns_best_effort():
    messages = build_conversation([TURN] * 3)
    with pytest.raises(TransformError) as error:
        IntelligentContextManager(_config()).apply(messages, TOKENIZER, model_limit=100)
    details = error.value.details
    assert details["budget"] == 100 and details["model_limit"] == 100
    assert details["minimum_tokens"] > 100
    assert str(details["minimum_tokens"]) in str(error.value)

    best = IntelligentContextManager(_config(on_overflow="best_effort")).apply(
        messages, TOKENIZER, model_limit=100
    )
    assert best.details["over_budget"] is True
    assert best.messages[0] == messages[0] and best.messages[-1] == messages[-1]
    assert_valid_request(best.messages)


def test_idempotent_and_unchanged_when_it_fits():
    messages = build_conversation([TURN] * 6)
    manager = IntelligentContextManager(_config())
    assert manager.apply(messages, TOKENIZER, model_limit=10**6).messages == messages
    budget = TOKENIZER.count_messages(messages) // 2
    first = manager.apply(messages, TOKENIZER, model_limit=budget)
    assert manager.apply(first.messages, TOKENIZER, model_limit=budget).messages == first.messages


def test_model_limit_defaults_to_the_models_window():
    messages = build_conversation([TURN] * 2)
    result = IntelligentContextManager(_config()).apply(messages, model="gpt-4o")
    assert result.details["model_limit"] == 128_000
    assert result.messages == messages


def _orders_conversation() -> list[dict]:
    rows = [
        {"id": f"ord_{i}", "status": "ok", "region": "eu-west-1", "amount": i * 3}
        for i in range(300)
    ]
    return [
        {"role": "system", "content": "Be exact."},
        {"role": "user", "content": "List orders."},
        {"role": "assistant", "content": None, "tool_calls": [_call("c1", "list_orders")]},
        {"role": "tool", "tool_call_id": "c1", "content": json.dumps(rows, indent=2)},
        {"role": "assistant", "content": "Here they are."},
        {"role": "user", "content": "Which order has amount 300?"},
    ]


def _fit_orders(router: ContentRouter | None = None):
    messages = _orders_conversation()
    budget = TOKENIZER.count_messages(messages) // 2
    config = IntelligentContextConfig(output_buffer_tokens=0, keep_last_turns=1)
    manager = IntelligentContextManager(config, router=router)
    return manager.apply(messages, TOKENIZER, model_limit=budget), budget


def test_compresses_tool_results_before_dropping_them():
    result, budget = _fit_orders()
    assert result.tokens_after <= budget
    assert result.details["compressed"], result.details
    assert any(m.get("tool_call_id") == "c1" for m in result.messages)
    assert_valid_request(result.messages)


def test_reports_the_keys_of_the_originals_its_router_stored():
    result, _ = _fit_orders()
    [key] = result.details["retrieval_keys"]
    [change] = result.details["compressed"]
    assert change["retrieval_key"] == key
    assert key in result.messages[change["index"]]["content"]


def test_a_router_without_retrieval_stores_nothing_and_names_no_key():
    router = ContentRouter(HeadroomConfig(retrieval=RetrievalConfig(enabled=False)))
    result, _ = _fit_orders(router)
    [change] = result.details["compressed"]
    assert result.details["retrieval_keys"] == [] and change["retrieval_key"] is None
    assert "headroom_retrieve" not in result.messages[change["index"]]["content"]


def test_real_agent_conversation_keeps_every_needed_fact_when_compressing_first():
    sample = load_sample_conversation()
    messages = sample["messages"]
    budget = 12_000  # the request is about 38K tokens; its last two turns alone are about 9K
    config = IntelligentContextConfig(output_buffer_tokens=0, keep_last_turns=2)
    result = IntelligentContextManager(config).apply(messages, TOKENIZER, model_limit=budget)

    assert result.tokens_after <= budget
    assert result.details["compressed"]
    assert_valid_request(result.messages)
    sent = json.dumps(result.messages, ensure_ascii=False)
    missing = [fact["text"] for fact in sample["facts"] if fact["text"] not in sent]
    assert missing == []
