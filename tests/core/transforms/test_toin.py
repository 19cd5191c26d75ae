"""ToolImportanceLearner: what it counts, its prior, persistence and thread safety."""

from __future__ import annotations

import json
import threading

import pytest

from headroom_core.errors import StorageError
from headroom_core.transforms.toin import ToolImportanceLearner, salient_terms


def _exchange(call_id: str, tool: str, result: str, reply: str) -> list[dict]:
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": call_id, "type": "function", "function": {"name": tool, "arguments": "{}"}}
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": result},
        {"role": "assistant", "content": reply},
    ]


CONVERSATION = [
    {"role": "user", "content": "Find the failing order and check the weather."},
    *_exchange(
        "c1", "list_orders", '[{"id": "ord_8812", "status": "failed"}]', "Order ord_8812 failed."
    ),
    *_exchange("c2", "weather", '{"city": "Oslo", "temp_c": "-3.5"}', "I will not need that."),
]


def test_counts_results_a_later_assistant_message_quoted():
    learner = ToolImportanceLearner()
    assert learner.observe(CONVERSATION) == {"list_orders": 1, "weather": 0}
    assert learner.stats() == {
        "list_orders": {"seen": 1, "used": 1},
        "weather": {"seen": 1, "used": 0},
    }
    assert (
        learner.importance("list_orders")
        > learner.importance("unseen")
        > learner.importance("weather")
    )
    assert learner.importance("unseen") == pytest.approx(0.5)


def test_quoting_in_tool_call_arguments_counts_as_use():
    messages = [
        {"role": "user", "content": "go"},
        *_exchange("c1", "find_user", '{"user_id": "u_4411"}', "Found."),
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "get_orders", "arguments": '{"user": "u_4411"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c2", "content": "[]"},
    ]
    assert ToolImportanceLearner().observe(messages)["find_user"] == 1


def test_evidence_moves_importance_away_from_the_prior():
    learner = ToolImportanceLearner(prior=0.5, prior_weight=2.0)
    for _ in range(8):
        learner.observe(CONVERSATION)
    assert learner.importance("list_orders") == pytest.approx((8 + 1) / (8 + 2))
    assert learner.importance("weather") == pytest.approx(1 / 10)


def test_persists_atomically_and_reloads(tmp_path):
    path = tmp_path / "state" / "toin.json"
    ToolImportanceLearner(path).observe(CONVERSATION)
    assert json.loads(path.read_text())["tools"]["list_orders"] == {"seen": 1, "used": 1}
    assert [p.name for p in path.parent.iterdir()] == ["toin.json"]  # no temp file left behind
    reloaded = ToolImportanceLearner(path)
    assert reloaded.stats() == ToolImportanceLearner(path).stats()
    assert reloaded.importance("list_orders") > reloaded.importance("weather")


def test_corrupt_state_is_a_clear_error(tmp_path):
    path = tmp_path / "toin.json"
    path.write_text("{not json")
    with pytest.raises(StorageError) as error:
        ToolImportanceLearner(path)
    assert str(path) in str(error.value)


def test_concurrent_observers_lose_no_count(tmp_path):
    learner = ToolImportanceLearner(tmp_path / "toin.json")
    threads = [
        threading.Thread(target=lambda: [learner.observe(CONVERSATION) for _ in range(10)])
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert learner.stats()["list_orders"] == {"seen": 40, "used": 40}
    assert ToolImportanceLearner(tmp_path / "toin.json").stats()["list_orders"]["seen"] == 40


def test_salient_terms_are_identifiers_not_words():
    assert salient_terms("Order ord_8812 failed on node-7 at v2.1, see /var/log/app.log") == {
        "ord_8812",
        "node-7",
        "v2.1",
        "var/log/app.log",
    }
