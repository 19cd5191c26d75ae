"""Turn and tool-pair grouping shared by the fitting transforms."""

from __future__ import annotations

from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms._units import (
    OmissionMarker,
    Option,
    assemble,
    keep_within_budget,
    split_conversation,
)

TOKENIZER = get_tokenizer("gpt-4o")


def _call(call_id: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": "f", "arguments": "{}"}}


MESSAGES = [
    {"role": "system", "content": "Be brief."},
    {"role": "assistant", "content": None, "tool_calls": [_call("boot")]},  # before any user turn
    {"role": "tool", "tool_call_id": "boot", "content": "ready"},
    {"role": "user", "content": "First?"},
    {"role": "assistant", "content": "Checking.", "tool_calls": [_call("a"), _call("b")]},
    {"role": "tool", "tool_call_id": "b", "content": "B"},
    {"role": "tool", "tool_call_id": "a", "content": "A"},
    {"role": "assistant", "content": "Both done."},
    {"role": "user", "content": "Second?"},
]


def test_units_keep_calls_with_all_their_results_and_turns_start_at_user_messages():
    conversation = split_conversation(MESSAGES)
    assert [(u.start, u.stop, u.kind) for u in conversation.system] == [(0, 1, "system")]
    assert [[(u.start, u.stop, u.kind) for u in turn.units] for turn in conversation.turns] == [
        [(1, 3, "tool")],
        [(3, 4, "user"), (4, 7, "tool"), (7, 8, "reply")],
        [(8, 9, "user")],
    ]


def test_marker_round_trips_its_counts():
    marker = OmissionMarker(messages=12, turns=3, tokens=45_678)
    message = marker.message()
    assert OmissionMarker.is_marker(message)
    assert OmissionMarker.parse(message) == marker
    assert not OmissionMarker.is_marker({"role": "user", "content": message["content"]})


def test_keep_within_budget_reports_exact_tokens_and_what_it_dropped():
    conversation = split_conversation(MESSAGES)
    total = TOKENIZER.count_messages(MESSAGES)
    last_turn = list(conversation.turns[-1].indices)
    options = [Option(turn.indices) for turn in reversed(conversation.turns[:-1])]
    fit = keep_within_budget(
        MESSAGES,
        conversation,
        total - 1,
        TOKENIZER,
        fixed=[0, *last_turn],
        options=options,
        total=total,
        skip_misfits=False,
    )
    kept = assemble(MESSAGES, conversation, fit.dropped, fit.marker)
    assert fit.tokens == TOKENIZER.count_messages(kept) <= total - 1
    assert fit.dropped and fit.marker is not None
    assert fit.marker.messages == len(fit.dropped) == len(MESSAGES) + 1 - len(kept)
    assert fit.dropped_tokens == total - TOKENIZER.count_messages(
        [m for m in kept if m is not kept[1]]
    )
