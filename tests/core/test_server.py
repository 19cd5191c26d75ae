"""The HTTP service's own endpoints, over real sockets: the app under uvicorn on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from headroom_core.messages import content_text
from headroom_core.samples import load_sample_conversation
from headroom_core.server import ServerSettings
from tests.support.conversations import assert_valid_request
from tests.support.servers import Served, serving

API_KEY = "test-key-123"
DATA = Path(__file__).parent.parent / "data"


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'metrics.db'}"


@pytest.fixture
def server(store_url: str) -> Iterator[Served]:
    with serving(ServerSettings(api_key=None, store_url=store_url)) as started:
        yield started


@pytest.fixture
def keyed_server(store_url: str) -> Iterator[Served]:
    with serving(ServerSettings(api_key=API_KEY, store_url=store_url)) as started:
        yield started


def call(
    server: Served, method: str, path: str, body: Any = None, **options: Any
) -> tuple[int, Any]:
    return server.call(method, path, body, **options)


def sample_request() -> dict[str, Any]:
    sample = load_sample_conversation()
    return {"messages": sample["messages"], "model": sample["model"]}


def test_health_is_open_and_reports_version(keyed_server: Served) -> None:
    status, body = call(keyed_server, "GET", "/health")
    assert status == 200
    assert body["status"] == "healthy"
    assert body["version"]


def test_compress_round_trip_saves_tokens_and_keeps_every_message(server: Served) -> None:
    request = sample_request()
    status, body = call(server, "POST", "/v1/compress", request)

    assert status == 200
    assert body["tokens_after"] < body["tokens_before"]
    assert body["tokens_saved"] == body["tokens_before"] - body["tokens_after"]
    assert body["compression_ratio"] == pytest.approx(
        body["tokens_after"] / body["tokens_before"], abs=1e-4
    )
    assert body["transforms_applied"]
    assert sum(body["transform_savings"].values()) > 0
    original, compressed = request["messages"], body["messages"]
    assert [m["role"] for m in compressed] == [m["role"] for m in original]
    assert [m.get("tool_call_id") for m in compressed] == [m.get("tool_call_id") for m in original]
    assert [m.get("tool_calls") for m in compressed] == [m.get("tool_calls") for m in original]
    assert content_text(compressed[-1]).endswith(original[-1]["content"])  # the last user turn
    kept = "\n".join(content_text(message) for message in compressed)
    assert all(fact["text"] in kept for fact in load_sample_conversation()["facts"])


def test_token_budget_fits_the_messages_without_breaking_tool_pairs(server: Served) -> None:
    status, body = call(server, "POST", "/v1/compress", {**sample_request(), "token_budget": 8000})

    assert status == 200
    assert not body["failed"]
    assert body["tokens_after"] <= 8000
    messages = body["messages"]
    assert messages[0]["role"] == "system"
    called = {c["id"] for m in messages for c in m.get("tool_calls") or []}
    answered = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
    assert called == answered


def test_a_small_budget_is_met_when_the_last_turn_fits(server: Served) -> None:
    status, body = call(server, "POST", "/v1/compress", {**sample_request(), "token_budget": 600})

    assert status == 200
    assert not body["failed"]
    assert body["tokens_after"] <= 600
    assert_valid_request(body["messages"])
    task = content_text(sample_request()["messages"][-1])
    assert task in content_text(body["messages"][-1])


def test_an_impossible_budget_is_met_best_effort_as_compress_does(server: Served) -> None:
    from headroom_core import compress

    request = {**sample_request(), "token_budget": 100}
    status, body = call(server, "POST", "/v1/compress", request)

    assert status == 200 and not body["failed"]  # no numbers the caller never set
    assert body["tokens_after"] <= compress(request["messages"], token_budget=100).tokens_after
    assert_valid_request(body["messages"])


def test_a_frozen_prefix_comes_back_byte_identical(server: Served) -> None:
    request = {**sample_request(), "config": {"frozen_message_count": 4}}
    status, body = call(server, "POST", "/v1/compress", request)
    assert status == 200
    assert body["messages"][:4] == request["messages"][:4]
    assert body["tokens_after"] < body["tokens_before"]


def test_every_compress_is_recorded_with_source_server(server: Served) -> None:
    call(server, "POST", "/v1/compress", sample_request())
    assert server.service is not None
    rows = server.service.engine.get_metrics()
    assert [row.source for row in rows] == ["server"]
    assert rows[0].tokens_saved > 0


def test_stats_count_requests_and_tokens_saved(server: Served) -> None:
    saved = [
        call(server, "POST", "/v1/compress", sample_request())[1]["tokens_saved"] for _ in range(2)
    ]
    call(server, "POST", "/v1/compress", raw=b"{not json")

    status, stats = call(server, "GET", "/stats")
    assert status == 200
    assert stats["requests"]["total"] == 2  # the caller's mistake is no failure of ours
    assert stats["requests"]["failed"] == 0
    assert stats["requests"]["by_model"] == {"gpt-4o": 2}
    assert stats["tokens"]["saved"] == sum(saved)
    assert len(stats["recent_requests"]) == 2


def test_simulate_mode_from_the_client_config(server: Served) -> None:
    request = {
        **sample_request(),
        "config": {"default_mode": "simulate", "generate_diff_artifact": True},
    }
    status, body = call(server, "POST", "/v1/compress", request)
    assert status == 200
    assert body["mode"] == "simulate"
    assert body["tokens_saved"] > 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"Authorization": "Bearer wrong"}, 401),
        ({"Authorization": f"Bearer {API_KEY}"}, 200),
    ],
)
def test_api_key_is_required_when_set(
    keyed_server: Served, headers: dict[str, str], expected: int
) -> None:
    messages = [{"role": "user", "content": "hello"}]
    status, body = call(
        keyed_server, "POST", "/v1/compress", {"messages": messages}, headers=headers
    )
    assert status == expected
    if expected == 401:
        assert body["error"]["type"] == "authentication_error"
        assert call(keyed_server, "GET", "/stats", headers=headers)[0] == 401


def test_api_key_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEADROOM_API_KEY", "from-env")
    with serving(ServerSettings(store_url=None)) as started:
        assert call(started, "GET", "/stats")[0] == 401
        assert (
            call(started, "GET", "/stats", headers={"Authorization": "Bearer from-env"})[0] == 200
        )


USER = b'[{"role": "user", "content": "x"}]'


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"messages": {"role": "user"}}', "'messages' must be a list"),
        (b'{"messages": [{"role": "wizard", "content": "x"}]}', "unknown role"),
        (b'{"messages": ' + USER + b', "token_budget": -5}', "token_budget"),
        (b'{"messages": ' + USER + b', "config": {"default_mode": "turbo"}}', "turbo"),
    ],
)
def test_bad_requests_get_the_error_the_client_raises_at_once(
    server: Served, raw: bytes, fragment: str
) -> None:
    status, body = call(server, "POST", "/v1/compress", raw=raw)
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert fragment in body["error"]["message"]


def test_an_unknown_model_is_a_400_naming_the_closest_known_ones(server: Served) -> None:
    status, body = call(server, "POST", "/v1/compress", {**sample_request(), "model": "gpt4o"})
    assert status == 400
    assert body["error"]["type"] == "invalid_request_error"
    assert body["error"]["message"].startswith(
        "Unknown model 'gpt4o'. Closest known models: gpt-4o, "
    )


def test_body_over_the_limit_gets_413_without_being_read(store_url: str) -> None:
    with serving(ServerSettings(store_url=store_url, max_body_bytes=4096)) as started:
        big = {"messages": [{"role": "user", "content": "x" * 10_000}]}
        status, body = call(started, "POST", "/v1/compress", big)
        assert status == 413
        assert body["error"]["type"] == "request_too_large"
        assert call(started, "GET", "/health")[0] == 200


def test_unknown_paths_and_methods_answer_in_the_clients_error_shape(server: Served) -> None:
    status, body = call(server, "GET", "/stats-history")
    assert status == 404 and body["error"]["type"] == "not_found_error"
    assert body["error"]["message"].startswith(
        "headroom serve does not serve GET /stats-history; it serves GET /health, GET /stats"
    )
    status, body = call(server, "GET", "/v1/compress")
    assert status == 405 and body["error"]["type"] == "invalid_request_error"
    assert "POST /v1/compress" in body["error"]["message"]


def test_concurrent_requests_are_all_served(server: Served) -> None:
    request = sample_request()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: call(server, "POST", "/v1/compress", request), range(6)))

    assert [status for status, _ in results] == [200] * 6
    assert len({body["tokens_after"] for _, body in results}) == 1  # same input, same answer
    assert call(server, "GET", "/stats")[1]["requests"]["total"] == 6


def test_a_stalled_client_does_not_block_others(server: Served) -> None:
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port))) as stalled:
        stalled.sendall(b"POST /v1/compress HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        status, body = call(server, "GET", "/health")
    assert status == 200
    assert body["status"] == "healthy"


def test_compress_names_the_keys_that_retrieve_answers(server: Served) -> None:
    cars = json.loads((DATA / "engine_cars_200.json").read_text(encoding="utf-8"))
    call_ = {"id": "c1", "type": "function", "function": {"name": "query_cars", "arguments": "{}"}}
    messages = [
        {"role": "user", "content": cars["query"]},
        {"role": "assistant", "content": None, "tool_calls": [call_]},
        {"role": "tool", "tool_call_id": "c1", "content": cars["content"]},
    ]
    status, body = call(server, "POST", "/v1/compress", {"messages": messages, "model": "gpt-4o"})

    assert status == 200
    [key] = body["ccr_hashes"]
    assert f'key "{key}"' in body["messages"][2]["content"]
    status, found = call(server, "POST", "/v1/retrieve", {"hash": key})
    assert status == 200
    rows = json.loads(cars["content"])
    assert found["count"] == len(found["results"]) > 0
    assert all(item in rows for item in found["results"])
    status, matching = call(server, "POST", "/v1/retrieve", {"hash": key, "query": "ford"})
    assert matching["results"] and all("ford" in item["Name"] for item in matching["results"])


def test_retrieve_hands_back_dropped_items(server: Served) -> None:
    from headroom_core.retrieval import default_originals_store

    assert server.service is not None
    store = default_originals_store(server.service.engine.config.retrieval)
    key = store.put(["GET /a 200", "GET /b 500 timeout", "GET /c 200"], kind="log")

    status, body = call(server, "POST", "/v1/retrieve", {"hash": key, "query": "timeout"})
    assert status == 200
    assert body["results"] == ["GET /b 500 timeout"]
    assert call(server, "POST", "/v1/retrieve", {"hash": key})[1]["count"] == 3

    status, body = call(server, "POST", "/v1/retrieve", {"hash": "no-such-key"})
    assert status == 404
    assert body["error"]["type"] == "cache_error"


def test_a_models_retrieve_call_is_answered_in_its_own_form(server: Served) -> None:
    from headroom_core.retrieval import default_originals_store

    assert server.service is not None
    store = default_originals_store(server.service.engine.config.retrieval)
    key = store.put([{"id": i, "state": "failed" if i == 7 else "ok"} for i in range(40)])
    arguments = json.dumps({"key": key, "query": "id 7"})
    openai_call = {
        "id": "call_9",
        "type": "function",
        "function": {"name": "headroom_retrieve", "arguments": arguments},
    }
    status, body = call(server, "POST", "/v1/retrieve/tool_call", {"tool_call": openai_call})
    assert status == 200 and body["success"]
    assert body["message"]["role"] == "tool" and body["message"]["tool_call_id"] == "call_9"
    assert json.loads(body["content"])["items"] == [{"id": 7, "state": "failed"}]
    anthropic_call = {"id": "toolu_1", "type": "tool_use", "name": "headroom_retrieve",
                      "input": {"key": key, "query": "state: failed"}}
    request = {"tool_call": anthropic_call, "provider": "anthropic"}
    status, body = call(server, "POST", "/v1/retrieve/tool_call", request)
    result = {"type": "tool_result", "tool_use_id": "toolu_1", "content": body["content"]}
    assert body["message"] == result
    status, stats = call(server, "GET", "/v1/retrieve/stats")
    assert status == 200 and stats["store"]["retrievals"] == 2
    assert [r["retrieval_type"] for r in stats["recent_retrievals"]] == ["tool", "tool"]


def test_prometheus_metrics_count_requests_tokens_and_latency(server: Served) -> None:
    call(server, "POST", "/v1/compress", sample_request())
    status, text = call(server, "GET", "/metrics")
    assert status == 200
    assert 'headroom_requests_total{endpoint="compress",model="gpt-4o"}' in text
    assert "headroom_tokens_saved_total" in text
    assert 'headroom_request_latency_seconds_bucket{endpoint="compress"' in text
