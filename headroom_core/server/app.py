"""The ASGI app of ``headroom serve`` (Starlette): the compress and retrieve API, the OpenAI- and
Anthropic-compatible proxy, health, stats and Prometheus metrics.

Every request goes through one :class:`~headroom_core.engine.HeadroomEngine` per process,
which records one metrics row per request with source ``"server"``. Several workers (or
replicas) share the metrics and retrieval stores through one database.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Sized
from http import HTTPStatus
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from headroom_core.errors import CacheError, HeadroomError
from headroom_core.results import SimulationResult
from headroom_core.server.errors import RequestError, bad_request
from headroom_core.server.observability import (
    Counters,
    PrometheusMetrics,
    health,
    stats_from_store,
)
from headroom_core.server.settings import ServerSettings

__all__ = ["SOURCE", "Service", "create_app"]

logger = logging.getLogger("headroom_core.server")

SOURCE = "server"
RECENT_RETRIEVALS = 20
Handler = Callable[[Request], Awaitable[Response]]


class Service:
    """What every request of one process shares: settings, engine, counters, HTTP client."""

    def __init__(self, settings: ServerSettings) -> None:
        from headroom_core.engine import HeadroomEngine
        from headroom_core.retrieval import default_originals_store

        self.settings = settings
        config = settings.config.model_copy(deep=True)
        if settings.retrieval_store_url != config.retrieval.store_url:
            config.retrieval.store_url = settings.retrieval_store_url
        self.engine = HeadroomEngine(config, store_url=settings.store_url, source=SOURCE)
        self.originals = default_originals_store(config.retrieval)
        self.counters = Counters()
        self.metrics = PrometheusMetrics.shared()
        self.started = time.time()
        self.retrievals = 0
        self.recent_retrievals: deque[dict[str, Any]] = deque(maxlen=RECENT_RETRIEVALS)
        self.http: Any = None  # httpx.AsyncClient, opened with the app

    def check_key(self, request: Request) -> None:
        """Headroom's own endpoints need the key when one is set (constant-time comparison)."""
        if not presents_key(request, self.settings.api_key):
            raise RequestError(
                HTTPStatus.UNAUTHORIZED,
                "authentication_error",
                "Missing or wrong API key: send 'Authorization: Bearer <key>'",
            )

    async def read_json(self, request: Request) -> dict[str, Any]:
        """The request body as a JSON object, refused with 413 past ``max_body_bytes``."""
        limit = self.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise _too_large(int(declared), limit)
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise _too_large(len(body), limit)
        try:
            parsed = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise bad_request(f"Request body is not valid JSON: {error}") from None
        if not isinstance(parsed, dict):
            raise bad_request("Request body must be a JSON object")
        return parsed

    async def optimize(self, messages: Any, model: str, **options: Any) -> SimulationResult:
        """The engine's answer within ``request_timeout`` (504 after); engine errors as
        :class:`RequestError`."""
        try:
            return await asyncio.wait_for(
                self.engine.aoptimize(messages, model, **options),
                timeout=self.settings.request_timeout,
            )
        except asyncio.TimeoutError:
            raise RequestError(
                HTTPStatus.GATEWAY_TIMEOUT,
                "timeout_error",
                f"Optimizing the request took over {self.settings.request_timeout} s",
            ) from None
        except HeadroomError as error:
            raise RequestError.from_headroom_error(error) from error

    def account(self, endpoint: str, result: SimulationResult, started: float) -> None:
        """Count an answered request in /stats and /metrics."""
        self.counters.record(result)
        self.metrics.observe(endpoint, result, time.perf_counter() - started)

    def stats(self) -> dict[str, Any]:
        """``GET /stats``: from the shared store when there is one, else this process."""
        store = self.engine.store
        if store is None:
            return self.counters.snapshot()
        return stats_from_store(store, SOURCE, self.started)


def presents_key(request: Request, key: str | None) -> bool:
    """Whether the request carries ``key`` (``Authorization: Bearer``, ``x-headroom-key`` or
    ``x-api-key``); always True when no key is set."""
    if key is None:
        return True
    expected = key.encode()
    return any(hmac.compare_digest(given.encode(), expected) for given in _offered_keys(request))


def _offered_keys(request: Request) -> list[str]:
    headers = request.headers
    offered = [headers.get("x-headroom-key", ""), headers.get("x-api-key", "")]
    auth = headers.get("authorization", "")
    if auth[:7].lower() == "bearer ":
        offered.append(auth[7:].strip())
    return [value for value in offered if value]


def _too_large(size: int, limit: int) -> RequestError:
    return RequestError(
        HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        "request_too_large",
        f"Request body of {size} bytes exceeds the limit of {limit}",
    )


# -- Headroom's own endpoints -----------------------------------------------------------------


async def compress(request: Request) -> Response:
    """``POST /v1/compress``: ``{"messages", "model", "token_budget"?, "config"?}``."""
    service: Service = request.app.state.service
    started = time.perf_counter()
    service.check_key(request)
    body = await service.read_json(request)
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise bad_request("'messages' must be a list of messages")
    model = body.get("model") or "gpt-4o"
    if not isinstance(model, str):
        raise bad_request("'model' must be a string")
    budget = body.get("token_budget")
    if budget is not None and (type(budget) is not int or budget <= 0):
        raise bad_request(f"'token_budget' must be a positive integer, got {budget!r}")
    mode, frozen = _compress_config(body.get("config"))
    result = await service.optimize(
        messages,
        model,
        mode=mode,
        token_budget=budget,
        frozen_message_count=frozen or None,
    )
    service.account("compress", result, started)
    return JSONResponse(_compress_response(result))


async def retrieve(request: Request) -> Response:
    """``POST /v1/retrieve``: ``{"hash", "query"?}`` -> the items a crush left out."""
    from headroom_core.retrieval import retrieve as retrieve_items

    service: Service = request.app.state.service
    service.check_key(request)
    body = await service.read_json(request)
    key, query = body.get("hash"), body.get("query")
    if not isinstance(key, str) or not key:
        raise bad_request("'hash' must be the key shown in a compressed output's marker")
    if query is not None and not isinstance(query, str):
        raise bad_request("'query' must be a string")
    try:
        items = retrieve_items(key, query=query, store=service.originals)
    except CacheError as error:
        raise RequestError(HTTPStatus.NOT_FOUND, "cache_error", error.message) from error
    _note_retrieval(service, key, query, len(items), "api")
    return JSONResponse({"hash": key, "query": query, "results": items, "count": len(items)})


async def retrieve_tool_call(request: Request) -> Response:
    """``POST /v1/retrieve/tool_call``: a model's ``headroom_retrieve`` call (OpenAI or
    Anthropic form) -> the tool result to send back, in the same form."""
    from headroom_core.retrieval import RETRIEVAL_TOOL_NAME, retrieval_tool_result

    service: Service = request.app.state.service
    service.check_key(request)
    body = await service.read_json(request)
    call = body.get("tool_call")
    if not isinstance(call, dict):
        raise bad_request("'tool_call' must be the model's tool call object")
    function: dict[str, Any] = call["function"] if isinstance(call.get("function"), dict) else call
    name = function.get("name")
    arguments = function.get("arguments", function.get("input")) or {}
    if name != RETRIEVAL_TOOL_NAME:
        raise bad_request(f"'tool_call' calls {name!r}, not {RETRIEVAL_TOOL_NAME}")
    if not isinstance(arguments, (str, dict)):
        raise bad_request("the tool call's arguments must be a JSON object")
    content = retrieval_tool_result(arguments, service.originals)
    answer = json.loads(content)
    found = len(answer.get("items", []))
    _note_retrieval(service, str(answer.get("key", "")), answer.get("query"), found, "tool")
    call_id = str(call.get("id", ""))
    anthropic = body.get("provider") == "anthropic" or call.get("type") == "tool_use"
    message = (
        {"type": "tool_result", "tool_use_id": call_id, "content": content}
        if anthropic
        else {"role": "tool", "tool_call_id": call_id, "content": content}
    )
    success = "error" not in answer
    return JSONResponse(
        {"tool_call_id": call_id, "content": content, "success": success, "message": message}
    )


async def retrieve_stats(request: Request) -> Response:
    """``GET /v1/retrieve/stats``: the store's size and this process's recent retrievals."""
    service: Service = request.app.state.service
    service.check_key(request)
    store = service.originals
    entries = len(store) if isinstance(store, Sized) else None
    retrieval = service.engine.config.retrieval
    return JSONResponse(
        {
            "store": {
                "entries": entries,
                "max_entries": retrieval.max_entries,
                "ttl_seconds": retrieval.ttl_seconds,
                "url": retrieval.store_url,
                "retrievals": service.retrievals,
            },
            "recent_retrievals": list(service.recent_retrievals),
        }
    )


def _note_retrieval(
    service: Service, key: str, query: Any, items: int, kind: str
) -> None:
    service.retrievals += 1
    service.recent_retrievals.appendleft(
        {"hash": key, "query": query, "items_retrieved": items, "retrieval_type": kind}
    )


async def health_endpoint(request: Request) -> Response:
    """``GET /health``: open without the key, for probes."""
    settings: ServerSettings = request.app.state.service.settings
    return JSONResponse(
        health(
            {
                "optimize": True,
                "workers": settings.workers,
                "api_key_required": settings.api_key is not None,
                "store": settings.store_url is not None,
            }
        )
    )


async def stats(request: Request) -> Response:
    """``GET /stats``: requests, failures, tokens, latency, recent requests, per-model counts."""
    service: Service = request.app.state.service
    service.check_key(request)
    return JSONResponse(await asyncio.to_thread(service.stats))


async def metrics(request: Request) -> Response:
    """``GET /metrics``: Prometheus text format."""
    service: Service = request.app.state.service
    service.check_key(request)
    payload, content_type = service.metrics.exposition()
    return Response(payload, media_type=content_type)


def _compress_config(config: Any) -> tuple[str | None, int]:
    """The mode and frozen prefix a request's ``config`` asks for; other settings of the
    client have no meaning here and are ignored (the engine rejects an unknown mode)."""
    if config is None:
        return None, 0
    if not isinstance(config, dict):
        raise bad_request("'config' must be an object")
    mode = config.get("default_mode")
    if mode is not None and not isinstance(mode, str):
        raise bad_request(f"'config.default_mode' must be a string, got {mode!r}")
    frozen = config.get("frozen_message_count") or 0
    if type(frozen) is not int or frozen < 0:
        raise bad_request(f"'config.frozen_message_count' must be a whole number, got {frozen!r}")
    return mode, frozen


def _compress_response(result: SimulationResult) -> dict[str, Any]:
    """The engine's result in the field names the client reads, plus our extra numbers."""
    summary = result.summary()
    return {
        "messages": result.messages_optimized,
        "tokens_before": result.tokens_before,
        "tokens_after": result.tokens_after,
        "tokens_saved": result.tokens_saved,
        "compression_ratio": round(result.compression_ratio, 4),
        "transforms_applied": summary["transforms_applied"],
        "ccr_hashes": summary["retrieval_keys"],
        "transform_savings": summary["transform_savings"],
        "waste_signals": summary["waste_signals"],
        "savings_percent": summary["savings_percent"],
        "estimated_savings_usd": summary["estimated_savings_usd"],
        "request_id": result.request_id,
        "model": result.model,
        "mode": result.mode,
        "latency_ms": summary["latency_ms"],
        "failed": result.failed,
        "error": result.error,
    }


# -- the app ------------------------------------------------------------------------------------


def _answering(service: Service, endpoint: str, handler: Handler) -> Handler:
    """``handler`` with errors turned into JSON answers and counted (the caller's 4xx apart)."""

    async def answer(request: Request) -> Response:
        try:
            return await handler(request)
        except RequestError as error:
            if not error.is_callers:
                service.metrics.fail(error.error_type)
            return error.response()
        except Exception:  # the service must answer, whatever broke
            logger.exception("Unexpected failure serving %s", request.url.path)
            service.metrics.fail("internal_error")
            return RequestError(
                HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "Internal server error"
            ).response()

    answer.__name__ = f"{endpoint}_answer"
    return answer


def create_app(settings: ServerSettings | None = None) -> Starlette:
    """The ASGI app for ``settings`` (the service's own state is built here, in the process
    that serves: each worker has its engine, all of them share the stores).

    Examples:
        >>> app = create_app(ServerSettings(store_url=None))
        >>> sorted(route.path for route in app.routes)[:3]
        ['/health', '/metrics', '/stats']
    """
    from headroom_core.server.proxy import anthropic_messages, chat_completions

    settings = settings or ServerSettings()
    service = Service(settings)
    endpoints: list[tuple[str, str, Handler]] = [
        ("/health", "GET", health_endpoint),
        ("/stats", "GET", stats),
        ("/metrics", "GET", metrics),
        ("/v1/compress", "POST", compress),
        ("/v1/retrieve", "POST", retrieve),
        ("/v1/retrieve/tool_call", "POST", retrieve_tool_call),
        ("/v1/retrieve/stats", "GET", retrieve_stats),
        ("/v1/chat/completions", "POST", chat_completions),
        ("/v1/messages", "POST", anthropic_messages),
    ]
    routes = [
        Route(path, _answering(service, path, handler), methods=[method])
        for path, method, handler in endpoints
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import httpx

        limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
        timeout = httpx.Timeout(settings.upstream_timeout, connect=10.0)
        service.http = httpx.AsyncClient(limits=limits, timeout=timeout)
        try:
            yield
        finally:
            await service.http.aclose()
            await asyncio.to_thread(service.engine.close)  # flushes the metrics rows

    served = ", ".join(f"{method} {path}" for path, method, _ in endpoints)

    async def not_served(request: Request, error: Exception) -> Response:
        """An unknown route or method, answered in the error shape the client reads."""
        status = HTTPStatus(getattr(error, "status_code", HTTPStatus.NOT_FOUND))
        return RequestError(
            status,
            "not_found_error" if status == HTTPStatus.NOT_FOUND else "invalid_request_error",
            f"headroom serve does not serve {request.method} {request.url.path}; it serves "
            f"{served}",
        ).response()

    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={404: not_served, 405: not_served},
    )
    app.state.service = service
    return app
