"""The published TypeScript client (npm ``headroom-ai``, pinned in package.json) against
``headroom serve --workers 2`` and a loopback upstream model.

The client runs in Node (``compress_client.mjs``) and talks HTTP to the real ``headroom serve``
command started here on a free loopback port, which proxies to an OpenAI- and Anthropic-compatible
server the test also starts; what the client returns, or the error class it raises, comes back
as one JSON line.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from headroom_core.config import HeadroomConfig
from headroom_core.messages import content_text
from headroom_core.providers.anthropic_format import to_anthropic
from headroom_core.samples import load_sample_conversation
from headroom_core.server import ServerSettings
from headroom_core.tokenizer import count_tokens_messages
from headroom_core.transforms.router import ContentRouter
from tests.support.openai_server import RecordingLLMServer
from tests.support.servers import Served, headroom_serve, serving

HERE = Path(__file__).parent
API_KEY = "npm-client-key"
PROVIDER_KEY = "sk-provider-of-the-caller"
NODE, NPM = shutil.which("node"), shutil.which("npm")

pytestmark = pytest.mark.skipif(
    NODE is None or NPM is None,
    reason="node and npm are needed to run the published headroom-ai client",
)


@pytest.fixture(scope="module")
def node_client() -> Path:
    """The client script, with the pinned package installed into tests/server/node_modules."""
    if not (HERE / "node_modules" / "headroom-ai" / "package.json").exists():
        done = subprocess.run(
            [NPM, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if done.returncode != 0:
            pytest.fail(f"npm ci failed (the npm registry must be reachable):\n{done.stderr}")
    return HERE / "compress_client.mjs"


@pytest.fixture(scope="module")
def upstream() -> Iterator[RecordingLLMServer]:
    with RecordingLLMServer() as running:
        yield running


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory, upstream: RecordingLLMServer
) -> Iterator[Served]:
    store = tmp_path_factory.mktemp("npm") / "metrics.db"
    with headroom_serve(
        "--workers", "2",
        "--api-key", API_KEY,
        "--store-url", f"sqlite:///{store}",
        "--openai-api-url", upstream.openai_base_url,
        "--anthropic-api-url", upstream.origin,
    ) as served:  # fmt: skip
        yield served


def run_client(
    script: Path, server: Served, request: dict[str, Any], api_key: str = API_KEY
) -> dict[str, Any]:
    env = {**os.environ, "HEADROOM_BASE_URL": server.url, "HEADROOM_API_KEY": api_key}
    done = subprocess.run(
        [NODE, str(script)],
        input=json.dumps(request),
        env=env,
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_compress_round_trip(node_client: Path, server: Served) -> None:
    sample = load_sample_conversation()
    answer = run_client(
        node_client,
        server,
        {"call": "compress", "messages": sample["messages"], "options": {"model": "gpt-4o"}},
    )

    assert answer["ok"], answer
    result = answer["result"]
    assert result["compressed"] is True
    assert 0 < result["tokensAfter"] < result["tokensBefore"]
    assert result["tokensSaved"] == result["tokensBefore"] - result["tokensAfter"]
    assert result["compressionRatio"] < 1
    assert result["transformsApplied"]
    original, compressed = sample["messages"], result["messages"]
    assert len(compressed) == len(original)
    assert [m.get("tool_call_id") for m in compressed] == [m.get("tool_call_id") for m in original]
    assert [m["role"] for m in compressed] == [m["role"] for m in original]
    assert content_text(compressed[-1]).endswith(original[-1]["content"])  # the last user turn
    kept = "\n".join(content_text(message) for message in compressed)
    assert all(fact["text"] in kept for fact in sample["facts"])


def test_ccr_hashes_name_the_markers_and_the_client_retrieves_them(
    node_client: Path, server: Served
) -> None:
    sample = load_sample_conversation()
    answer = run_client(
        node_client,
        server,
        {"call": "compress", "messages": sample["messages"], "options": {"model": "gpt-4o"}},
    )
    hashes = answer["result"]["ccrHashes"]
    kept = "\n".join(content_text(message) for message in answer["result"]["messages"])
    assert hashes and all(f'key "{key}"' in kept for key in hashes)

    for key in hashes:
        found = run_client(node_client, server, {"call": "retrieve", "hash": key})
        assert found["ok"], found
        assert found["result"]["hash"] == key
        assert found["result"]["count"] == len(found["result"]["results"]) > 0


def test_wrong_key_raises_the_client_auth_error(node_client: Path, server: Served) -> None:
    messages = [{"role": "user", "content": "hello"}]
    answer = run_client(
        node_client, server, {"call": "compress", "messages": messages}, api_key="wrong"
    )

    assert not answer["ok"]
    assert answer["isAuthError"], answer
    assert answer["name"] == "HeadroomAuthError"


def test_malformed_body_raises_the_client_compress_error(
    node_client: Path, server: Served
) -> None:
    answer = run_client(
        node_client, server, {"call": "client", "messages": {"role": "user", "content": "hi"}}
    )

    assert not answer["ok"]
    assert answer["isCompressError"], answer
    assert answer["name"] == "HeadroomCompressError"
    assert answer["statusCode"] == 400
    assert answer["errorType"] == "invalid_request_error"


def test_invalid_messages_fail_fast_naming_the_problem(
    node_client: Path, server: Served
) -> None:
    messages = [{"role": "tool", "tool_call_id": "call_x", "content": "orphan result"}]
    answer = run_client(
        node_client,
        server,
        {"call": "compress", "messages": messages, "options": {"fallback": True}},
    )

    assert not answer[
        "ok"
    ]  # a caller's mistake is raised even when the client falls back on outages
    assert answer["isCompressError"], answer
    assert answer["statusCode"] == 400
    assert "call_x" in answer["message"]


def test_simulate_health_and_stats_through_the_client(
    node_client: Path, server: Served
) -> None:
    messages = load_sample_conversation()["messages"]

    simulated = run_client(node_client, server, {"call": "simulate", "messages": messages})
    assert simulated["ok"], simulated
    assert simulated["result"]["mode"] == "simulate"
    assert simulated["result"]["tokensSaved"] > 0

    health = run_client(node_client, server, {"call": "health"})
    assert health["result"]["status"] == "healthy"

    stats = run_client(node_client, server, {"call": "stats"})
    assert stats["ok"], stats
    assert stats["result"]["totalRequests"] >= 1
    assert stats["result"]["totalTokensSaved"] >= simulated["result"]["tokensSaved"]


def test_server_errors_are_retried_then_fall_back_to_the_original_messages(
    node_client: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    messages = load_sample_conversation()["messages"]
    request = {"call": "compress", "messages": messages}
    fail_closed = HeadroomConfig(fail_open=False)  # an internal fault becomes a 500

    def fault(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a crusher broke")

    monkeypatch.setattr(ContentRouter, "route", fault)
    settings = ServerSettings(api_key=API_KEY, store_url=None, config=fail_closed)
    with serving(settings) as up:
        failures = up.service.metrics.failures.labels("compression_error") if up.service else None
        assert failures is not None
        before = failures._value.get()
        strict = run_client(node_client, up, request)
        options = {"fallback": True, "retries": 1}
        fallback = run_client(node_client, up, {**request, "options": options})
        failed = failures._value.get() - before

    assert strict["isCompressError"], strict
    assert (strict["statusCode"], strict["errorType"]) == (500, "compression_error")
    assert fallback["ok"], fallback
    assert fallback["result"]["compressed"] is False
    assert fallback["result"]["messages"] == messages
    assert failed == 3  # one strict call, one failed call and its retry


def _openai_params(stream: bool) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": load_sample_conversation()["messages"], "stream": stream}


@pytest.mark.parametrize("stream", [False, True])
def test_chat_completions_create_goes_through_the_proxy_compressed_with_the_provider_key(
    node_client: Path, server: Served, upstream: RecordingLLMServer, stream: bool
) -> None:
    first = len(upstream.requests)
    answer = run_client(
        node_client,
        server,
        {"call": "create", "params": _openai_params(stream),
         "options": {"providerApiKey": PROVIDER_KEY}},
    )
    assert answer["ok"], answer
    if stream:
        text = "".join(
            chunk["choices"][0]["delta"].get("content") or ""
            for chunk in answer["result"] if chunk["choices"]
        )
    else:
        text = answer["result"]["choices"][0]["message"]["content"]
    assert text.startswith("Received 15 messages")
    [sent] = upstream.requests[first:]
    assert sent["headers"]["authorization"] == f"Bearer {PROVIDER_KEY}"
    original = load_sample_conversation()["messages"]
    assert count_tokens_messages(sent["body"]["messages"]) < 0.5 * count_tokens_messages(original)
    kept = "\n".join(content_text(message) for message in sent["body"]["messages"])
    assert all(fact["text"] in kept for fact in load_sample_conversation()["facts"])


@pytest.mark.parametrize("stream", [False, True])
def test_messages_create_goes_through_the_anthropic_proxy(
    node_client: Path, server: Served, upstream: RecordingLLMServer, stream: bool
) -> None:
    system, messages = to_anthropic(load_sample_conversation()["messages"])
    params = {"model": "claude-sonnet-4-5", "system": system, "messages": messages,
              "max_tokens": 128, "stream": stream}
    first = len(upstream.requests)
    answer = run_client(
        node_client, server,
        {"call": "messages_create", "params": params, "options": {"providerApiKey": PROVIDER_KEY}},
    )
    assert answer["ok"], answer
    if stream:
        types = [event["type"] for event in answer["result"]]
        assert types[0] == "message_start" and types[-1] == "message_stop"
    else:
        assert answer["result"]["content"][0]["text"].startswith("Received")
    [sent] = upstream.requests[first:]
    assert sent["headers"]["x-api-key"] == PROVIDER_KEY
    assert len(json.dumps(sent["body"]["messages"])) < 0.5 * len(json.dumps(messages))


def test_the_rest_of_what_the_client_calls(
    node_client: Path, server: Served
) -> None:
    messages = _openai_params(False)["messages"]
    run_client(node_client, server, {"call": "compress", "messages": messages})
    validated = run_client(node_client, server, {"call": "validate"})
    assert validated["ok"] and validated["result"]["valid"] is True
    summary = run_client(node_client, server, {"call": "summary"})
    assert summary["ok"] and summary["result"]["totalRequests"] >= 1
    assert summary["result"]["totalTokensSaved"] > 0 and summary["result"]["models"]
    metrics = run_client(node_client, server, {"call": "metrics"})
    assert metrics["ok"] and metrics["result"][0]["tokensInputBefore"] > 0
    prometheus = run_client(node_client, server, {"call": "prometheus"})
    assert prometheus["ok"] and "headroom_requests_total" in prometheus["result"]
    stats = run_client(node_client, server, {"call": "ccr_stats"})
    assert stats["ok"] and stats["result"]["store"]["maxEntries"] > 0


def test_a_key_compressed_by_one_worker_is_answered_by_every_worker(
    node_client: Path, server: Served
) -> None:
    answer = run_client(
        node_client, server, {"call": "compress", "messages": _openai_params(False)["messages"]}
    )
    [key, *_] = answer["result"]["ccrHashes"]
    tool_call = {"id": "call_1", "type": "function",
                 "function": {"name": "headroom_retrieve", "arguments": json.dumps({"key": key})}}
    with ThreadPoolExecutor(max_workers=8) as pool:  # spread over both workers
        answers = list(pool.map(
            lambda _: run_client(node_client, server, {"call": "tool_call", "toolCall": tool_call}),
            range(8),
        ))
    assert all(a["ok"] and a["result"]["success"] for a in answers), answers
    assert all(json.loads(a["result"]["content"])["items"] for a in answers)
