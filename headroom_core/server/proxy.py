"""The OpenAI- and Anthropic-compatible proxy of ``headroom serve``.

``POST /v1/chat/completions`` and ``POST /v1/messages`` take the provider's own request: the
messages go through the engine (modes by ``x-headroom-mode`` or ``headroom_*`` body fields), the
request goes to the upstream with the caller's provider credentials (passed through, never
logged or stored), and the upstream's answer comes back as it is: its status and body, or its
event stream byte for byte as it arrives. One metrics row per request, with the provider's own
token counts when it reports them. A model no catalogue knows is forwarded unchanged (the
upstream may serve any name), logged and counted as a failed optimization. An unreachable
upstream is a 502 with a JSON error, so the client's fallback works; a request that cannot fit
the model's window is a 400 and is never sent.

Credentials: with an API key set, a proxied request either brings its own provider credentials
(``Authorization`` or ``x-api-key`` other than Headroom's key: the caller pays, as the npm client
sends them) or presents Headroom's key, and is then sent with the server's own provider key
(``$OPENAI_API_KEY`` / ``$ANTHROPIC_API_KEY``) when it has one. Markers in proxied requests name
no tool: the proxy cannot follow a streamed reply's calls.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from headroom_core._request_options import pop_request_options
from headroom_core.errors import ProviderError
from headroom_core.providers.anthropic_format import from_anthropic, with_anthropic_messages
from headroom_core.results import SimulationResult
from headroom_core.server.app import Service, presents_key
from headroom_core.server.errors import RequestError, bad_request

if TYPE_CHECKING:
    import httpx

__all__ = ["anthropic_messages", "chat_completions"]

_SNIFF_BYTES = 16_384  # of a stream's start and end, where providers report usage


@dataclass(frozen=True)
class _Wire:
    """What differs between the two providers' requests and replies."""

    endpoint: str
    credential: str  # the header carrying the provider key
    env_key: str
    passed_headers: tuple[str, ...]

    @property
    def anthropic(self) -> bool:
        return self.credential == "x-api-key"

    def upstream_url(self, service: Service) -> str:
        settings = service.settings
        if self.anthropic:
            return f"{settings.anthropic_api_url}/v1/messages"
        return f"{settings.openai_api_url}/chat/completions"

    def messages(self, body: Mapping[str, Any]) -> list[dict[str, Any]]:
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise bad_request("'messages' must be a list of messages")
        if self.anthropic:
            return from_anthropic(messages, body.get("system"))
        return messages

    def tools(self, body: Mapping[str, Any]) -> list[dict[str, Any]] | None:
        """The request's tool definitions in OpenAI form (they count against the window)."""
        tools = [tool for tool in body.get("tools") or [] if isinstance(tool, dict)]
        if self.anthropic:
            tools = [
                {
                    "type": "function",
                    "function": {
                        "name": tool.get("name", ""),
                        "description": tool.get("description", ""),
                        "parameters": tool.get("input_schema") or {},
                    },
                }
                for tool in tools
                if "name" in tool
            ]
        return tools or None

    def outgoing(self, body: dict[str, Any], result: SimulationResult) -> dict[str, Any]:
        """The request to send: the caller's, with the optimized messages when they changed."""
        if not result.transforms_applied or result.failed:
            return body
        if not self.anthropic:
            return {**body, "messages": result.messages_optimized}
        return with_anthropic_messages(body, result.messages_optimized)

    def usage(self, reply: Any) -> tuple[int | None, int | None]:
        """(input, output) tokens from a JSON reply's ``usage``."""
        usage = reply.get("usage") if isinstance(reply, dict) else None
        if not isinstance(usage, dict):
            return None, None
        if self.anthropic:
            return usage.get("input_tokens"), usage.get("output_tokens")
        return usage.get("prompt_tokens"), usage.get("completion_tokens")

    def stream_usage(self, head: bytes, tail: bytes) -> tuple[int | None, int | None]:
        """(input, output) tokens from a stream's events (Anthropic: ``message_start`` and
        ``message_delta``; OpenAI: the usage chunk of ``stream_options.include_usage``)."""
        found_in, found_out = None, None
        for event in [*_events(head), *_events(tail)]:
            if self.anthropic:
                message = event.get("message")
                start = message.get("usage") if isinstance(message, dict) else None
                if isinstance(start, dict):
                    found_in = start.get("input_tokens", found_in)
                delta = event.get("usage") if event.get("type") == "message_delta" else None
                if isinstance(delta, dict):
                    found_out = delta.get("output_tokens", found_out)
            else:
                prompt, completion = self.usage(event)
                found_in, found_out = prompt or found_in, completion or found_out
        return found_in, found_out


OPENAI = _Wire(
    "chat_completions",
    "authorization",
    "OPENAI_API_KEY",
    ("openai-organization", "openai-project", "openai-beta"),
)
ANTHROPIC = _Wire(
    "messages",
    "x-api-key",
    "ANTHROPIC_API_KEY",
    ("anthropic-version", "anthropic-beta", "authorization"),
)


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``: an OpenAI Chat Completions request, optimized, relayed."""
    return await _proxy(request, OPENAI)


async def anthropic_messages(request: Request) -> Response:
    """``POST /v1/messages``: an Anthropic Messages request, optimized, relayed."""
    return await _proxy(request, ANTHROPIC)


async def _proxy(request: Request, wire: _Wire) -> Response:
    service: Service = request.app.state.service
    started = time.perf_counter()
    headers = _upstream_headers(request, service, wire)
    body = await service.read_json(request)
    options = pop_request_options(body)
    if request.headers.get("x-headroom-mode"):
        options["mode"] = request.headers["x-headroom-mode"]
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise bad_request("'model' must name the model")
    result = await _optimize(service, wire, body, model, options)
    if result.mode == "simulate":  # the plan, without calling the model
        service.engine.record(result)
        service.account(wire.endpoint, result, started)
        from headroom_core.server.app import _compress_response

        return JSONResponse(_compress_response(result))
    outgoing = wire.outgoing(body, result)
    if body.get("stream"):
        return await _relay_stream(service, wire, outgoing, headers, result, started)
    return await _relay(service, wire, outgoing, headers, result, started)


async def _optimize(
    service: Service, wire: _Wire, body: dict[str, Any], model: str, options: dict[str, Any]
) -> SimulationResult:
    """The engine's plan. A model no catalogue knows may still be one the upstream serves (an
    OpenAI-compatible server takes any name): the request goes out unchanged, with a warning and
    a failure in the metrics. A plan asked for (``simulate``) cannot be made and stays a 400."""
    messages = wire.messages(body)
    try:
        return await service.optimize(
            messages, model, tools=wire.tools(body), retrieval=False, record=False, **options
        )
    except RequestError as error:
        unknown = error.__cause__
        mode = options.get("mode") or service.engine.config.default_mode
        if isinstance(unknown, ProviderError) and mode != "simulate":
            return service.engine.sent_unchanged(messages, model, unknown, mode)
        raise


async def _relay(
    service: Service,
    wire: _Wire,
    outgoing: dict[str, Any],
    headers: dict[str, str],
    result: SimulationResult,
    started: float,
) -> Response:
    upstream = await _send(service, wire, outgoing, headers, stream=False)
    usage: tuple[int | None, int | None] = (None, None)
    if upstream.status_code < 400:
        with contextlib.suppress(ValueError):
            usage = wire.usage(upstream.json())
    _finish(service, wire, result, started, usage, upstream.status_code)
    return Response(
        upstream.content,
        status_code=upstream.status_code,
        media_type=upstream.headers.get("content-type", "application/json"),
    )


async def _relay_stream(
    service: Service,
    wire: _Wire,
    outgoing: dict[str, Any],
    headers: dict[str, str],
    result: SimulationResult,
    started: float,
) -> Response:
    upstream = await _send(service, wire, outgoing, headers, stream=True)
    if upstream.status_code >= 400:
        content = await upstream.aread()
        await upstream.aclose()
        _finish(service, wire, result, started, (None, None), upstream.status_code)
        media = upstream.headers.get("content-type", "application/json")
        return Response(content, status_code=upstream.status_code, media_type=media)

    async def relay() -> AsyncIterator[bytes]:
        head, tail = bytearray(), bytearray()
        try:
            async for chunk in upstream.aiter_raw():
                if len(head) < _SNIFF_BYTES:
                    head += chunk[: _SNIFF_BYTES - len(head)]
                tail = (tail + chunk)[-_SNIFF_BYTES:]
                yield chunk
        finally:
            await upstream.aclose()
            usage = wire.stream_usage(bytes(head), bytes(tail))
            _finish(service, wire, result, started, usage, upstream.status_code)

    media = upstream.headers.get("content-type", "text/event-stream")
    return StreamingResponse(relay(), status_code=upstream.status_code, media_type=media)


async def _send(
    service: Service,
    wire: _Wire,
    outgoing: dict[str, Any],
    headers: dict[str, str],
    *,
    stream: bool,
) -> httpx.Response:
    """The upstream's response (its body still to read when ``stream``); an upstream that
    does not answer in time is a 504, one that cannot be reached a 502."""
    import httpx

    request = service.http.build_request(
        "POST", wire.upstream_url(service), json=outgoing, headers=headers
    )
    try:
        return await service.http.send(request, stream=stream)
    except httpx.TimeoutException as error:
        raise _unreachable(HTTPStatus.GATEWAY_TIMEOUT, "upstream_timeout", wire, error) from None
    except httpx.TransportError as error:
        raise _unreachable(HTTPStatus.BAD_GATEWAY, "upstream_unreachable", wire, error) from None


def _finish(
    service: Service,
    wire: _Wire,
    result: SimulationResult,
    started: float,
    usage: tuple[int | None, int | None],
    status: int,
) -> None:
    """Record the request once the provider answered: one metrics row, with its usage."""
    result.provider_input_tokens, result.provider_output_tokens = usage
    if status >= 400:
        service.metrics.fail(f"upstream_{status // 100}xx")
    service.engine.record(result)
    service.account(wire.endpoint, result, started)


def _upstream_headers(request: Request, service: Service, wire: _Wire) -> dict[str, str]:
    """The headers for the provider: the caller's credentials (unless they are Headroom's own
    key), else the server's provider key; a few provider headers passed through."""
    key = service.settings.api_key
    incoming = request.headers
    credential = incoming.get(wire.credential, "")
    value = credential[7:].strip() if credential[:7].lower() == "bearer " else credential
    own = bool(value) and not _is(value, key)
    if not own and not presents_key(request, key):
        raise RequestError(
            HTTPStatus.UNAUTHORIZED,
            "authentication_error",
            f"Send your provider key ({wire.credential}) or Headroom's API key",
        )
    headers = {"content-type": "application/json", "accept-encoding": "identity"}
    for name in wire.passed_headers:
        if name in incoming:
            headers[name] = incoming[name]
    if own:
        headers[wire.credential] = credential
    elif os.environ.get(wire.env_key):
        server_key = os.environ[wire.env_key]
        headers[wire.credential] = server_key if wire.anthropic else f"Bearer {server_key}"
    bearer = headers.get("authorization", "")
    if _is(bearer[7:].strip(), key):
        del headers["authorization"]  # Headroom's key never goes upstream
    if wire.anthropic:
        headers.setdefault("anthropic-version", "2023-06-01")
    return headers


def _is(given: str, key: str | None) -> bool:
    return key is not None and hmac.compare_digest(given.encode(), key.encode())


def _unreachable(status: HTTPStatus, kind: str, wire: _Wire, error: Exception) -> RequestError:
    provider = "Anthropic" if wire.anthropic else "OpenAI"
    return RequestError(status, kind, f"The {provider} upstream did not answer: {error}")


def _events(raw: bytes) -> list[dict[str, Any]]:
    """The JSON objects of the ``data:`` lines of server-sent events (partial lines skipped)."""
    events = []
    for line in raw.decode("utf-8", "replace").split("\n"):
        if line.startswith("data:"):
            try:
                event = json.loads(line[5:].strip())
            except ValueError:
                continue
            if isinstance(event, dict):
                events.append(event)
    return events
