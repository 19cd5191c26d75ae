"""Providers: limits, name resolution, prices from the dated data file, caching switches, and
exact Claude counts through the real Anthropic SDK talking to a loopback server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, ClassVar

import pytest

from headroom_core._catalog import find_model
from headroom_core.errors import ConfigurationError, ProviderError
from headroom_core.providers import (
    AnthropicProvider,
    GoogleProvider,
    OpenAIProvider,
    provider_for_model,
)
from headroom_core.providers.anthropic_format import from_anthropic, to_anthropic
from headroom_core.tokenizer import Tokenizer

PRICES = json.loads((resources.files("headroom_core") / "data" / "models.json").read_text("utf-8"))


@pytest.mark.parametrize(
    ("provider", "model", "context", "output"),
    [
        (OpenAIProvider(), "gpt-4o", 128_000, 16_384),
        (OpenAIProvider(), "gpt-4.1", 1_047_576, 32_768),
        (OpenAIProvider(), "gpt-4", 8_192, PRICES["models"]["gpt-4"]["max_output_tokens"]),
        (
            AnthropicProvider(),
            "claude-sonnet-4-5",
            200_000,
            PRICES["models"]["claude-sonnet-4-5"]["max_output_tokens"],
        ),
        (
            GoogleProvider(),
            "gemini-1.5-pro",
            2_097_152,
            PRICES["models"]["gemini-1.5-pro"]["max_output_tokens"],
        ),
    ],
)
def test_context_and_output_limits(provider: Any, model: str, context: int, output: int) -> None:
    assert provider.get_context_limit(model) == context
    assert provider.get_output_limit(model) == output


@pytest.mark.parametrize(
    ("provider", "name", "family"),
    [
        (OpenAIProvider(), "gpt-4o-2024-08-06", "gpt-4o"),
        (OpenAIProvider(), "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        (OpenAIProvider(), "gpt-4.1-nano-2025-04-14", "gpt-4.1-nano"),
        (OpenAIProvider(), "openai/gpt-4o", "gpt-4o"),
        (OpenAIProvider(), "ft:gpt-4o-mini-2024-07-18:acme::abc123", "gpt-4o-mini"),
        (OpenAIProvider(), "GPT-4O", "gpt-4o"),
        (AnthropicProvider(), "claude-3-5-sonnet-latest", "claude-3-5-sonnet"),
        (AnthropicProvider(), "claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        (AnthropicProvider(), "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        (AnthropicProvider(), "claude-opus-4-1-20250805", "claude-opus-4-1"),
        (GoogleProvider(), "gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        (AnthropicProvider(), "anthropic.claude-3-5-sonnet-20240620-v1:0", "claude-3-5-sonnet"),
        (AnthropicProvider(), "us.anthropic.claude-sonnet-4-20250514-v1:0", "claude-sonnet-4"),
        (AnthropicProvider(), "claude-3-5-sonnet@20240620", "claude-3-5-sonnet"),
    ],
)
def test_dated_and_aliased_names_resolve_to_their_family(
    provider: Any, name: str, family: str
) -> None:
    info = provider.model_info(name)
    assert info is not None and info.name == family
    assert provider.get_context_limit(name) == PRICES["models"][family]["context_window"]


@pytest.mark.parametrize(
    "model", ["gpt-4o", "gpt-4", "o3", "claude-3-5-sonnet-latest", "gemini-2.5-pro"]
)
def test_estimate_cost_uses_the_data_file(model: str) -> None:
    provider = provider_for_model(model)
    family = provider.model_info(model).name
    row = PRICES["models"][family]
    cached_price = row["cached_input_per_mtok"]
    if cached_price is None:
        cached_price = row["input_per_mtok"]
    expected = (
        (1_000_000 - 200_000) * row["input_per_mtok"]
        + 200_000 * cached_price
        + 50_000 * row["output_per_mtok"]
    ) / 1_000_000
    cost = provider.estimate_cost(1_000_000, 50_000, model, cached_input_tokens=200_000)
    assert cost == pytest.approx(expected)
    assert provider.estimate_cost(0, 0, model) == 0
    assert provider.prices_as_of() == PRICES["prices_as_of"]


def test_cached_tokens_beyond_the_input_are_capped() -> None:
    provider = OpenAIProvider()
    all_cached = provider.estimate_cost(1000, 0, "gpt-4o", cached_input_tokens=1000)
    assert provider.estimate_cost(1000, 0, "gpt-4o", cached_input_tokens=5000) == all_cached
    assert all_cached == pytest.approx(1000 * 1.25 / 1_000_000)
    assert provider.estimate_cost(1000, 0, "gpt-4o", cached_input_tokens=-3) == pytest.approx(
        1000 * 2.5 / 1_000_000
    )


def test_unknown_price_is_none() -> None:
    assert OpenAIProvider().estimate_cost(1000, 10, "my-local-llama") is None


def test_unknown_model_names_the_closest_known_ones() -> None:
    with pytest.raises(ProviderError, match="gpt-4o") as info:
        OpenAIProvider().get_context_limit("gpt-4oo")
    assert "gpt-4o" in info.value.details["suggestions"]
    assert info.value.details["model"] == "gpt-4oo"
    with pytest.raises(ProviderError, match="claude"):
        AnthropicProvider().get_context_limit("claude-sonet-4")


def test_a_model_of_another_provider_is_unknown_here() -> None:
    with pytest.raises(ProviderError):
        OpenAIProvider().get_context_limit("claude-3-5-sonnet-latest")


def test_fallback_limit_and_encoding_serve_unknown_models() -> None:
    provider = OpenAIProvider(fallback_context_limit=32_000, fallback_encoding="cl100k_base")
    assert provider.get_context_limit("my-local-llama") == 32_000
    assert provider.get_output_limit("my-local-llama") > 0
    counter = provider.get_token_counter("my-local-llama")
    assert counter.encoding_name == "cl100k_base"
    assert counter.count_text("hello world") == Tokenizer("gpt-4").count_text("hello world")
    assert provider.get_context_limit("gpt-4o") == 128_000


@pytest.mark.parametrize("limit", [0, -5])
def test_bad_fallback_limit_is_a_configuration_error(limit: int) -> None:
    with pytest.raises(ConfigurationError, match="fallback_context_limit"):
        OpenAIProvider(fallback_context_limit=limit)


def test_token_counters_are_exact_only_for_openai() -> None:
    assert OpenAIProvider().get_token_counter("gpt-4o-2024-08-06").is_exact
    assert not AnthropicProvider().get_token_counter("claude-3-5-sonnet-latest").is_exact
    assert not GoogleProvider().get_token_counter("gemini-2.5-pro").is_exact


def test_caching_switches() -> None:
    assert OpenAIProvider().cache_hints()["stable_first"] is True
    assert OpenAIProvider(enable_prefix_caching=False).cache_hints()["stable_first"] is False
    assert AnthropicProvider().cache_hints()["cache_control"] is True
    assert AnthropicProvider(enable_cache_control=False).cache_hints()["cache_control"] is False
    assert GoogleProvider().cache_hints()["stable_first"] is False
    assert GoogleProvider(enable_context_caching=True).cache_hints()["stable_first"] is True


@pytest.mark.parametrize(
    ("model", "kind"),
    [
        ("gpt-4o-mini", OpenAIProvider),
        ("claude-haiku-4-5", AnthropicProvider),
        ("gemini-2.0-flash-001", GoogleProvider),
    ],
)
def test_provider_for_model(model: str, kind: type) -> None:
    provider = provider_for_model(model)
    assert type(provider) is kind
    assert provider.get_context_limit(model) > 0


@pytest.mark.parametrize(
    ("model", "closest"),
    [("gpt4o", "gpt-4o"), ("gpt-5-ultra-nonexistent", "gpt-5"), ("claude-sonet-4", "claude")],
)
def test_provider_for_an_unknown_model_names_the_closest_and_how_to_use_it(
    model: str, closest: str
) -> None:
    with pytest.raises(ProviderError) as info:
        provider_for_model(model)
    message = info.value.message
    assert message.startswith(f"Unknown model {model!r}. Closest known models: {closest}")
    assert "HeadroomEngine(provider=OpenAIProvider(fallback_context_limit=" in message
    assert "fallback_encoding=" in message
    assert info.value.details["model"] == model
    assert info.value.details["suggestions"][0].startswith(closest)


RELEASES = {
    "gpt-4o-2024-08-06": "gpt-4o",
    "gpt-4o-mini-2024-07-18": "gpt-4o-mini",
    "chatgpt-4o-latest": "chatgpt-4o-latest",
    "gpt-4-turbo-preview": "gpt-4-turbo",
    "gpt-4-0613": "gpt-4",
    "gpt-4-32k-0613": "gpt-4-32k",
    "gpt-3.5-turbo-0125": "gpt-3.5-turbo",
    "gpt-3.5-turbo-16k": "gpt-3.5-turbo",
    "ft:gpt-4o-mini:org::id": "gpt-4o-mini",
    "claude-3-5-sonnet-20241022": "claude-3-5-sonnet",
    "claude-3-5-sonnet@20240620": "claude-3-5-sonnet",
    "claude-3-5-sonnet-v2@20241022": "claude-3-5-sonnet",
    "anthropic.claude-3-5-sonnet-20240620-v1:0": "claude-3-5-sonnet",
    "claude-sonnet-4-5-20250929": "claude-sonnet-4-5",
    "gemini-1.5-pro-002": "gemini-1.5-pro",
    "gemini-2.0-flash-exp": "gemini-2.0-flash",
    "gemini-2.5-pro-preview-05-06": "gemini-2.5-pro",
}
OTHER_MODELS = [
    "gpt-5-ultra-nonexistent",
    "gpt4o",
    "gpt-4o-",
    "gpt-4o-mini-custom",
    "claude-3-5-sonnet@",
    "claude-sonnet-4-5-turbo",
    "gemini-2.0-flash-lite",
]


def test_only_a_release_tag_makes_a_name_a_variant_of_a_family() -> None:
    resolved = {name: getattr(find_model(name), "name", None) for name in RELEASES}
    assert resolved == RELEASES
    assert {name: find_model(name) for name in OTHER_MODELS} == dict.fromkeys(OTHER_MODELS)


@pytest.mark.parametrize("name", OTHER_MODELS)
def test_a_name_that_is_not_a_release_is_unknown_and_has_no_price(name: str) -> None:
    with pytest.raises(ProviderError, match="Unknown model"):
        provider_for_model(name)
    assert OpenAIProvider().estimate_cost(1000, 0, name) is None


def test_a_provider_with_fallbacks_serves_a_name_no_catalogue_knows() -> None:
    provider = OpenAIProvider(fallback_context_limit=32_000, fallback_encoding="cl100k_base")
    assert provider.get_context_limit("gpt-5-ultra-nonexistent") == 32_000
    assert provider.estimate_cost(1000, 0, "gpt-5-ultra-nonexistent") is None


CONVERSATION = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What failed in run 42?"},
    {
        "role": "assistant",
        "content": "Checking.",
        "tool_calls": [
            {
                "id": "toolu_01",
                "type": "function",
                "function": {"name": "get_run", "arguments": '{"run_id": 42}'},
            },
            {
                "id": "toolu_02",
                "type": "function",
                "function": {"name": "get_logs", "arguments": '{"run_id": 42, "tail": 100}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "toolu_01", "content": '{"status": "failed"}'},
    {"role": "tool", "tool_call_id": "toolu_02", "content": "ERROR disk full", "is_error": True},
    {"role": "assistant", "content": "The disk was full."},
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "And this screenshot?"},
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "iVBO"},
            },
        ],
    },
]


def test_anthropic_format_round_trip() -> None:
    system, messages = to_anthropic(CONVERSATION)
    assert system == "You are terse."
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]
    assert messages[1]["content"][1] == {
        "type": "tool_use",
        "id": "toolu_01",
        "name": "get_run",
        "input": {"run_id": 42},
    }
    assert [b["tool_use_id"] for b in messages[2]["content"]] == ["toolu_01", "toolu_02"]
    back = from_anthropic(messages, system=system)
    assert [m["role"] for m in back] == [m["role"] for m in CONVERSATION]
    for original, restored in zip(CONVERSATION, back, strict=True):
        assert restored.get("content") == original.get("content")
        assert restored.get("tool_call_id") == original.get("tool_call_id")
        assert restored.get("is_error") == original.get("is_error")
        calls = [
            (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in restored.get("tool_calls", [])
        ]
        expected = [
            (c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in original.get("tool_calls", [])
        ]
        assert calls == expected


class _CountTokensHandler(BaseHTTPRequestHandler):
    """Answers Anthropic's count-tokens endpoint and records what it was sent."""

    requests: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, "body": body})
        payload = json.dumps({"input_tokens": 1234}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def anthropic_server() -> Iterator[str]:
    _CountTokensHandler.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _CountTokensHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_anthropic_client_gives_exact_counts(anthropic_server: str) -> None:
    anthropic = pytest.importorskip("anthropic", reason="the 'anthropic' extra is not installed")
    client = anthropic.Anthropic(api_key="test-key", base_url=anthropic_server, max_retries=0)
    counter = AnthropicProvider(client=client).get_token_counter("claude-3-5-sonnet-latest")
    assert counter.is_exact
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_run",
                "description": "Fetch a CI run.",
                "parameters": {"type": "object", "properties": {"run_id": {"type": "integer"}}},
            },
        }
    ]
    assert counter.count_messages(CONVERSATION[:5], tools=tools) == 1234
    [request] = _CountTokensHandler.requests
    assert request["path"].startswith("/v1/messages/count_tokens")
    body = request["body"]
    assert body["model"] == "claude-3-5-sonnet-latest"
    assert body["system"] == "You are terse."
    assert body["tools"][0]["name"] == "get_run"
    assert body["tools"][0]["input_schema"]["properties"] == {"run_id": {"type": "integer"}}
    assert body["messages"][1]["content"][1]["type"] == "tool_use"


def test_an_anthropic_api_failure_falls_back_to_the_estimate_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    anthropic = pytest.importorskip("anthropic", reason="the 'anthropic' extra is not installed")
    from headroom_core.engine import HeadroomEngine

    closed = ThreadingHTTPServer(("127.0.0.1", 0), _CountTokensHandler)
    url = f"http://127.0.0.1:{closed.server_address[1]}"
    closed.server_close()
    client = anthropic.Anthropic(api_key="test-key", base_url=url, max_retries=0, timeout=2)
    counter = AnthropicProvider(client=client).get_token_counter("claude-haiku-4-5")
    estimate = AnthropicProvider().get_token_counter("claude-haiku-4-5")
    assert counter.count_messages(CONVERSATION[:2]) == estimate.count_messages(CONVERSATION[:2])
    assert "count_tokens failed for claude-haiku-4-5" in caplog.text
    # so the request path goes on: the engine optimizes with the estimate
    engine = HeadroomEngine(provider=AnthropicProvider(client=client))
    assert engine.optimize(CONVERSATION, "claude-haiku-4-5").tokens_before > 0
    with pytest.raises(ProviderError):
        AnthropicProvider(client=client).get_token_counter("claude-unknown-9")
    with pytest.raises(ProviderError):
        AnthropicProvider(client=client).get_token_counter("claude-unknown-9")
