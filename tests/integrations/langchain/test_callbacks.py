"""HeadroomCallbackHandler and headroom_savings(): the same numbers as the metrics store."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.outputs import ChatGeneration, LLMResult

from headroom_core.samples import load_sample_conversation
from headroom_integrations.langchain import (
    HeadroomCallbackHandler,
    HeadroomChatModel,
    HeadroomTransformer,
    headroom_savings,
)
from tests.integrations.langchain._lc_models import ScriptedChatModel


@pytest.fixture
def conversation() -> list[BaseMessage]:
    return convert_to_messages(load_sample_conversation()["messages"])


def test_handler_agrees_with_the_metrics_store(
    conversation: list[BaseMessage], tmp_path: Path
) -> None:
    llm = HeadroomChatModel(ScriptedChatModel(), store_url=f"sqlite:///{tmp_path / 'm.db'}")
    handler = HeadroomCallbackHandler()

    llm.invoke(conversation, config={"callbacks": [handler]})
    llm.invoke(conversation[:4], config={"callbacks": [handler]})
    store = llm.headroom_engine.store
    store.flush()
    summary = store.summary()
    llm.headroom_engine.close()

    assert handler.total["requests"] == summary["total_requests"] == 2
    assert handler.total["tokens_saved"] == summary["total_tokens_saved"] > 0
    assert handler.total["estimated_savings_usd"] == pytest.approx(summary["total_cost_saved_usd"])


def test_one_count_per_request_across_a_chain(conversation: list[BaseMessage]) -> None:
    chain = HeadroomTransformer() | HeadroomChatModel(ScriptedChatModel())
    handler = HeadroomCallbackHandler()

    chain.invoke(conversation, config={"callbacks": [handler]})

    runs = handler.per_run
    assert handler.total["requests"] == 2
    assert len(runs) == 2
    first, second = runs.values()
    assert first["tokens_saved"] > 0
    assert second["tokens_saved"] == 0  # the model received already optimized messages
    assert handler.total["transform_savings"]["smart_crusher"] > 0


def test_headroom_savings_context_manager(conversation: list[BaseMessage]) -> None:
    llm = HeadroomChatModel(ScriptedChatModel())

    with headroom_savings() as savings:
        llm.invoke(conversation)
        list(llm.stream(conversation))
    llm.invoke(conversation[:2])

    assert savings.total["requests"] == 2
    assert savings.total["tokens_saved"] > 0


def test_thread_safe_and_deduplicated() -> None:
    handler = HeadroomCallbackHandler()
    summaries = [
        {"request_id": f"r{i}", "tokens_before": 10, "tokens_after": 4, "tokens_saved": 6}
        for i in range(200)
    ]

    def hear_twice(chunk: list[dict]) -> None:
        for summary in chunk:
            handler.on_custom_event("headroom_savings", summary, run_id=None)
            message = (
                ScriptedChatModel()
                .replies[0]
                .model_copy(update={"response_metadata": {"headroom": summary}})
            )
            handler.on_llm_end(
                LLMResult(generations=[[ChatGeneration(message=message)]]), run_id=None
            )

    threads = [threading.Thread(target=hear_twice, args=(summaries[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert handler.total["requests"] == 200
    assert handler.total["tokens_saved"] == 1200
    assert handler.total["savings_percent"] == 60.0
    handler.reset()
    assert handler.total["requests"] == 0


def test_other_events_are_ignored() -> None:
    handler = HeadroomCallbackHandler()

    handler.on_custom_event("progress", {"tokens_saved": 5}, run_id=None)

    assert handler.total["requests"] == 0
