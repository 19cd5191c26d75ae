"""The OpenAI- and Anthropic-compatible proxy against a loopback upstream (real HTTP both ways)."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from headroom_core.providers.anthropic_format import to_anthropic
from headroom_core.samples import load_sample_conversation
from headroom_core.server import ServerSettings
from headroom_core.tokenizer import count_tokens_messages
from tests.support.openai_server import RecordingLLMServer
from tests.support.servers import Served, serving

KEY = "headroom-key"
PROVIDER = {"Authorization": "Bearer sk-provider"}


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingLLMServer]:
    with RecordingLLMServer() as running:
        yield running


@pytest.fixture
def proxy(upstream: RecordingLLMServer, tmp_path: Path) -> Iterator[Served]:
    settings = ServerSettings(
        api_key=KEY,
        store_url=f"sqlite:///{tmp_path / 'metrics.db'}",
        openai_api_url=upstream.openai_base_url,
        anthropic_api_url=upstream.origin,
    )
    with serving(settings) as served:
        yield served


def _sample() -> list[dict]:
    return load_sample_conversation()["messages"]


def _rows(proxy: Served) -> list:
    assert proxy.service is not None
    return proxy.service.engine.get_metrics()


def test_chat_completions_are_compressed_and_relayed_with_the_callers_key(
    proxy: Served, upstream: RecordingLLMServer
) -> None:
    first = len(upstream.requests)
    status, reply = proxy.call(
        "POST", "/v1/chat/completions", {"model": "gpt-4o", "messages": _sample()}, headers=PROVIDER
    )
    assert status == 200 and reply["object"] == "chat.completion"
    [sent] = upstream.requests[first:]
    assert count_tokens_messages(sent["body"]["messages"]) < 0.5 * count_tokens_messages(_sample())
    assert sent["headers"]["authorization"] == "Bearer sk-provider"
    [row] = _rows(proxy)
    assert row.source == "server" and row.tokens_saved > 0
    assert row.provider_input_tokens == reply["usage"]["prompt_tokens"] > 0


def test_a_stream_is_relayed_as_it_comes_and_recorded_with_its_usage(
    proxy: Served, upstream: RecordingLLMServer
) -> None:
    body = {
        "model": "gpt-4o",
        "messages": _sample(),
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    with httpx.stream(
        "POST", f"{proxy.url}/v1/chat/completions", json=body, headers=PROVIDER, timeout=60
    ) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        events = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert events[-1] == "data: [DONE]"
    usage = json.loads(events[-2][6:])["usage"]
    [row] = _rows(proxy)
    assert row.provider_input_tokens == usage["prompt_tokens"]
    assert row.provider_output_tokens == usage["completion_tokens"]


@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_messages_keep_their_system_and_the_callers_key(
    proxy: Served, upstream: RecordingLLMServer, stream: bool
) -> None:
    system, messages = to_anthropic(_sample())
    body = {"model": "claude-sonnet-4-5", "system": system, "messages": messages,
            "max_tokens": 64, "stream": stream}
    first = len(upstream.requests)
    headers = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=60)
    assert response.status_code == 200
    [sent] = upstream.requests[first:]
    assert sent["headers"]["x-api-key"] == "sk-ant" and "authorization" not in sent["headers"]
    assert sent["body"]["system"]
    assert len(json.dumps(sent["body"]["messages"])) < 0.5 * len(json.dumps(messages))
    [row] = _rows(proxy)
    assert row.provider_input_tokens and row.provider_output_tokens


def test_anthropic_breakpoints_stay_on_their_blocks_and_the_rest_is_sent_as_written(
    proxy: Served, upstream: RecordingLLMServer
) -> None:
    system, messages = to_anthropic(_sample())
    system = [{"type": "text", "text": system, "cache_control": {"type": "ephemeral"}}]
    messages[5]["content"][1]["cache_control"] = {"type": "ephemeral"}  # a tool_use block
    messages[-3]["content"][0]["cache_control"] = {"type": "ephemeral"}  # the last tool_result
    messages[-3]["content"].append({"type": "text", "text": "Anything else?"})
    body = {"model": "claude-sonnet-4-5", "system": system, "messages": messages,
            "max_tokens": 64}
    first = len(upstream.requests)
    headers = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
    response = httpx.post(f"{proxy.url}/v1/messages", json=body, headers=headers, timeout=60)
    assert response.status_code == 200
    [sent] = upstream.requests[first:]
    sent_messages = sent["body"]["messages"]
    assert len(json.dumps(sent_messages)) < 0.5 * len(json.dumps(messages))
    assert sent["body"]["system"][0]["cache_control"] == {"type": "ephemeral"}
    assert json.dumps(sent_messages).count('"cache_control"') == 2
    assert sent_messages[5]["content"][1] == messages[5]["content"][1]
    last_result = sent_messages[-3]["content"][0]
    assert last_result["cache_control"] == {"type": "ephemeral"}
    assert last_result["tool_use_id"] == messages[-3]["content"][0]["tool_use_id"]
    assert sent_messages[-3]["content"][1] == {"type": "text", "text": "Anything else?"}
    for index in (1, 3, 4, 5, 7, 8, 9, 11):
        assert sent_messages[index] == messages[index], index


def test_audit_mode_forwards_the_request_unchanged_and_simulate_calls_no_model(
    proxy: Served, upstream: RecordingLLMServer
) -> None:
    first = len(upstream.requests)
    body = {"model": "gpt-4o", "messages": _sample()}
    audit = {**PROVIDER, "x-headroom-mode": "audit"}
    proxy.call("POST", "/v1/chat/completions", body, headers=audit)
    assert upstream.requests[first]["body"]["messages"] == _sample()
    status, plan = proxy.call(
        "POST", "/v1/chat/completions", {**body, "headroom_mode": "simulate"}, headers=PROVIDER
    )
    assert status == 200 and plan["mode"] == "simulate" and plan["tokens_saved"] > 0
    assert len(upstream.requests) == first + 1


def test_credentials_either_the_callers_provider_key_or_headroom_key(
    proxy: Served, upstream: RecordingLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    status, error = proxy.call("POST", "/v1/chat/completions", body)
    assert status == 401 and error["error"]["type"] == "authentication_error"
    monkeypatch.setenv("OPENAI_API_KEY", "sk-server")
    status, _ = proxy.call(
        "POST", "/v1/chat/completions", body, headers={"Authorization": f"Bearer {KEY}"}
    )
    assert status == 200
    assert upstream.requests[-1]["headers"]["authorization"] == "Bearer sk-server"
    assert KEY not in json.dumps(upstream.requests[-1]["headers"])


def test_upstream_errors_come_back_and_an_unreachable_one_is_a_502(
    upstream: RecordingLLMServer, tmp_path: Path
) -> None:
    body = {"model": "gpt-4o", "messages": [{"role": "user", "content": "hi"}]}
    failing = ServerSettings(store_url=None, openai_api_url=f"{upstream.origin}/status/503/v1")
    with serving(failing) as served:
        status, error = served.call("POST", "/v1/chat/completions", body, headers=PROVIDER)
    assert status == 503 and error == {"error": {"message": "upstream said 503"}}
    closed = ServerSettings(store_url=None, openai_api_url="http://127.0.0.1:9/v1")
    with serving(closed) as served:
        status, error = served.call("POST", "/v1/chat/completions", body, headers=PROVIDER)
        metrics = served.call("GET", "/metrics")[1]
    assert status == 502 and error["error"]["type"] == "upstream_unreachable"
    assert 'headroom_failures_total{kind="upstream_unreachable"}' in metrics


def test_a_request_that_cannot_fit_is_a_400_and_never_sent(
    proxy: Served, upstream: RecordingLLMServer
) -> None:
    first = len(upstream.requests)
    body = {"model": "gpt-4o", "messages": _sample(), "headroom_model_limit": 4_050}
    status, error = proxy.call("POST", "/v1/chat/completions", body, headers=PROVIDER)
    assert status == 400 and "cannot fit" in error["error"]["message"]
    assert len(upstream.requests) == first


def _failures(served: Served, kind: str) -> float:
    text = served.call("GET", "/metrics", headers={"Authorization": f"Bearer {KEY}"})[1]
    found = re.search(rf'^headroom_failures_total{{kind="{kind}"}} ([\d.]+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


@pytest.mark.parametrize("endpoint", ["/v1/chat/completions", "/v1/messages"])
def test_an_unknown_model_is_forwarded_unchanged_with_a_warning_and_a_failure(
    proxy: Served, upstream: RecordingLLMServer, caplog: pytest.LogCaptureFixture, endpoint: str
) -> None:
    if endpoint == "/v1/messages":
        system, messages = to_anthropic(_sample())
        body = {"model": "claude-local-9000", "system": system, "messages": messages,
                "max_tokens": 64}
        headers = {"x-api-key": "sk-ant", "anthropic-version": "2023-06-01"}
    else:
        body = {"model": "llama-3.1-8b-instant", "messages": _sample()}
        headers = PROVIDER
    failures = _failures(proxy, "optimization_failed")
    first = len(upstream.requests)

    with caplog.at_level(logging.WARNING, logger="headroom_core.engine"):
        response = httpx.post(f"{proxy.url}{endpoint}", json=body, headers=headers, timeout=60)

    assert response.status_code == 200
    [sent] = upstream.requests[first:]
    assert sent["body"] == body
    assert f"{body['model']}; sending it unchanged (ProviderError: Unknown model" in caplog.text
    assert _failures(proxy, "optimization_failed") == failures + 1
    [row] = _rows(proxy)
    assert row.failed and row.model == body["model"] and "Unknown model" in row.error
    assert row.provider_input_tokens and row.tokens_saved == 0


def test_a_plan_for_an_unknown_model_is_a_400_naming_the_closest_known_ones(
    proxy: Served, upstream: RecordingLLMServer
) -> None:
    first = len(upstream.requests)
    body = {"model": "gpt4o", "messages": _sample(), "headroom_mode": "simulate"}
    status, error = proxy.call("POST", "/v1/chat/completions", body, headers=PROVIDER)
    assert status == 400
    assert error["error"]["message"].startswith("Unknown model 'gpt4o'. Closest known models:")
    assert len(upstream.requests) == first
