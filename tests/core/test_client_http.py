"""HeadroomClient over real HTTP: OpenAI and Anthropic SDKs against a loopback server.

Each SDK call is replayed from a vcrpy cassette under ``tests/cassettes/client_http/`` (record mode
``none``: CI never opens a socket for them). The cassettes were recorded against
``tests/support/openai_server.py``, which the tests start on 127.0.0.1; re-record with
``pytest tests/core/test_client_http.py --record-mode=rewrite``. Requests are matched on method,
path, model, stream flag and message roles, so an improvement in compression does not invalidate
a cassette; what the SDK really put on the wire in this run is captured with an httpx hook and
asserted on. ``test_live_server_*`` talk to the running server directly and assert on what it
received.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import anthropic
import httpx
import httpx2
import openai
import pytest
import vcr

from headroom_core.client import HeadroomClient
from headroom_core.errors import ContextOverflowError, ProviderError
from headroom_core.reporting import generate_report
from headroom_core.tokenizer import Tokenizer
from tests.support.cars import CARS, CARS_SYSTEM, CARS_TOOL_ARGUMENTS, cars_conversation
from tests.support.openai_server import RecordingLLMServer

CASSETTES = Path(__file__).parent.parent / "cassettes" / "client_http"
REPLY = "Received 4 messages (system, user, assistant, tool)."


def _anthropic_conversation() -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": CARS["query"]},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": "Let me look that up."},
                {
                    "type": "tool_use",
                    "id": "toolu_cars_1",
                    "name": "query_cars",
                    "input": {"limit": 200},
                },
            ],
        },
        {
            "role": "user",
            "content": [
                {"type": "tool_result", "tool_use_id": "toolu_cars_1", "content": CARS["content"]}
            ],
        },
    ]


def _request_shape(r1: Any, r2: Any) -> None:
    """Same model, stream flag and message roles (compression details may differ)."""

    def shape(request: Any) -> tuple[Any, ...]:
        body = json.loads(request.body or b"{}")
        return (
            body.get("model"),
            bool(body.get("stream")),
            [m.get("role") for m in body.get("messages", [])],
        )

    assert shape(r1) == shape(r2)


@pytest.fixture(scope="module")
def server():
    with RecordingLLMServer() as running:
        yield running


@pytest.fixture
def cassette(request, server):
    """Replay (or, with --record-mode, record) this test's HTTP calls."""
    mode = request.config.getoption("--record-mode", default=None) or "none"
    path = CASSETTES / f"{request.node.name}.yaml"
    if mode == "rewrite":
        path.unlink(missing_ok=True)
        mode = "new_episodes"
    recorder = vcr.VCR(
        record_mode=mode,
        match_on=["method", "path", "request_shape"],
        filter_headers=["authorization", "x-api-key"],
        decode_compressed_response=True,
    )
    recorder.register_matcher("request_shape", _request_shape)
    reached_server = len(server.requests)
    with recorder.use_cassette(str(path)) as active:
        yield active
    if mode == "none":
        assert len(server.requests) == reached_server, "a replayed test must not open a socket"


class _Wire(list):
    """Bodies of the requests an SDK sends, captured by its HTTP client's request hook
    (``httpx`` for openai, ``httpx2`` for anthropic)."""

    def __init__(self) -> None:
        super().__init__()
        self.sync_hooks = {"request": [self._capture]}
        self.async_hooks = {"request": [self._acapture]}

    def _capture(self, request: Any) -> None:
        self.append(json.loads(request.read()))

    async def _acapture(self, request: Any) -> None:
        self._capture(request)


@pytest.fixture
def wire() -> _Wire:
    return _Wire()


def _openai(server, wire, *, asynchronous: bool = False):
    if asynchronous:
        return openai.AsyncOpenAI(
            base_url=server.openai_base_url,
            api_key="test-key",
            max_retries=0,
            http_client=httpx.AsyncClient(event_hooks=wire.async_hooks),
        )
    return openai.OpenAI(
        base_url=server.openai_base_url,
        api_key="test-key",
        max_retries=0,
        http_client=httpx.Client(event_hooks=wire.sync_hooks),
    )


def _recorded_response(cassette, index: int = 0) -> dict[str, Any]:
    return json.loads(cassette.responses[index]["body"]["string"])


def _tokens(messages: list[dict[str, Any]]) -> int:
    return Tokenizer("gpt-4o").count_messages(messages)


def test_create_sends_optimized_messages_and_returns_the_reply_unchanged(
    server, cassette, wire, tmp_path
):
    store_url = f"sqlite:///{tmp_path / 'headroom.db'}"
    client = HeadroomClient(_openai(server, wire), store_url=store_url)
    messages = cars_conversation(named=False)

    plan = client.chat.completions.simulate(model="gpt-4o", messages=messages)
    response = client.chat.completions.create(
        model="gpt-4o", messages=messages, temperature=0, seed=7, user="analyst-1"
    )

    [sent] = wire
    assert sent["messages"] == plan.messages_optimized, "simulate agrees with what create sent"
    assert _tokens(sent["messages"]) < 0.6 * _tokens(messages)
    assert sent["messages"][3]["tool_call_id"] == "call_cars_1"
    assert sent["messages"][2]["tool_calls"][0]["function"]["arguments"] == CARS_TOOL_ARGUMENTS
    assert all(needle["text"] in sent["messages"][3]["content"] for needle in CARS["needles"])
    assert (sent["temperature"], sent["seed"], sent["user"]) == (0, 7, "analyst-1")
    assert not any(key.startswith("headroom") for key in sent)

    assert response.to_dict() == _recorded_response(cassette), (
        "the reply reaches the caller unchanged"
    )
    assert response.choices[0].message.content == REPLY

    [row] = client.get_metrics(mode="optimize")  # flushes the background writer first
    assert row.tokens_before == _tokens(messages)
    assert row.tokens_after == _tokens(sent["messages"])
    summary = client.get_summary()
    assert summary["total_requests"] == 2  # the simulation and the call
    assert summary["total_tokens_saved"] == plan.tokens_saved + row.tokens_saved
    assert client.get_stats()["session"]["requests"] == 2

    report = tmp_path / "report.html"
    generate_report(store_url, format="html", output_path=report)
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html and 'class="bar"' in html and "gpt-4o" in html
    client.close()


def test_streaming_passes_the_sdk_stream_through(server, cassette, wire):
    client = HeadroomClient(_openai(server, wire))
    stream = client.chat.completions.create(
        model="gpt-4o",
        messages=cars_conversation(named=False),
        stream=True,
        stream_options={"include_usage": True},
    )
    assert isinstance(stream, openai.Stream)
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == REPLY
    assert chunks[-1].usage is not None and chunks[-1].usage.prompt_tokens > 0
    [sent] = wire
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert _tokens(sent["messages"]) < _tokens(cars_conversation(named=False))


def test_openai_stream_helper_gets_optimized_messages(server, cassette, wire):
    client = HeadroomClient(_openai(server, wire))
    with client.chat.completions.stream(
        model="gpt-4o", messages=cars_conversation(named=False)
    ) as stream:
        completion = stream.get_final_completion()
    assert completion.choices[0].message.content == REPLY
    [sent] = wire
    assert sent["stream"] is True
    assert _tokens(sent["messages"]) < 0.6 * _tokens(cars_conversation(named=False))


async def test_async_openai_client(server, cassette, wire):
    client = HeadroomClient(_openai(server, wire, asynchronous=True))
    response = await client.chat.completions.create(
        model="gpt-4o", messages=cars_conversation(named=False), max_tokens=64
    )
    assert response.to_dict() == _recorded_response(cassette)
    [sent] = wire
    assert sent["max_tokens"] == 64
    assert _tokens(sent["messages"]) < _tokens(cars_conversation(named=False))


def test_audit_mode_sends_the_messages_exactly(server, cassette, wire):
    client = HeadroomClient(_openai(server, wire), default_mode="audit")
    messages = cars_conversation(named=False)
    client.chat.completions.create(model="gpt-4o", messages=messages)
    [sent] = wire
    assert sent["messages"] == messages
    assert client.get_stats()["session"]["tokens_saved"] == 0


def test_tool_profile_and_simulate_mode_per_call(server, wire):
    client = HeadroomClient(_openai(server, wire))
    requests_before = len(server.requests)
    plan = client.chat.completions.create(
        model="gpt-4o",
        messages=cars_conversation(named=False),
        headroom_mode="simulate",
        headroom_tool_profiles={"query_cars": {"skip_compression": True}},
    )
    assert len(server.requests) == requests_before and wire == [], "simulate calls no model"
    assert plan.messages_optimized[3]["content"] == CARS["content"]


def test_anthropic_messages_create(server, cassette, wire):
    client = HeadroomClient(_anthropic(server, wire))
    response = client.messages.create(
        model="claude-sonnet-4-5",
        system=CARS_SYSTEM,
        messages=_anthropic_conversation(),
        max_tokens=256,
        stop_sequences=["END"],
    )
    [sent] = wire
    assert sent["system"] == CARS_SYSTEM
    assert (sent["max_tokens"], sent["stop_sequences"]) == (256, ["END"])
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
    assert sent["messages"][1]["content"] == _anthropic_conversation()[1]["content"]
    [result] = sent["messages"][2]["content"]
    assert result["tool_use_id"] == "toolu_cars_1"
    assert len(result["content"]) < 0.6 * len(CARS["content"])
    assert all(needle["text"] in result["content"] for needle in CARS["needles"])
    assert response.to_dict() == _recorded_response(cassette)


def _anthropic(server, wire):
    return anthropic.Anthropic(
        base_url=server.origin,
        api_key="test-key",
        max_retries=0,
        http_client=httpx2.Client(event_hooks=wire.sync_hooks),
    )


def test_anthropic_streaming_create_and_stream_helper(server, cassette, wire):
    client = HeadroomClient(_anthropic(server, wire))
    request = {
        "model": "claude-sonnet-4-5",
        "system": CARS_SYSTEM,
        "messages": _anthropic_conversation(),
        "max_tokens": 64,
    }
    events = list(client.messages.create(**request, stream=True))
    assert events[0].type == "message_start" and events[-1].type == "message_stop"
    streamed = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    with client.messages.stream(**request) as stream:
        helper_text = stream.get_final_text()
    assert streamed == helper_text == "Received 3 messages and a system prompt."
    assert len(wire) == 2 and all(body["stream"] is True for body in wire)
    for body in wire:
        [result] = body["messages"][2]["content"]
        assert len(result["content"]) < 0.6 * len(CARS["content"])


async def test_async_anthropic_client(server, cassette, wire):
    original = anthropic.AsyncAnthropic(
        base_url=server.origin,
        api_key="test-key",
        max_retries=0,
        http_client=httpx2.AsyncClient(event_hooks=wire.async_hooks),
    )
    client = HeadroomClient(original)
    response = await client.messages.create(
        model="claude-sonnet-4-5",
        system=CARS_SYSTEM,
        messages=_anthropic_conversation(),
        max_tokens=64,
    )
    [sent] = wire
    assert len(json.dumps(sent["messages"])) < 0.6 * len(json.dumps(_anthropic_conversation()))
    assert response.content[0].text == "Received 3 messages and a system prompt."


def test_live_server_receives_the_optimized_request(server, wire):
    client = HeadroomClient(_openai(server, wire))
    first = len(server.requests)
    response = client.chat.completions.create(
        model="gpt-4o", messages=cars_conversation(named=False)
    )
    [received] = server.requests[first:]
    assert received["path"] == "/v1/chat/completions"
    assert received["body"] == wire[0]
    assert response.usage.prompt_tokens == _tokens(received["body"]["messages"])
    assert response.usage.prompt_tokens < 0.6 * _tokens(cars_conversation(named=False))


def test_other_attributes_belong_to_the_original_client(server, wire):
    original = _openai(server, wire)
    client = HeadroomClient(original)
    assert client.models is original.models
    assert client.base_url == original.base_url
    assert client.chat.completions.with_raw_response is not None


def test_validate_setup_reports_an_unreachable_store(server, wire, tmp_path):
    healthy = HeadroomClient(_openai(server, wire), store_url=f"sqlite:///{tmp_path / 'ok.db'}")
    report = healthy.validate_setup()
    assert report["valid"], report["issues"]
    assert report["provider"] == "OpenAIProvider"
    assert report["tokenizer"]["exact"] is True and report["store"]["reachable"] is True

    broken = HeadroomClient(
        _openai(server, wire), store_url=f"sqlite:///{tmp_path / 'missing' / 'x.db'}"
    )
    report = broken.validate_setup()
    assert not report["valid"]
    assert any("not reachable" in issue for issue in report["issues"])
    healthy.close()
    broken.close()


def test_validate_setup_for_an_anthropic_client(server):
    client = HeadroomClient(anthropic.Anthropic(base_url=server.origin, api_key="test-key"))
    report = client.validate_setup()
    assert report["valid"], report["issues"]
    assert report["provider"] == "AnthropicProvider"
    assert report["tokenizer"]["model"] == "claude-sonnet-4-5"
    assert report["tokenizer"]["exact"] is False  # estimated offline; exact needs the count API
    assert report["store"] is None


def test_a_request_that_cannot_fit_is_never_sent(server, wire):
    client = HeadroomClient(_openai(server, wire))
    first = len(server.requests)
    with pytest.raises(ContextOverflowError, match="cannot fit"):
        client.chat.completions.create(
            model="gpt-4o", messages=cars_conversation(named=False), headroom_model_limit=4_050
        )
    assert len(server.requests) == first
    assert wire == []


def _orders_request(system: str = "You are a sales assistant. ask for: id 200") -> list[dict]:
    from tests.support.orders import QUESTION, list_orders_output

    call = {"id": "call_orders", "type": "function",
            "function": {"name": "list_orders", "arguments": "{}"}}
    return [
        {"role": "system", "content": system},
        {"role": "user", "content": QUESTION},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_orders", "content": list_orders_output()},
    ]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_live_server_model_follows_a_marker_and_the_caller_gets_the_row(
    server, wire, asynchronous
):
    from tests.support.orders import ORDER_200

    client = HeadroomClient(_openai(server, wire, asynchronous=asynchronous))
    first = len(server.requests)
    reply = client.chat.completions.create(model="gpt-4o", messages=_orders_request())
    if asynchronous:
        reply = await reply

    message = reply.choices[0].message
    assert message.tool_calls is None  # no headroom_retrieve call reaches the caller
    assert json.dumps(ORDER_200) in message.content
    asked, answered = server.requests[first:]
    assert [t["function"]["name"] for t in asked["body"]["tools"]] == ["headroom_retrieve"]
    assert "headroom_retrieve with key" in asked["body"]["messages"][-1]["content"]
    assert answered["body"]["messages"][-1]["tool_call_id"].startswith("call_")
    prompts = [_tokens(request["body"]["messages"]) for request in (asked, answered)]
    assert reply.usage.prompt_tokens == sum(prompts)  # usage of both rounds
    assert client.get_stats()["session"]["requests"] == 2  # and both in the metrics


def test_live_server_caller_tools_are_kept_and_without_markers_nothing_is_added(server, wire):
    client = HeadroomClient(_openai(server, wire))
    caller_tool = {"type": "function", "function": {"name": "list_orders", "parameters": {}}}
    first = len(server.requests)
    client.chat.completions.create(
        model="gpt-4o", messages=_orders_request("You are a sales assistant."), tools=[caller_tool]
    )
    client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": "hi"}], tools=[caller_tool]
    )
    with_markers, plain = (request["body"] for request in server.requests[first:])
    assert [t["function"]["name"] for t in with_markers["tools"]] == [
        "list_orders",
        "headroom_retrieve",
    ]
    assert plain["tools"] == [caller_tool]


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_live_server_anthropic_model_follows_a_marker(server, wire, asynchronous):
    from headroom_core.providers.anthropic_format import to_anthropic
    from tests.support.orders import ORDER_200

    system, messages = to_anthropic(_orders_request())
    sdk = (
        anthropic.AsyncAnthropic(base_url=server.origin, api_key="test-key", max_retries=0)
        if asynchronous
        else _anthropic(server, wire)
    )
    client = HeadroomClient(sdk)
    first = len(server.requests)
    reply = client.messages.create(
        model="claude-sonnet-4-5", system=system, messages=messages, max_tokens=256
    )
    if asynchronous:
        reply = await reply

    assert [block.type for block in reply.content] == ["text"]
    assert json.dumps(ORDER_200) in reply.content[0].text
    asked, answered = server.requests[first:]
    assert [t["name"] for t in asked["body"]["tools"]] == ["headroom_retrieve"]
    assert answered["body"]["messages"][-1]["content"][0]["type"] == "tool_result"


class _CompatibleSDK:
    """A client of another package with OpenAI's ``chat.completions.create`` (a gateway SDK, a
    local server's client): Headroom picks no provider for it and looks each model up."""

    def __init__(self, openai_client: Any) -> None:
        self.chat = openai_client.chat


@pytest.mark.parametrize("asynchronous", [False, True])
async def test_live_server_an_unknown_model_is_sent_unchanged_with_a_warning(
    server, wire, caplog, asynchronous
):
    client = HeadroomClient(_CompatibleSDK(_openai(server, wire, asynchronous=asynchronous)))
    assert client.provider is None
    messages = cars_conversation(named=False)
    with caplog.at_level(logging.WARNING, logger="headroom_core.engine"):
        reply = client.chat.completions.create(model="llama-3.1-8b-instant", messages=messages)
        if asynchronous:
            reply = await reply
    [sent] = wire
    assert sent["messages"] == messages and sent["model"] == "llama-3.1-8b-instant"
    assert reply.choices[0].message.content
    expected = "llama-3.1-8b-instant; sending it unchanged (ProviderError: Unknown model"
    assert expected in caplog.text
    session = client.get_stats()["session"]
    assert session["requests"] == 1 and session["failures"] == 1


def test_a_plan_for_an_unknown_model_raises_and_calls_no_model(server, wire):
    client = HeadroomClient(_CompatibleSDK(_openai(server, wire)))
    with pytest.raises(ProviderError, match=r"Unknown model 'gpt4o'\. Closest known models: gpt"):
        client.chat.completions.simulate(model="gpt4o", messages=cars_conversation(named=False))
    assert wire == []
