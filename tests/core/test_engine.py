"""HeadroomEngine end to end with the real transforms, tokenizer, providers and SQLite store."""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from headroom_core import engine as engine_module
from headroom_core.config import (
    HeadroomConfig,
    IntelligentContextConfig,
    RetrievalConfig,
    RollingWindowConfig,
)
from headroom_core.engine import HeadroomEngine
from headroom_core.errors import (
    ConfigurationError,
    ProviderError,
    TransformError,
    ValidationError,
)
from headroom_core.messages import content_text
from headroom_core.providers import OpenAIProvider
from headroom_core.retrieval import retrieve
from headroom_core.samples import load_sample_conversation
from headroom_core.storage import MetricsStore
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms import cache_aligner
from tests.support.cars import CARS, CARS_SYSTEM, cars_conversation


def _chat(turns: int, words: int = 60) -> list[dict]:
    messages = [{"role": "system", "content": CARS_SYSTEM}]
    for turn in range(turns):
        filler = " ".join(f"fact{turn}-{i}" for i in range(words))
        messages.append({"role": "user", "content": f"Question {turn}: {filler}"})
        messages.append({"role": "assistant", "content": f"Answer {turn}: {filler}"})
    messages.append({"role": "user", "content": "Summarise the last answer."})
    return messages


@pytest.fixture
def store(tmp_path):
    with MetricsStore(f"sqlite:///{tmp_path / 'engine.db'}") as opened:
        yield opened


def test_audit_measures_and_sends_the_messages_unchanged(store):
    messages = cars_conversation()
    engine = HeadroomEngine(store=store)
    result = engine.optimize(messages, "gpt-4o", mode="audit")

    expected = Tokenizer("gpt-4o").count_messages(messages)
    assert result.tokens_before == result.tokens_after == expected
    assert all(a is b for a, b in zip(result.messages_optimized, messages, strict=True))
    assert result.transforms_applied == [] and result.transform_savings == {}
    assert result.waste_signals.total > 0  # pretty-printed JSON wastes whitespace
    store.flush()
    [row] = store.query()
    assert (row.mode, row.tokens_saved, row.source) == ("audit", 0, "engine")


def test_optimize_compresses_a_large_json_tool_result_and_keeps_the_pairs():
    messages = cars_conversation()
    untouched = copy.deepcopy(messages)
    result = HeadroomEngine().optimize(messages, "gpt-4o")

    assert messages == untouched, "inputs are never mutated"
    assert result.tokens_after < result.tokens_before * 0.6
    out = result.messages_optimized
    assert [m["role"] for m in out][:4] == ["system", "user", "assistant", "tool"]
    assert out[0]["content"] == CARS_SYSTEM and out[1] == messages[1]
    assert out[2]["tool_calls"] == messages[2]["tool_calls"]
    assert out[3]["tool_call_id"] == "call_cars_1"
    for needle in CARS["needles"]:
        assert needle["text"] in out[3]["content"]
    assert result.tokens_after == Tokenizer("gpt-4o").count_messages(out)
    assert result.transform_savings and sum(result.transform_savings.values()) > 0
    assert len(result.request_id) == 32 and result.latency_ms > 0
    assert not result.failed


def test_optimize_reports_the_key_under_which_the_dropped_rows_are_stored():
    result = HeadroomEngine().optimize(cars_conversation(), "gpt-4o")

    [key] = result.retrieval_keys
    assert result.summary()["retrieval_keys"] == [key]
    shown = result.messages_optimized[3]["content"]
    assert f'key "{key}"' in shown
    dropped = retrieve(key)
    omitted = int(re.search(r"\[(\d+) more rows not shown", shown).group(1))
    rows = json.loads(CARS["content"])
    assert len(dropped) == omitted > 0
    assert all(item in rows for item in dropped)
    assert not any(item["Name"] == "volkswagen type 3" for item in dropped), "the answer is shown"


def test_with_retrieval_disabled_rows_are_dropped_without_a_key():
    config = HeadroomConfig(retrieval=RetrievalConfig(enabled=False))
    result = HeadroomEngine(config).optimize(cars_conversation(), "gpt-4o")

    shown = result.messages_optimized[3]["content"]
    assert re.search(r"\[\d+ more rows not shown", shown)
    assert "headroom_retrieve" not in shown
    assert result.retrieval_keys == []


def test_audit_reports_no_retrieval_key():
    result = HeadroomEngine().optimize(cars_conversation(), "gpt-4o", mode="audit")
    assert result.retrieval_keys == [] and result.summary()["retrieval_keys"] == []


def test_a_key_whose_marker_context_fitting_dropped_is_not_reported():
    config = HeadroomConfig(
        context_fitting="rolling",
        intelligent_context=IntelligentContextConfig(output_buffer_tokens=200),
    )
    messages = cars_conversation() + _chat(turns=30)[1:]
    engine = HeadroomEngine(config)

    roomy = engine.optimize(messages, "gpt-4o")
    tight = engine.optimize(messages, "gpt-4o", model_limit=2_000, keep_turns=2)

    assert len(roomy.retrieval_keys) == 1
    assert "rolling_window" in tight.transforms_applied
    assert not any(m["role"] == "tool" for m in tight.messages_optimized)
    assert tight.retrieval_keys == []


def _fitting_compresses_the_cars_result(retrieval: RetrievalConfig):
    """Context fitting, not tool-output compression, crushes the cars result (its tool skips the
    first step), so only the engine's router decides whether the dropped rows are stored."""
    config = HeadroomConfig(
        retrieval=retrieval, intelligent_context=IntelligentContextConfig(output_buffer_tokens=200)
    )
    messages = cars_conversation() + _chat(turns=2)[1:]
    return HeadroomEngine(config).optimize(
        messages,
        "gpt-4o",
        model_limit=8_000,
        keep_turns=3,
        tool_profiles={"query_cars": {"skip_compression": True}},
    )


def test_context_fitting_reports_the_keys_of_the_results_it_compressed():
    result = _fitting_compresses_the_cars_result(RetrievalConfig())

    assert result.transforms_applied == ["intelligent_context"]
    [key] = result.retrieval_keys
    shown = next(m for m in result.messages_optimized if m["role"] == "tool")["content"]
    assert f'key "{key}"' in shown
    rows = json.loads(CARS["content"])
    assert all(item in rows for item in retrieve(key))


def test_context_fitting_honours_retrieval_disabled():
    result = _fitting_compresses_the_cars_result(RetrievalConfig(enabled=False))

    assert result.transforms_applied == ["intelligent_context"]
    shown = next(m for m in result.messages_optimized if m["role"] == "tool")["content"]
    assert re.search(r"\[\d+ more rows not shown", shown)
    assert "headroom_retrieve" not in shown
    assert result.retrieval_keys == []


def test_cost_is_the_providers_estimate_before_and_after():
    provider = OpenAIProvider()
    result = HeadroomEngine(provider=provider).optimize(cars_conversation(), "gpt-4o")
    assert result.estimated_cost_before_usd == provider.estimate_cost(
        result.tokens_before, 0, "gpt-4o"
    )
    assert result.estimated_cost_after_usd == provider.estimate_cost(
        result.tokens_after, 0, "gpt-4o"
    )
    assert result.estimated_savings_usd == pytest.approx(result.tokens_saved * 2.5 / 1_000_000)


def test_simulate_plans_what_optimize_sends():
    engine = HeadroomEngine()
    optimized = engine.optimize(cars_conversation(), "gpt-4o", mode="optimize")
    simulated = engine.optimize(cars_conversation(), "gpt-4o", mode="simulate")
    assert simulated.messages_optimized == optimized.messages_optimized
    assert simulated.mode == "simulate" and simulated.tokens_after == optimized.tokens_after


def test_tool_profile_skips_compression_for_that_tool():
    messages = cars_conversation(tool="exact_export")
    result = HeadroomEngine().optimize(
        messages, "gpt-4o", tool_profiles={"exact_export": {"skip_compression": True}}
    )
    assert result.messages_optimized[3]["content"] == CARS["content"]


def test_tools_are_counted():
    tools = [
        {
            "type": "function",
            "function": {
                "name": "query_cars",
                "description": "Query the cars dataset.",
                "parameters": {"type": "object", "properties": {"limit": {"type": "integer"}}},
            },
        }
    ]
    engine = HeadroomEngine()
    messages = [{"role": "user", "content": "Which cars are light?"}]
    without = engine.optimize(messages, "gpt-4o", mode="audit")
    with_tools = engine.optimize(messages, "gpt-4o", mode="audit", tools=tools)
    assert with_tools.tokens_before == without.tokens_before + Tokenizer("gpt-4o").count_tools(
        tools
    )


@pytest.mark.parametrize("strategy", ["intelligent", "rolling"])
def test_context_fitting_runs_only_over_the_limit_and_honours_keep_turns(strategy):
    config = HeadroomConfig(
        context_fitting=strategy,
        intelligent_context=IntelligentContextConfig(output_buffer_tokens=200),
        rolling_window=RollingWindowConfig(preserve_recent_turns=1),
    )
    engine = HeadroomEngine(config)
    messages = _chat(turns=30)

    roomy = engine.optimize(messages, "gpt-4o")
    assert roomy.messages_optimized == messages
    assert not {"intelligent_context", "rolling_window"} & set(roomy.transforms_applied)

    tight = engine.optimize(messages, "gpt-4o", model_limit=2_000, keep_turns=3)
    assert tight.tokens_after <= 2_000 - 200
    assert tight.messages_optimized[0] == messages[0]
    kept_users = [m for m in tight.messages_optimized if m["role"] == "user"]
    assert kept_users[-3:] == [m for m in messages if m["role"] == "user"][-3:]
    assert {"intelligent_context", "rolling_window"} & set(tight.transforms_applied)


class _BrokenAligner(cache_aligner.CacheAligner):
    """A real CacheAligner that fails, standing in for a transform bug."""

    def apply(self, messages, tokenizer=None, **context):
        raise RuntimeError("aligner bug")


def test_fail_open_sends_the_originals_and_records_the_failure(monkeypatch, store, caplog):
    monkeypatch.setattr(cache_aligner, "CacheAligner", _BrokenAligner)
    messages = cars_conversation()
    engine = HeadroomEngine(store=store)
    with caplog.at_level(logging.WARNING, logger="headroom_core.engine"):
        result = engine.optimize(messages, "gpt-4o")

    assert result.failed and "aligner bug" in result.error
    assert all(a is b for a, b in zip(result.messages_optimized, messages, strict=True))
    assert result.tokens_after == result.tokens_before and result.transforms_applied == []
    assert result.retrieval_keys == [], "the originals sent show no marker"
    assert "cache_aligner failed" in caplog.text
    store.flush()
    [row] = store.query()
    assert row.failed and "RuntimeError: aligner bug" in row.error
    assert engine.get_summary()["failures"] == 1


def test_fail_closed_raises_a_transform_error_with_the_cause(monkeypatch):
    monkeypatch.setattr(cache_aligner, "CacheAligner", _BrokenAligner)
    engine = HeadroomEngine(HeadroomConfig(fail_open=False))
    with pytest.raises(TransformError, match="cache_aligner") as caught:
        engine.optimize(cars_conversation(), "gpt-4o")
    assert isinstance(caught.value.__cause__, RuntimeError)
    assert caught.value.details["transform"] == "cache_aligner"


def test_malformed_messages_are_the_callers_error():
    orphan = [{"role": "tool", "tool_call_id": "nope", "content": "x"}]
    with pytest.raises(ValidationError, match="Message 0"):
        HeadroomEngine().optimize(orphan, "gpt-4o")


def test_unknown_mode_names_the_allowed_values():
    with pytest.raises(ConfigurationError, match="audit, optimize, simulate"):
        HeadroomEngine().optimize([{"role": "user", "content": "hi"}], "gpt-4o", mode="fast")


def test_bad_keep_turns_is_a_configuration_error_not_a_silent_fallback():
    with pytest.raises(ConfigurationError, match="keep_turns"):
        HeadroomEngine().optimize([{"role": "user", "content": "hi"}], "gpt-4o", keep_turns=0)


async def test_an_unknown_model_is_the_callers_error_in_every_mode():
    engine = HeadroomEngine(HeadroomConfig(fail_open=True))
    for mode in ("audit", "optimize", "simulate"):
        with pytest.raises(ProviderError, match=r"Unknown model 'gpt4o'\. Closest .*gpt-4o"):
            engine.optimize(cars_conversation(), "gpt4o", mode=mode)
    with pytest.raises(ProviderError, match="fallback_context_limit"):
        await engine.aoptimize(cars_conversation(), "gpt-5-ultra-nonexistent")
    assert engine.get_stats()["session"]["requests"] == 0


def test_a_provider_with_fallbacks_optimizes_a_model_no_catalogue_knows():
    provider = OpenAIProvider(fallback_context_limit=64_000, fallback_encoding="cl100k_base")
    engine = HeadroomEngine(provider=provider)
    result = engine.optimize(cars_conversation(), "gpt-5-ultra-nonexistent")
    assert 0 < result.tokens_after < result.tokens_before
    assert result.tokens_before == Tokenizer("gpt-4").count_messages(cars_conversation())
    assert result.estimated_cost_before_usd is None  # no price is guessed for it


def test_sent_unchanged_is_a_failed_result_with_the_original_messages(caplog):
    engine = HeadroomEngine()
    messages = cars_conversation()
    error = ProviderError("Unknown model 'my-llama'.")
    with caplog.at_level(logging.WARNING, logger="headroom_core.engine"):
        result = engine.sent_unchanged(messages, "my-llama", error, "optimize")
    assert result.failed and result.error == "ProviderError: Unknown model 'my-llama'."
    assert result.messages_optimized == messages and result.transforms_applied == []
    assert (result.model, result.mode) == ("my-llama", "optimize")
    assert "request to my-llama; sending it unchanged" in caplog.text
    engine.record(result)
    assert engine.get_summary()["failures"] == 1


def test_summary_and_stats_add_up_over_calls(store):
    engine = HeadroomEngine(store=store)
    results = [
        engine.optimize(cars_conversation(), "gpt-4o"),
        engine.optimize(_chat(2), "gpt-4o-mini"),
        engine.optimize(cars_conversation(), "gpt-4o", mode="audit"),
    ]
    summary = engine.get_summary()
    assert summary["total_requests"] == 3
    assert summary["total_tokens_saved"] == sum(r.tokens_saved for r in results)
    assert summary["total_tokens_before"] == sum(r.tokens_before for r in results)
    assert summary["total_cost_saved_usd"] == pytest.approx(
        sum(r.estimated_savings_usd for r in results)
    )
    stats = engine.get_stats()
    assert stats["session"]["requests"] == 3
    assert stats["session"]["by_mode"] == {"audit": 1, "optimize": 2, "simulate": 0}
    assert sum(stats["transforms"].values()) == sum(
        sum(r.transform_savings.values()) for r in results
    )
    metrics = engine.get_metrics(model="gpt-4o-mini")
    assert [m.request_id for m in metrics] == [results[1].request_id]


def test_message_content_is_stored_only_when_enabled(tmp_path):
    url = f"sqlite:///{tmp_path / 'content.db'}"
    messages = [{"role": "user", "content": "order 7731 is late"}]
    for config in (HeadroomConfig(), HeadroomConfig(store_message_content=True)):
        engine = HeadroomEngine(config, store_url=url)
        engine.optimize(messages, "gpt-4o")
        engine.close()  # flushes the rows it queued
    with MetricsStore(url) as store:
        contents = [row.content for row in store.query()]
    assert None in contents
    assert {"original": messages, "optimized": messages} in contents


@pytest.mark.parametrize("threshold", [10**9, 0], ids=["inline", "worker-thread"])
async def test_aoptimize_matches_optimize(monkeypatch, threshold):
    monkeypatch.setattr(engine_module, "ASYNC_THREAD_THRESHOLD_CHARS", threshold)
    engine = HeadroomEngine()
    sync = engine.optimize(cars_conversation(), "gpt-4o", request_id="same")
    asynchronous = await engine.aoptimize(cars_conversation(), "gpt-4o", request_id="same")
    assert asynchronous.messages_optimized == sync.messages_optimized
    assert asynchronous.tokens_after == sync.tokens_after
    assert (
        asynchronous.retrieval_keys and asynchronous.transforms_applied == sync.transforms_applied
    )
    assert engine.get_stats()["session"]["requests"] == 2


async def test_an_unknown_option_is_a_type_error_in_both_forms():
    engine = HeadroomEngine()
    with pytest.raises(TypeError, match="quer"):
        engine.optimize(cars_conversation(), "gpt-4o", quer="typo")
    with pytest.raises(TypeError, match="quer"):
        await engine.aoptimize(cars_conversation(), "gpt-4o", quer="typo")


def test_one_engine_shared_by_threads_counts_every_request(store):
    engine = HeadroomEngine(store=store)
    conversations = [_chat(turns=2 + i % 3) for i in range(8)]

    def run(messages: list[dict]) -> list[int]:
        return [engine.optimize(messages, "gpt-4o").tokens_before for _ in range(50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        before = [n for counts in pool.map(run, conversations) for n in counts]
    summary = engine.get_summary()
    assert summary["total_requests"] == engine.get_stats()["session"]["requests"] == 400
    assert summary["total_tokens_before"] == sum(before)
    assert store.stats()["dropped"] == store.stats()["failed"] == 0


@pytest.mark.postgres
def test_engine_records_into_postgres_with_the_url_alone(postgres_url):
    engine = HeadroomEngine(store_url=postgres_url, source=f"engine-{uuid.uuid4().hex[:10]}")
    result = engine.optimize(cars_conversation(), "gpt-4o")
    assert engine.store.flush()
    [row] = engine.store.query(source=engine.source)
    assert (row.request_id, row.tokens_saved) == (result.request_id, result.tokens_saved)
    assert row.transform_savings == result.transform_savings
    engine.close()


def test_a_token_budget_is_met_best_effort_like_compress() -> None:
    from headroom_core import compress
    from headroom_core.samples import load_sample_conversation

    messages = load_sample_conversation()["messages"]
    engine = HeadroomEngine()
    fitted = engine.optimize(messages, "gpt-4o", token_budget=3_000)
    assert fitted.tokens_after <= 3_000
    tiny = engine.optimize(messages, "gpt-4o", token_budget=100)  # below any minimum: no error
    best = compress(messages, token_budget=100).tokens_after
    assert not tiny.failed and tiny.tokens_after <= best


def test_a_frozen_prefix_comes_back_byte_identical() -> None:
    from headroom_core.samples import load_sample_conversation

    messages = load_sample_conversation()["messages"]
    result = HeadroomEngine().optimize(messages, "gpt-4o", frozen_message_count=4)
    assert result.messages_optimized[:4] == messages[:4]  # the first tool output too
    assert result.tokens_after < result.tokens_before
    later = [m for m in result.messages_optimized[4:] if m["role"] == "tool"]
    assert any(m not in messages for m in later)  # what follows is still compressed


def test_documents_named_by_the_caller_are_crushed_in_place_for_the_query():
    from pathlib import Path

    prose = Path(__file__).resolve().parents[1] / "data" / "prose"
    document = (prose / "Apache-2.0.txt").read_text(encoding="utf-8")
    case = json.loads((prose / "cases.json").read_text(encoding="utf-8"))["Apache-2.0.txt"]
    question = case["query"]
    template = "Context information is below.\n---\n{}\n---\nAnswer from the context only."
    messages = [
        {"role": "system", "content": template.format(document)},
        {"role": "user", "content": question},
    ]

    result = HeadroomEngine().optimize(
        messages,
        "gpt-4o",
        documents=[document, "a text that is not in the request"],
        retrieval=False,
    )

    system, user = result.messages_optimized
    assert user == messages[1]
    assert system["content"].startswith("Context information is below.\n---\n")
    assert system["content"].endswith("\n---\nAnswer from the context only.")
    assert all(needle in system["content"] for needle in case["needles"])
    assert "headroom_retrieve" not in system["content"]
    assert result.tokens_after < result.tokens_before / 2
    assert result.transform_savings["document"] == result.tokens_saved
    frozen = HeadroomEngine().optimize(
        messages, "gpt-4o", documents=[document], frozen_message_count=1
    )
    assert frozen.messages_optimized[0] == messages[0]


def test_a_frozen_prefix_stays_in_place_when_fitting_drops_messages():
    from headroom_core.samples import load_sample_conversation

    messages = load_sample_conversation()["messages"]

    result = HeadroomEngine().optimize(
        messages, "gpt-4o", frozen_message_count=4, model_limit=22_000
    )

    assert result.messages_optimized[:4] == messages[:4]
    assert result.tokens_after < 22_000


@pytest.mark.parametrize("context_fitting", ["intelligent", "rolling"])
def test_fitting_puts_its_note_after_a_frozen_prefix(context_fitting):
    turns = [
        [{"role": "user", "content": f"question {n}: " + "context " * 400},
         {"role": "assistant", "content": f"answer {n}"}]
        for n in range(12)
    ]
    messages = [{"role": "system", "content": "You are terse."}]
    messages += [message for turn in turns for message in turn]
    engine = HeadroomEngine(HeadroomConfig(context_fitting=context_fitting))

    result = engine.optimize(messages, "gpt-4o", frozen_message_count=3, model_limit=8_000)

    sent = result.messages_optimized
    assert sent[:3] == messages[:3]
    assert "Earlier conversation omitted" in sent[3]["content"]
    assert len(sent) < len(messages)


def test_each_turn_of_a_chat_repeats_what_the_previous_request_sent() -> None:
    # the shipped conversation: three user turns, tool outputs in each, a date and a time in
    # the system prompt. Every request an application sends is the previous one plus the new
    # messages; what Headroom sent for the earlier ones must come back byte for byte.
    messages = load_sample_conversation()["messages"]
    turns = [index for index, message in enumerate(messages) if message["role"] == "user"]
    ends = [*turns[1:], len(messages)]
    engine = HeadroomEngine()
    sent = [engine.optimize(messages[:end], "gpt-4o").messages_optimized for end in ends]
    for earlier, later in itertools.pairwise(sent):
        assert later[: len(earlier)] == earlier
    assert all("[Context: " in content_text(request[turns[0]]) for request in sent)
