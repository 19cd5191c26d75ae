"""align_origins: which engine output came from which original, exactly, by origin tags."""

from __future__ import annotations

import doctest

import headroom_core.alignment
from headroom_core.alignment import (
    ORIGIN_KEY,
    AlignedMessage,
    align_origins,
    restore_messages,
    tag_origins,
)
from headroom_core.engine import HeadroomEngine
from headroom_core.messages import validate_messages
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import count_tokens_messages
from tests.support.conversations import build_conversation

# system, user, assistant calling call_1, its tool result, assistant answer, user
CONVERSATION = build_conversation(
    [
        {"user_words": 4, "exchanges": [[2]], "reply_words": 5},
        {"user_words": 4, "exchanges": [], "reply_words": 1},
    ]
)


def test_tags_are_indices_on_copies() -> None:
    tagged = tag_origins(CONVERSATION)

    assert [m[ORIGIN_KEY] for m in tagged] == list(range(len(CONVERSATION)))
    assert all(ORIGIN_KEY not in m for m in CONVERSATION)
    assert validate_messages(tagged) == tagged
    assert count_tokens_messages(tagged) == count_tokens_messages(CONVERSATION)


def test_untouched_output_maps_one_to_one() -> None:
    aligned = align_origins(tag_origins(CONVERSATION), CONVERSATION)

    assert aligned == [
        AlignedMessage(message, index, False) for index, message in enumerate(CONVERSATION)
    ]


def test_rewritten_inserted_and_dropped() -> None:
    tagged = tag_origins(CONVERSATION)
    marker = {"role": "user", "content": "[1 earlier message dropped]"}
    optimized = [tagged[0], marker, tagged[2], {**tagged[3], "content": "[1 run]"}, *tagged[4:]]

    aligned = align_origins(optimized, CONVERSATION)

    assert [(a.origin, a.content_changed) for a in aligned] == [
        (0, False),
        (None, True),
        (2, False),
        (3, True),
        (4, False),
        (5, False),
    ]
    assert aligned[3].message == {**CONVERSATION[3], "content": "[1 run]"}
    assert all(ORIGIN_KEY not in a.message for a in aligned)


def test_restore_reuses_originals_rewrites_changed_builds_inserted() -> None:
    natives = [[f"native {index}"] for index in range(len(CONVERSATION))]
    tagged = tag_origins(CONVERSATION)
    marker = {"role": "user", "content": "[1 earlier message dropped]"}
    optimized = [tagged[0], marker, {**tagged[3], "content": "[1 run]"}, tagged[5]]

    restored = restore_messages(
        optimized,
        CONVERSATION,
        natives,
        rewrite=lambda native, message: [*native, message["content"]],
        build=lambda message: ["built", message["content"]],
    )

    assert restored[0] is natives[0] and restored[3] is natives[5]
    assert restored[1] == ["built", "[1 earlier message dropped]"]
    assert restored[2] == ["native 3", "[1 run]"]


def test_identical_texts_are_told_apart_by_their_tags() -> None:
    asked_twice = [*CONVERSATION, dict(CONVERSATION[1])]
    tagged = tag_origins(asked_twice)

    aligned = align_origins([tagged[0], tagged[-1]], asked_twice)

    assert [a.origin for a in aligned] == [0, len(CONVERSATION)]


def test_a_tag_is_trusted_only_while_the_identity_holds() -> None:
    tagged = tag_origins(CONVERSATION)
    other_call = {**tagged[3], "tool_call_id": "call_2"}
    other_role = {**tagged[1], "role": "system"}
    repeated = tagged[0]

    aligned = align_origins([tagged[0], repeated, other_role, other_call], CONVERSATION)

    assert [a.origin for a in aligned] == [0, None, None, None]
    assert aligned[3].message["tool_call_id"] == "call_2"


def test_malformed_tags_mean_inserted() -> None:
    message = CONVERSATION[1]
    tags: list[object] = [None, True, -1, len(CONVERSATION), "1", 1.0]

    aligned = align_origins([{**message, ORIGIN_KEY: tag} for tag in tags], CONVERSATION)

    assert [a.origin for a in aligned] == [None] * len(tags)
    assert all(a.message == message for a in aligned)


def test_the_engine_carries_tags_through_every_transform() -> None:
    sample = load_sample_conversation()
    originals = sample["messages"]
    window = count_tokens_messages(originals) // 4
    engine = HeadroomEngine()

    result = engine.optimize(tag_origins(originals), sample["model"], model_limit=window)
    aligned = align_origins(result.messages_optimized, originals)

    origins = [a.origin for a in aligned if a.origin is not None]
    assert origins == sorted(origins)
    assert any(a.content_changed for a in aligned if a.origin is not None)
    assert len(origins) < len(originals)
    assert any(a.origin is None and ORIGIN_KEY not in a.message for a in aligned)
    assert validate_messages([a.message for a in aligned])
    for item in aligned:
        if item.origin is not None:
            original = originals[item.origin]
            assert item.message["role"] == original["role"]
            assert item.message.get("tool_call_id") == original.get("tool_call_id")
    last_user = max(i for i, m in enumerate(originals) if m["role"] == "user")
    assert last_user in origins and originals[0]["role"] == "system" and origins[0] == 0


def test_module_example_runs() -> None:
    assert doctest.testmod(headroom_core.alignment).failed == 0
