"""Turn features are remembered by content: reused for unchanged turns, never stale."""

from __future__ import annotations

import copy
import json

from headroom_core.config import IntelligentContextConfig, ScoringWeights
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._turn_features import turn_features
from headroom_core.transforms._units import split_conversation
from headroom_core.transforms.intelligent_context import IntelligentContextManager
from tests.support.conversations import build_conversation, tool_output

TOKENIZER = get_tokenizer("gpt-4o")
TURN = {"user_words": 12, "exchanges": [[6], [4, 3]], "reply_words": 20}
ERRORS_ONLY = ScoringWeights(
    recency=0.0, relevance=0.0, role=0.0, tool_value=0.0, error=1.0, forward_reference=0.0
)


def _manager(weights: ScoringWeights = ERRORS_ONLY) -> IntelligentContextManager:
    return IntelligentContextManager(
        IntelligentContextConfig(
            output_buffer_tokens=0, compress_before_drop=False, scoring_weights=weights
        )
    )


def test_a_grown_conversation_reuses_the_features_of_its_earlier_turns() -> None:
    messages = build_conversation([TURN] * 5)
    grown = [
        *copy.deepcopy(messages),
        {"role": "assistant", "content": "A4: done."},
        {"role": "user", "content": "Q5: and now?"},
    ]
    before = split_conversation(messages).turns
    after = split_conversation(grown).turns
    for turn in before[:-1]:  # the last turn of the shorter request gained a reply
        first = turn_features(messages, turn, TOKENIZER)
        assert turn_features(grown, turn, TOKENIZER) is first
        assert list(first.tokens) == [
            TOKENIZER.count_message(m) for m in messages[turn.start : turn.stop]
        ]
    last = before[-1]
    grown_last = after[len(before) - 1]
    assert grown_last.stop > last.stop
    assert turn_features(grown, grown_last, TOKENIZER) is not turn_features(
        messages, last, TOKENIZER
    )


def test_a_message_edited_in_place_is_seen_on_the_next_fit() -> None:
    messages = build_conversation([TURN] * 6)
    for message in messages:  # no error words anywhere to begin with
        if message["role"] == "tool":
            message["content"] = message["content"].replace("ERROR", "INFO").replace("failed", "ok")
    budget = TOKENIZER.count_messages(messages) // 2
    target = next(i for i, m in enumerate(messages) if m["role"] == "tool")
    first = _manager().apply(messages, TOKENIZER, model_limit=budget)
    assert all(m is not messages[target] for m in first.messages)  # oldest result goes first

    messages[target]["content"] += "\nERROR payment-gateway refused connection"
    second = _manager().apply(messages, TOKENIZER, model_limit=budget)
    assert any(m is messages[target] for m in second.messages)
    assert second.tokens_after == TOKENIZER.count_messages(second.messages) <= budget


def _shared_call_id_conversation() -> list[dict]:
    """Turns 1 and 5 make a call with the same id; only the first is answered."""
    messages: list[dict] = [{"role": "system", "content": "Ops assistant."}]
    for n in range(8):
        call_id = "call_shared" if n in (1, 5) else f"call_{n}"
        tool = "search_logs" if n % 2 else "list_orders"
        arguments = json.dumps({"shard": f"kestrel_{n}"})
        messages.append({"role": "user", "content": f"Q{n}: check shard kestrel_{n}"})
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": tool, "arguments": arguments},
                    }
                ],
            }
        )
        if n != 5:
            content = tool_output(tool, n, 20)
            messages.append({"role": "tool", "tool_call_id": call_id, "content": content})
        messages.append({"role": "assistant", "content": f"A{n}: shard kestrel_{n} looked fine"})
    messages.append({"role": "user", "content": "What about kestrel_5 and search_logs?"})
    return messages


def test_a_call_id_made_in_two_turns_reads_the_last_call_as_before() -> None:
    """A result is described by the last call made with its id, in the whole request.

    Recorded with the implementation that computed every feature on every call.
    """
    messages = _shared_call_id_conversation()
    budget = TOKENIZER.count_messages(messages) // 2
    relevance_only = ScoringWeights(
        recency=0.0, relevance=1.0, role=0.0, tool_value=0.0, error=0.0, forward_reference=0.0
    )
    for weights, expected in (
        (ScoringWeights(), [2, 3, 10, 11, 14, 15, 18, 19]),
        (relevance_only, [2, 3, 10, 11, 14, 15, 25, 26]),
    ):
        for _ in range(2):  # cold, then with every turn remembered
            kept = {
                id(m)
                for m in _manager(weights).apply(messages, TOKENIZER, model_limit=budget).messages
            }
            assert [i for i, m in enumerate(messages) if id(m) not in kept] == expected


class _PaddedCounter(Tokenizer):
    """A counter that charges every message ten tokens more (a provider's own accounting)."""

    def count_message(self, message: dict) -> int:
        return super().count_message(message) + 10


def test_features_are_remembered_per_kind_of_counter() -> None:
    messages = build_conversation([TURN] * 2)
    turn = split_conversation(messages).turns[0]
    plain = turn_features(messages, turn, TOKENIZER)
    padded = turn_features(messages, turn, _PaddedCounter("gpt-4o"))
    assert [count + 10 for count in plain.tokens] == list(padded.tokens)
