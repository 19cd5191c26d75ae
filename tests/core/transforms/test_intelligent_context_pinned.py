"""IntelligentContextManager keeps exactly the same messages however its features are computed.

The expected drops were recorded from the first implementation, which tokenised every piece on
every call. Caching features across calls must not change a single choice, so a fit from a cold
start, a repeated fit and a fit of a grown conversation are all pinned.
"""

from __future__ import annotations

import copy
import json
import random

import pytest

from headroom_core.config import IntelligentContextConfig, ScoringWeights
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms.intelligent_context import IntelligentContextManager
from headroom_core.transforms.toin import ToolImportanceLearner
from tests.support.conversations import tool_output

TOKENIZER = get_tokenizer("gpt-4o")
_TOOLS = ("search_logs", "get_user", "list_orders")
_WORDS = [
    "disk",
    "node",
    "latency",
    "deploy",
    "queue",
    "retry",
    "shard",
    "cache",
    "billing",
    "region",
    "replica",
]


def _conversation(turns: int, seed: int = 7) -> list[dict]:
    """Turns of a question, tool calls and a reply that sometimes quotes an earlier result's id."""
    rng = random.Random(seed)
    messages: list[dict] = [{"role": "system", "content": "You are an operations assistant."}]
    quotable: list[str] = []
    call_number = 0
    for turn in range(turns):
        words = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(3, 25)))
        messages.append({"role": "user", "content": f"Q{turn}: {words}?"})
        for _exchange in range(rng.randint(0, 2)):
            calls, results = [], []
            for _call in range(rng.randint(1, 2)):
                call_number += 1
                tool = _TOOLS[rng.randrange(len(_TOOLS))]
                call_id = f"call_{call_number}"
                arguments = json.dumps({"q": rng.choice(_WORDS), "page": call_number})
                calls.append(
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tool, "arguments": arguments},
                    }
                )
                content = tool_output(tool, call_number, rng.randint(2, 30))
                results.append({"role": "tool", "tool_call_id": call_id, "content": content})
                quotable.append(
                    f"{tool}_{call_number}_0" if tool != "search_logs" else f"req_{call_number}_1"
                )
            messages.append({"role": "assistant", "content": None, "tool_calls": calls})
            messages.extend(results)
        reply = " ".join(rng.choice(_WORDS) for _ in range(rng.randint(2, 30)))
        if quotable and rng.random() < 0.4:
            reply += " see " + " and ".join(rng.sample(quotable, min(3, len(quotable))))
        if rng.random() < 0.15:
            reply += " the deploy failed with a timeout"
        messages.append({"role": "assistant", "content": f"A{turn}: {reply}"})
    messages.append({"role": "user", "content": "Which orders failed, and what about req_31_1?"})
    return messages


def _learner(messages: list[dict]) -> ToolImportanceLearner:
    learner = ToolImportanceLearner(prior_weight=1.0)
    learner.observe(messages)
    return learner


CASES = {
    "default": (ScoringWeights(), {}),
    "relevance only": (
        ScoringWeights(
            recency=0.0, relevance=1.0, role=0.0, tool_value=0.0, error=0.0, forward_reference=0.0
        ),
        {},
    ),
    "forward references only": (
        ScoringWeights(
            recency=0.0, relevance=0.0, role=0.0, tool_value=0.0, error=0.0, forward_reference=1.0
        ),
        {},
    ),
    "errors and recency": (
        ScoringWeights(
            recency=0.5, relevance=0.0, role=0.0, tool_value=0.0, error=1.0, forward_reference=0.0
        ),
        {},
    ),
    "explicit query": (ScoringWeights(), {"query": "shard replica get_user_44_0 billing"}),
}

# Positions of the original messages each case drops, recorded before features were cached.
EXPECTED_DROPPED = {
    ("default", 40): "1-17,19-20,22-32,34-35,37-46,49-52,54-56,66-69,71-72,78-79,83-90,92-93,"
    "103-106,109-121,124-125,134-138,143-144,146-149,154-155",
    ("default", 41): "1-17,19-20,22-32,34-35,37-46,49-52,54-56,66-69,71-72,78-79,83-90,92-93,"
    "103-106,111-121,124-125,134-138,143-144,146-149,154-155,158-159",
    ("errors and recency", 40): "1-82,84-85,92-93,97-98,107-110,120-121,124-125,143-144,146-149,"
    "154-155",
    ("errors and recency", 41): "1-60,62-64,66-82,84-85,92-93,97-98,107-110,120-121,124-125,"
    "143-144,146-149,154-155,158-159",
    ("explicit query", 40): "1-32,34-35,38-40,45-52,57-59,61-69,71-75,77-90,92-95,97-98,104-105,"
    "109-115,124-125,146-149,154-155",
    ("explicit query", 41): "1-32,34-35,38-40,45-52,57-59,61-69,71-75,77-90,92-95,97-98,103-106,"
    "111-115,124-125,146-147,154-155,158-159",
    ("forward references only", 40): "1-2,4-6,9-11,13-17,19-20,26-32,34-35,38-43,57-59,66-67,"
    "78-79,86-87,89-90,92-93,99-106,116-119,124-125,134-138,143-144,146-156",
    ("forward references only", 41): "1-7,9-11,13-17,26-32,34-35,38-43,57-59,66-69,78-79,81-82,"
    "86-87,89-90,92-93,97-106,109-110,116-125,134-138,143-144,146-160",
    ("relevance only", 40): "1-2,9-11,13-17,19-20,26-32,34-35,38-40,50-51,54-56,66-67,78-79,"
    "83-90,92-95,112-114,116-119,130-132,134-149,151-155",
    ("relevance only", 41): "1-2,9-11,13-17,19-20,26-32,34-35,38-40,50-51,54-56,66-67,78-79,"
    "83-88,92-95,112-114,116-119,130-132,134-138,140-144,146-149,151-155,158-159",
}


def _dropped(messages: list[dict], kept: list[dict]) -> str:
    """Dropped positions as compact ranges, e.g. ``"1-3,7"``."""
    kept_ids = {id(message) for message in kept}
    runs: list[list[int]] = []
    for position, message in enumerate(messages):
        if id(message) in kept_ids:
            continue
        if runs and runs[-1][1] == position - 1:
            runs[-1][1] = position
        else:
            runs.append([position, position])
    return ",".join(f"{a}-{b}" if a != b else str(a) for a, b in runs)


def _fit(messages: list[dict], weights: ScoringWeights, context: dict) -> str:
    manager = IntelligentContextManager(
        IntelligentContextConfig(
            output_buffer_tokens=0, compress_before_drop=False, scoring_weights=weights
        ),
        toin=_learner(messages),
    )
    budget = TOKENIZER.count_messages(messages) * 2 // 5
    result = manager.apply(messages, TOKENIZER, model_limit=budget, **context)
    assert result.tokens_after <= budget
    return _dropped(messages, result.messages)


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_same_messages_are_dropped_cold_warm_and_after_growth(case: str) -> None:
    weights, context = CASES[case]
    # the first fit of this conversation computes every feature; later ones may reuse them
    first = _conversation(40)
    assert _fit(first, weights, context) == EXPECTED_DROPPED[case, 40]
    assert _fit(first, weights, context) == EXPECTED_DROPPED[case, 40]
    assert _fit(copy.deepcopy(first), weights, context) == EXPECTED_DROPPED[case, 40]
    grown = _conversation(41)
    assert grown[: len(first) - 1] == first[:-1]  # the same history, one more turn
    assert _fit(grown, weights, context) == EXPECTED_DROPPED[case, 41]
