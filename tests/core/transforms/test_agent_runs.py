"""Fitting one agent task step after step: real tool outputs, the engine as adapters call it.

Request k is the run up to tool result k. The run's messages come from ``tests/data`` (loghub
logs, GitHub workflow runs, Python source, grep output, a README, vega cars rows).
"""

from __future__ import annotations

import re
from itertools import pairwise
from typing import Any

import pytest

from headroom_core.config import HeadroomConfig, RetrievalConfig
from headroom_core.engine import HeadroomEngine
from headroom_core.errors import ConfigurationError, ContextOverflowError
from headroom_core.messages import content_text
from headroom_core.retrieval import InMemoryOriginalsStore, retrieve
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms._task_fitting import describe_stub, is_stub, problem_lines
from headroom_core.transforms.intelligent_context import IntelligentContextManager
from headroom_core.transforms.router import ContentRouter
from headroom_core.transforms.tool_outputs import ToolOutputCompressor
from tests.support.agent_runs import TASK, agent_run
from tests.support.conversations import assert_valid_request

MODEL = "gpt-4o"
BUFFER = 4000
TOKENIZER = get_tokenizer(MODEL)
MESSAGES, ENDS = agent_run()
RUN_TOKENS = TOKENIZER.count_messages(MESSAGES)
KEY_RE = re.compile(r'headroom_retrieve with key "([0-9a-f]+)"')


def _limit(share: float) -> int:
    return int(RUN_TOKENS * share) + BUFFER


def _replay(engine: HeadroomEngine, limit: int, **options: Any) -> list[list[dict[str, Any]]]:
    return [
        engine.optimize(MESSAGES[:end], MODEL, model_limit=limit, **options).messages_optimized
        for end in ENDS
    ]


def _tool_texts(messages: list[dict[str, Any]]) -> dict[str, str]:
    return {m["tool_call_id"]: content_text(m) for m in messages if m["role"] == "tool"}


@pytest.mark.parametrize("share", [0.6, 0.4, 0.1])
def test_every_step_fits_stays_valid_and_keeps_the_task_and_the_newest_output(
    share: float,
) -> None:
    limit = _limit(share)
    compressor = ToolOutputCompressor()
    for end, sent in zip(ENDS, _replay(HeadroomEngine(), limit), strict=True):
        assert TOKENIZER.count_messages(sent) <= limit - BUFFER
        assert_valid_request(sent)
        assert TASK in content_text(sent[1])
        newest = compressor.apply(MESSAGES[:end], TOKENIZER).messages[-1]
        assert sent[-1] == newest  # the newest output as compressed normally


def test_older_outputs_become_stubs_that_keep_their_call_problem_lines_and_key() -> None:
    sent = _replay(HeadroomEngine(), _limit(0.1))[-1]

    stubs = [m for m in sent if m["role"] == "tool" and is_stub(content_text(m))]
    assert stubs, "a 10% window needs stubs"
    originals = _tool_texts(MESSAGES)
    for stub in stubs:
        text = content_text(stub)
        assert stub["tool_call_id"] in originals
        assert re.match(r"\[Output of \w+\(\{", text)
        key = KEY_RE.search(text)
        assert key is not None
        assert "\n".join(retrieve(key[1])) == originals[stub["tool_call_id"]]
    # the HDFS log and the auth log had problem lines; their stubs repeat them verbatim
    auth = next(s for s in stubs if "auth.log" in content_text(s))
    assert "authentication failure" in content_text(auth)


def test_lowered_exchanges_are_sent_again_byte_for_byte_and_in_few_batches() -> None:
    steps = _replay(HeadroomEngine(), _limit(0.1))
    changes = 0
    for before, after in pairwise(steps):
        old = _tool_texts(before)
        new = _tool_texts(after)
        if any(new[call_id] != text for call_id, text in old.items()):
            changes += 1
    assert 0 < changes <= len(steps) // 2


def test_a_step_reuses_the_crushes_of_earlier_steps() -> None:
    engine = HeadroomEngine()
    first = engine.optimize(MESSAGES[: ENDS[-2]], MODEL).messages_optimized
    second = engine.optimize(MESSAGES, MODEL).messages_optimized
    crushed = [i for i, m in enumerate(first) if m["content"] is not MESSAGES[i]["content"]]
    assert len(crushed) >= 5
    for i in crushed:  # the text remembered from the first step, not a recomputation
        assert second[i]["content"] is first[i]["content"]


def test_retrieval_off_stubs_name_no_key() -> None:
    config = HeadroomConfig(retrieval=RetrievalConfig(enabled=False))
    sent = _replay(HeadroomEngine(config), _limit(0.1))[-1]
    stubs = [content_text(m) for m in sent if m["role"] == "tool" and is_stub(content_text(m))]
    assert stubs
    assert not any("headroom_retrieve" in text for text in stubs)


def test_a_request_whose_minimum_cannot_fit_raises_naming_the_sizes_even_failing_open() -> None:
    engine = HeadroomEngine(HeadroomConfig(fail_open=True))
    with pytest.raises(ContextOverflowError) as caught:
        engine.optimize(MESSAGES, MODEL, model_limit=BUFFER + 300)
    assert "the budget is 300" in caught.value.message
    assert caught.value.details["minimum_tokens"] > 300
    assert caught.value.details["model_limit"] == BUFFER + 300


def test_fitting_disabled_raises_instead_of_sending_a_request_known_too_big() -> None:
    config = HeadroomConfig()
    config.intelligent_context.enabled = False
    with pytest.raises(ContextOverflowError, match="context fitting is disabled"):
        HeadroomEngine(config).optimize(MESSAGES, MODEL, model_limit=_limit(0.1))


def test_keep_last_tool_exchanges_is_a_per_request_option() -> None:
    sent = HeadroomEngine().optimize(
        MESSAGES, MODEL, model_limit=_limit(0.15), keep_last_tool_exchanges=4
    ).messages_optimized
    compressed = ToolOutputCompressor().apply(MESSAGES, TOKENIZER).messages
    assert sent[-8:] == compressed[-8:]  # the last four exchanges as compressed normally
    with pytest.raises(ConfigurationError, match="keep_last_tool_exchanges"):
        HeadroomEngine().optimize(MESSAGES, MODEL, keep_last_tool_exchanges=0)


def test_an_expired_key_is_stored_again_before_a_stub_is_sent_again() -> None:
    now = [0.0]
    store = InMemoryOriginalsStore(ttl_seconds=60, clock=lambda: now[0])
    manager = IntelligentContextManager(router=ContentRouter(store=store))
    first = manager.apply(MESSAGES, TOKENIZER, model_limit=_limit(0.3)).messages
    keys = {key for m in first for key in KEY_RE.findall(content_text(m))}
    assert keys
    now[0] = 120.0  # every key has expired
    second = manager.apply(MESSAGES, TOKENIZER, model_limit=_limit(0.3)).messages
    assert second == first  # the same text again, its originals stored anew
    for key in keys:
        assert store.get(key) is not None


def test_stub_text_and_problem_lines() -> None:
    lines = problem_lines(
        "INFO ok\nERROR disk full on /dev/sda1\nINFO ok\nERROR disk full on /dev/sda1\n"
        + "\n".join(f"WARN retry {i} failed" for i in range(20))
    )
    assert lines[0] == "ERROR disk full on /dev/sda1"
    assert lines[-1].startswith("[and ") and "more problem lines" in lines[-1]
    stub = describe_stub(
        tool_name="read_log",
        arguments='{"path": "app.log"}',
        tokens=5120,
        kind="log",
        lines=800,
        problem_lines=lines[:1],
        retrieval_key="abc123",
    )
    assert is_stub(stub)
    assert "5,120 tokens of log, 800 lines" in stub
    assert 'call headroom_retrieve with key "abc123"' in stub
    assert not is_stub("[Output of the day] was fine")
