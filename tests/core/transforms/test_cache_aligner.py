"""CacheAligner: volatile values leave the prefix, which becomes byte-identical across requests."""

from __future__ import annotations

import copy
import json
import uuid
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headroom_core.config import CacheAlignerConfig
from headroom_core.messages import content_text
from headroom_core.providers import AnthropicProvider, OpenAIProvider
from headroom_core.providers.anthropic_format import from_anthropic, to_anthropic
from headroom_core.transforms.cache_aligner import CacheAligner, normalize_whitespace

HISTORY = [
    {"role": "user", "content": "List failing jobs."},
    {"role": "assistant", "content": "Jobs 17 and 42 failed."},
]


def _request(system: str, question: str = "Why did job 42 fail?") -> list[dict]:
    return [{"role": "system", "content": system}, *HISTORY, {"role": "user", "content": question}]


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Today is Monday, January 6, 2025.", "Today is Tuesday, January 7, 2025."),
        ("Current time: 2025-01-06T10:22:01Z.", "Current time: 2025-01-07T08:00:59Z."),
        ("Now: 2025-01-06 10:22:01.", "Now: 2025-01-06 10:22:02."),
        ("Date: Mon, 06 Jan 2025 10:22:01 +0000", "Date: Tue, 07 Jan 2025 11:00:00 +0000"),
        (
            "Request id: 123e4567-e89b-12d3-a456-426614174000",
            "Request id: 9b2f4c1e-0000-4abc-8def-1234567890ab",
        ),
        (
            "session_id=sess_8f3a91 trace-id: tr_77aa01",
            "session_id=sess_0001bb trace-id: tr_99cc02",
        ),
        ("This is request #4521 today.", "This is request #4522 today."),
        ("Generated at unix time 1736158921.", "Generated at unix time 1736245321."),
    ],
)
def test_prefix_is_identical_across_requests_that_differ_only_in_volatile_values(first, second):
    aligner = CacheAligner()
    one = aligner.align(_request(f"You are an SRE assistant. {first}"))
    two = aligner.align(_request(f"You are an SRE assistant. {second}"))
    assert one.details["moved"], first
    assert one.details["stable_prefix_hash"] == two.details["stable_prefix_hash"]
    assert one.messages[:-1] == two.messages[:-1]
    assert one.details["stable_prefix_tokens"] > 0
    # the values are not lost: they sit in the context block of the last user message
    for item in one.details["moved"]:
        assert item["value"] in content_text(one.messages[-1])
        assert f"[{item['placeholder']}]" in one.messages[0]["content"]
    assert one.messages[-1]["content"][-1] == {"type": "text", "text": "Why did job 42 fail?"}


def test_align_is_idempotent_and_does_not_mutate_input():
    messages = _request("You help.  Today is Monday, January 6, 2025.\n\n\n\nBe brief.   ")
    snapshot = copy.deepcopy(messages)
    first = CacheAligner().align(messages)
    second = CacheAligner().align(first.messages)
    assert messages == snapshot
    assert second.messages == first.messages
    assert second.transforms_applied == []
    assert second.details["stable_prefix_hash"] == first.details["stable_prefix_hash"]


def test_stable_prompt_is_left_alone():
    messages = _request("You are an SRE assistant. Be brief.")
    result = CacheAligner().align(messages)
    assert result.messages == messages
    assert result.details["moved"] == []
    assert result.transforms_applied == []


def test_whitespace_is_normalised_outside_code_fences_only():
    code = "```python\ndef f():\n    return  1   \n```\n"
    text = "Rules:   be  brief.   \n\n\n\n  - keep indent\n" + code
    assert normalize_whitespace(text) == "Rules: be brief.\n\n  - keep indent\n" + code


def test_config_switches():
    messages = _request("Today is 2025-01-06.   Be brief.")
    off = CacheAligner(CacheAlignerConfig(enabled=False)).align(messages)
    assert off.messages == messages
    dates_only = CacheAligner(CacheAlignerConfig(normalize_whitespace=False)).align(messages)
    assert dates_only.messages[0]["content"] == "Today is [date-1].   Be brief."


def test_anthropic_gets_a_cache_breakpoint_at_the_end_of_the_stable_prefix():
    system = (
        "You are an SRE assistant. "
        + "Follow the runbook carefully. " * 40
        + "Today is 2025-01-06."
    )
    result = CacheAligner(provider=AnthropicProvider()).align(_request(system))
    breakpoint_message = result.messages[-2]  # the last message before the last user message
    assert breakpoint_message["content"][-1]["cache_control"] == {"type": "ephemeral"}
    assert breakpoint_message["content"][-1]["text"] == HISTORY[-1]["content"]
    _system, converted = to_anthropic(result.messages)
    assert converted[-2]["content"][-1]["cache_control"] == {"type": "ephemeral"}
    # the hash ignores the mark, so it matches an unmarked alignment of the same request
    plain = CacheAligner().align(_request(system))
    assert plain.details["stable_prefix_hash"] == result.details["stable_prefix_hash"]
    assert (
        CacheAligner(provider=AnthropicProvider()).align(result.messages).messages
        == result.messages
    )


@pytest.mark.parametrize("where", ["system block", "tool_result block", "tool_use block"])
def test_breakpoints_the_caller_placed_are_kept_and_none_is_added(where: str) -> None:
    system = [{"type": "text", "text": "You are an SRE assistant." + " Follow the runbook." * 40}]
    call = {"type": "tool_use", "id": "t1", "name": "jobs", "input": {}}
    result_block = {"type": "tool_result", "tool_use_id": "t1", "content": "job 42 failed"}
    mark = {"cache_control": {"type": "ephemeral"}}
    target = {"system block": system[0], "tool_result block": result_block, "tool_use block": call}
    target[where].update(mark)
    messages = [
        {"role": "user", "content": "List failing jobs."},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result_block]},
        {"role": "assistant", "content": "Job 42 failed."},
        {"role": "user", "content": "Why?"},
    ]
    aligned = CacheAligner(provider=AnthropicProvider()).align(from_anthropic(messages, system))
    sent_system, sent = to_anthropic(aligned.messages)
    assert (sent_system, sent) == (system, messages)
    target[where].pop("cache_control")
    aligned = CacheAligner(provider=AnthropicProvider()).align(from_anthropic(messages, system))
    assert '"cache_control"' in json.dumps(to_anthropic(aligned.messages))


def test_no_breakpoint_below_the_minimum_or_for_openai():
    short = _request("Be brief.")
    assert CacheAligner(provider=AnthropicProvider()).align(short).messages == short
    long_system = ("Follow the runbook carefully. " * 40).strip()
    assert CacheAligner(provider=OpenAIProvider()).align(
        _request(long_system)
    ).messages == _request(long_system)


def test_without_a_user_message_the_values_go_to_a_system_note():
    messages = [{"role": "system", "content": "Today is 2025-01-06."}]
    result = CacheAligner().align(messages)
    assert result.messages == [
        {"role": "system", "content": "Today is [date-1]."},
        {"role": "system", "content": "[Context: date-1 = 2025-01-06]"},
    ]
    assert CacheAligner().align(result.messages).messages == result.messages


def test_numbers_in_the_prompt_that_are_not_volatile_stay():
    messages = _request("Use port 8080, version 3.11 and at most 25 rows.")
    assert CacheAligner().align(messages).messages == messages


_FORMATS = (
    "%Y-%m-%dT%H:%M:%SZ",
    "%Y-%m-%d %H:%M:%S",
    "%A, %B %d, %Y",
    "%a, %d %b %Y %H:%M:%S +0000",
    "%B %d, %Y at %I:%M %p",
)


def _prompt(moment: datetime, form: str, identifier: uuid.UUID, counter: int, session: str) -> str:
    return (
        f"You are the billing assistant.  Current time: {moment.strftime(form)}.\n\n\n"
        f"Trace: {identifier}. This is request #{counter}. session_id={session}\n"
        "```\nkeep   this    code\n```"
    )


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)),
        min_size=2,
        max_size=2,
    ),
    st.sampled_from(_FORMATS),
    st.lists(st.uuids(), min_size=2, max_size=2),
    st.lists(st.integers(0, 10**7), min_size=2, max_size=2),
    st.lists(st.from_regex(r"sess_[a-z0-9]{6,12}", fullmatch=True), min_size=2, max_size=2),
)
def test_prefix_is_byte_identical_whatever_the_volatile_values(
    moments, form, ids, counters, sessions
):
    aligner = CacheAligner()
    results = [
        aligner.align(_request(_prompt(moment, form, identifier, counter, session)))
        for moment, identifier, counter, session in zip(
            moments, ids, counters, sessions, strict=True
        )
    ]
    first, second = results
    assert first.messages[:-1] == second.messages[:-1]
    assert first.details["stable_prefix_hash"] == second.details["stable_prefix_hash"]
    assert "```\nkeep   this    code\n```" in first.messages[0]["content"]
    for result, moment, identifier, counter, session in zip(
        results, moments, ids, counters, sessions, strict=True
    ):
        block = result.messages[-1]["content"][0]["text"]
        for value in (moment.strftime(form), str(identifier), str(counter), session):
            assert value in block
        assert aligner.align(result.messages).messages == result.messages


def _chat(system: str) -> list[dict]:
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": "List failing jobs."},
        {"role": "assistant", "content": "Jobs 17 and 42 failed."},
        {"role": "user", "content": "Why did job 42 fail?"},
    ]


def _noted(messages: list[dict]) -> list[int]:
    return [i for i, m in enumerate(messages) if content_text(m).startswith("[Context: ")]


def test_the_context_block_stays_where_it_was_shown_while_its_values_hold() -> None:
    aligner = CacheAligner()
    system = "You help. Today is Monday, January 6, 2025."
    first = aligner.align(_chat(system)[:2]).messages
    second = aligner.align(_chat(system)).messages
    assert second[:2] == first and _noted(second) == [1]
    # another day: the block goes to the newest question (and only there)
    later = aligner.align(_chat("You help. Today is Tuesday, January 7, 2025.")).messages
    assert _noted(later) == [3]
    # a request that will be fitted keeps it on its last user message, which fitting keeps
    fitted = CacheAligner()
    fitted.align(_chat(system)[:2])
    tight = fitted.align(_chat(system), max_tokens=10).messages
    assert _noted(tight) == [3]


def test_a_block_from_an_earlier_alignment_is_never_doubled() -> None:
    system = "You help. Today is Monday, January 6, 2025."
    remembered = CacheAligner()
    remembered.align(_chat(system)[:2])
    aligned = remembered.align(_chat(system)).messages
    assert CacheAligner().align(aligned).messages == aligned  # one that does not remember
    # the raw request of a later day, with the block of an earlier alignment still on turn 1
    raw = [*aligned[:1], *aligned[1:]]
    raw[0] = {"role": "system", "content": "You help. Today is Tuesday, January 7, 2025."}
    again = CacheAligner().align(raw).messages
    assert _noted(again) == [3]
    assert sum(content_text(m).count("[Context: ") for m in again) == 1
