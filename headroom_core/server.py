"""HTTP compress service: the endpoint the TypeScript ``compress()`` of npm ``headroom-ai`` calls.

Standard library only: a :class:`~http.server.ThreadingHTTPServer` serves each connection on its own
thread and hands every request to the one :class:`~headroom_core.engine.HeadroomEngine`, which
records metrics with source ``"server"``. The wire format follows the published client:

- ``POST /v1/compress`` with ``{"messages", "model", "token_budget"?, "config"?}`` (OpenAI chat
  messages) answers ``{"messages", "tokens_before", "tokens_after", "tokens_saved",
  "compression_ratio", "transforms_applied", "ccr_hashes", ...}``; ``ccr_hashes`` are the keys
  of the dropped items whose markers the compressed messages show.
- Errors are ``{"error": {"type", "message"}}``; the client turns 401 into ``HeadroomAuthError``
  and a 4xx ``invalid_request_error`` into ``HeadroomCompressError``; on a 5xx it retries, then
  falls back to the original messages.
- ``POST /v1/retrieve`` with ``{"hash", "query"?}`` hands back items a crush dropped.
- ``Authorization: Bearer <key>`` when the server has a key; ``GET /health`` stays open for probes.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import os
import signal
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from headroom_core._version import __version__
from headroom_core.errors import (
    CacheError,
    ConfigurationError,
    ContextOverflowError,
    HeadroomError,
    ProviderError,
    ValidationError,
)

if TYPE_CHECKING:
    from headroom_core.config import HeadroomConfig
    from headroom_core.engine import HeadroomEngine
    from headroom_core.results import SimulationResult

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "HeadroomServer",
    "create_server",
    "serve",
]

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8787
MAX_BODY_BYTES = 20 * 1024 * 1024
API_KEY_ENV = "HEADROOM_API_KEY"
RECENT_REQUESTS = 50  # entries of /stats "recent_requests"
LATENCY_WINDOW = 1000  # latency figures of /stats cover this many latest requests

# Our errors on the request path -> status. Errors in the caller's request are all typed
# ``invalid_request_error``: the client raises its ``HeadroomCompressError`` for a 4xx of a type it
# does not map and stops there, while a type it maps (``validation_error``...) is retried and ends
# as a misleading connection error. Server-side failures are 500s, which the client retries and
# then answers with the original messages (its fallback).
_CALLER_ERRORS = (ValidationError, ConfigurationError, ProviderError, ContextOverflowError)


class RequestError(Exception):
    """A request the server refuses; becomes a JSON error response."""

    def __init__(self, status: HTTPStatus, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message

    def payload(self) -> dict[str, Any]:
        """The JSON body: ``{"error": {"type", "message"}}``."""
        return {"error": {"type": self.error_type, "message": self.message}}

    @classmethod
    def from_headroom_error(cls, error: HeadroomError) -> RequestError:
        """Map an engine error to the status and type the client acts on."""
        if isinstance(error, _CALLER_ERRORS):
            return cls(HTTPStatus.BAD_REQUEST, "invalid_request_error", error.message)
        return cls(HTTPStatus.INTERNAL_SERVER_ERROR, "compression_error", error.message)


class ServerStats:
    """Counters since the server started, in the shape the client's ``proxyStats()`` reads.

    Latency figures cover the latest ``LATENCY_WINDOW`` requests; everything else is a total.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._started = time.time()
        self._total = 0
        self._failed = 0
        self._by_model: dict[str, int] = {}
        self._tokens_before = 0
        self._tokens_after = 0
        self._latencies: list[float] = []
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_REQUESTS)

    def record(self, result: SimulationResult) -> None:
        """Count one compress request the engine answered (fail-open answers count as failed)."""
        entry = {
            "request_id": result.request_id,
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "model": result.model,
            "mode": result.mode,
            "tokens_input_before": result.tokens_before,
            "tokens_input_after": result.tokens_after,
            "tokens_saved": result.tokens_saved,
            "savings_percent": round(result.savings_percent, 2),
            "optimization_latency_ms": round(result.latency_ms, 3),
            "transforms_applied": list(result.transforms_applied),
            "waste_signals": result.waste_signals.to_dict(),
        }
        with self._lock:
            self._total += 1
            self._failed += int(result.failed)
            self._by_model[result.model] = self._by_model.get(result.model, 0) + 1
            self._tokens_before += result.tokens_before
            self._tokens_after += result.tokens_after
            self._latencies.append(result.latency_ms)
            del self._latencies[:-LATENCY_WINDOW]
            self._recent.appendleft(entry)

    def record_rejected(self) -> None:
        """Count a request refused before it reached the engine."""
        with self._lock:
            self._total += 1
            self._failed += 1

    def snapshot(self) -> dict[str, Any]:
        """The counters as a JSON-ready dict."""
        with self._lock:
            saved = max(0, self._tokens_before - self._tokens_after)
            latencies = list(self._latencies)
            return {
                "requests": {
                    "total": self._total,
                    "failed": self._failed,
                    "cached": 0,
                    "rate_limited": 0,
                    "by_model": dict(self._by_model),
                    "by_provider": {},
                },
                "tokens": {
                    "input": self._tokens_after,
                    "output": 0,
                    "saved": saved,
                    "total_before_compression": self._tokens_before,
                    "savings_percent": round(100.0 * saved / self._tokens_before, 2)
                    if self._tokens_before
                    else 0.0,
                },
                "latency": {
                    "average_ms": round(sum(latencies) / len(latencies), 3) if latencies else 0.0,
                    "min_ms": round(min(latencies), 3) if latencies else 0.0,
                    "max_ms": round(max(latencies), 3) if latencies else 0.0,
                },
                "recent_requests": list(self._recent),
                "uptime_seconds": round(time.time() - self._started, 1),
            }


class HeadroomServer(ThreadingHTTPServer):
    """The compress service: a threading HTTP server holding the engine, the key and the stats.

    Args:
        address: ``(host, port)``; port 0 picks a free port (see :attr:`url`).
        engine: The engine every request goes through.
        api_key: When set, requests other than ``/health`` need ``Authorization: Bearer <key>``.
        max_body_bytes: Larger request bodies get 413 without being read.
    """

    daemon_threads = True

    def __init__(
        self,
        address: tuple[str, int],
        *,
        engine: HeadroomEngine,
        api_key: str | None = None,
        max_body_bytes: int = MAX_BODY_BYTES,
    ) -> None:
        super().__init__(address, _Handler)
        self.engine = engine
        self.api_key = api_key or None
        self.max_body_bytes = max_body_bytes
        self.stats = ServerStats()

    @property
    def url(self) -> str:
        """Base URL clients use, e.g. ``http://127.0.0.1:8787``."""
        host, port = self.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    def server_close(self) -> None:
        """Stop listening and close the engine (flushing its metrics)."""
        super().server_close()
        self.engine.close()


class _Handler(BaseHTTPRequestHandler):
    """Routes one request; every answer is JSON with an explicit length (keep-alive safe)."""

    server: HeadroomServer
    protocol_version = "HTTP/1.1"
    server_version = f"headroom/{__version__}"
    timeout = 60  # seconds a client may take to send a request; idle keep-alive ends there too

    def do_GET(self) -> None:
        self._dispatch({"/health": self._health, "/stats": self._stats})

    def do_POST(self) -> None:
        self._dispatch({"/v1/compress": self._compress, "/v1/retrieve": self._retrieve})

    def _dispatch(self, routes: Mapping[str, Any]) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        self._body_read = False
        try:
            route = routes.get(path)
            if route is None:
                known = path in ("/health", "/stats", "/v1/compress", "/v1/retrieve")
                raise RequestError(
                    HTTPStatus.METHOD_NOT_ALLOWED if known else HTTPStatus.NOT_FOUND,
                    "method_not_allowed" if known else "not_found",
                    f"{self.command} {path} is not served here",
                )
            if path != "/health":
                self._check_key()
            self._send(HTTPStatus.OK, route())
        except RequestError as error:
            if path == "/v1/compress":
                self.server.stats.record_rejected()
            self._send(error.status, error.payload())
        except Exception:  # the server must answer, whatever broke
            logger.exception("Unexpected failure serving %s %s", self.command, path)
            self._send(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                {"error": {"type": "internal_error", "message": "Internal server error"}},
            )

    def _check_key(self) -> None:
        expected = self.server.api_key
        if expected is None:
            return
        auth = self.headers.get("Authorization", "")
        given = auth[7:] if auth[:7].lower() == "bearer " else self.headers.get("x-api-key", "")
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise RequestError(
                HTTPStatus.UNAUTHORIZED,
                "authentication_error",
                "Missing or wrong API key: send 'Authorization: Bearer <key>'",
            )

    def _health(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "version": __version__,
            "config": {"optimize": True, "cache": False, "rate_limit": False},
        }

    def _stats(self) -> dict[str, Any]:
        return self.server.stats.snapshot()

    def _compress(self) -> dict[str, Any]:
        body = self._read_json()
        messages = body.get("messages")
        if not isinstance(messages, list):
            raise _bad_request("'messages' must be a list of messages")
        model = body.get("model") or "gpt-4o"
        if not isinstance(model, str):
            raise _bad_request("'model' must be a string")
        budget = body.get("token_budget")
        if budget is not None and (type(budget) is not int or budget <= 0):
            raise _bad_request(f"'token_budget' must be a positive integer, got {budget!r}")
        engine = self.server.engine
        # The client's budget is for the messages; the engine's limit also holds the reply.
        limit = budget + engine.config.intelligent_context.output_buffer_tokens if budget else None
        try:
            result = engine.optimize(
                messages, model, mode=_request_mode(body.get("config")), model_limit=limit
            )
        except HeadroomError as error:
            raise RequestError.from_headroom_error(error) from error
        self.server.stats.record(result)
        return _compress_response(result)

    def _retrieve(self) -> dict[str, Any]:
        from headroom_core.retrieval import default_originals_store, retrieve

        body = self._read_json()
        key, query = body.get("hash"), body.get("query")
        if not isinstance(key, str) or not key:
            raise _bad_request("'hash' must be the key shown in a compressed output's marker")
        if query is not None and not isinstance(query, str):
            raise _bad_request("'query' must be a string")
        store = default_originals_store(self.server.engine.config.retrieval)
        try:
            items = retrieve(key, query=query, store=store)
        except CacheError as error:
            raise RequestError(HTTPStatus.NOT_FOUND, "cache_error", error.message) from error
        return {"hash": key, "query": query, "results": items, "count": len(items)}

    def _read_json(self) -> dict[str, Any]:
        length_header = self.headers.get("Content-Length")
        if length_header is None:
            raise RequestError(
                HTTPStatus.LENGTH_REQUIRED, "invalid_request_error", "Content-Length is required"
            )
        try:
            length = int(length_header)
        except ValueError:
            raise _bad_request(f"Bad Content-Length {length_header!r}") from None
        if length > self.server.max_body_bytes:
            raise RequestError(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "request_too_large",
                f"Request body of {length} bytes exceeds the limit of {self.server.max_body_bytes}",
            )
        raw = self.rfile.read(length)
        self._body_read = True
        try:
            body = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise _bad_request(f"Request body is not valid JSON: {error}") from None
        if not isinstance(body, dict):
            raise _bad_request("Request body must be a JSON object")
        return body

    def _send(self, status: HTTPStatus, payload: Mapping[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        unread_body = not self._body_read and self.headers.get("Content-Length", "0") != "0"
        if unread_body:
            self.close_connection = True  # the body must not be taken for the next request
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            if self.close_connection:
                self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(data)
            if unread_body:
                self.wfile.flush()
                _discard_input(self.connection)
        except OSError as error:  # the client went away before reading the answer
            logger.debug("Client %s left before the answer: %s", self.address_string(), error)
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        logger.info("%s %s", self.address_string(), format % args)


def _discard_input(connection: socket.socket, seconds: float = 2.0) -> None:
    """Read and drop what the client is still sending, for a bounded time.

    Closing a socket with unread input makes the kernel reset the connection, and a client still
    sending its body would then lose our answer (the 401 or 413) before reading it.
    """
    deadline = time.monotonic() + seconds
    try:
        connection.shutdown(socket.SHUT_WR)
        while (remaining := deadline - time.monotonic()) > 0:
            connection.settimeout(remaining)
            if not connection.recv(65536):
                break
    except OSError:
        pass  # the client went away or took too long; nothing more to do for it


def _bad_request(message: str) -> RequestError:
    return RequestError(HTTPStatus.BAD_REQUEST, "invalid_request_error", message)


def _request_mode(config: Any) -> str | None:
    """The mode a request asks for (the client's ``simulate()`` sends ``config.default_mode``).

    Other client settings in ``config`` have no meaning here and are ignored; the engine rejects
    an unknown mode.
    """
    if config is None:
        return None
    if not isinstance(config, dict):
        raise _bad_request("'config' must be an object")
    mode = config.get("default_mode")
    if mode is not None and not isinstance(mode, str):
        raise _bad_request(f"'config.default_mode' must be a string, got {mode!r}")
    return mode


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


def create_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    api_key: str | None = None,
    store_url: str | None = None,
    config: HeadroomConfig | None = None,
    engine: HeadroomEngine | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> HeadroomServer:
    """Build (but do not start) the compress service.

    Args:
        host: Interface to bind; loopback by default so nothing is exposed by accident.
        port: TCP port; 0 picks a free one.
        api_key: Required bearer key; defaults to the ``HEADROOM_API_KEY`` environment variable.
        store_url: Metrics store (e.g. ``sqlite:///headroom.db``); None records nothing.
        config: Engine configuration.
        engine: A ready engine (then ``store_url`` and ``config`` are not used).
        max_body_bytes: Bodies above this size are refused with 413.

    Returns:
        The server; call ``serve_forever()`` (it is a :class:`socketserver.BaseServer`).

    Example:
        >>> server = create_server(port=0)
        >>> server.url.startswith("http://127.0.0.1:")
        True
        >>> server.server_close()
    """
    if engine is None:
        from headroom_core.engine import HeadroomEngine

        engine = HeadroomEngine(config, store_url=store_url, source="server")
    key = api_key if api_key is not None else os.environ.get(API_KEY_ENV)
    return HeadroomServer((host, port), engine=engine, api_key=key, max_body_bytes=max_body_bytes)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    *,
    api_key: str | None = None,
    store_url: str | None = None,
    config: HeadroomConfig | None = None,
) -> None:
    """Run the compress service until interrupted (Ctrl-C or SIGTERM); see :func:`create_server`.

    Writes one line with the address (useful with ``port=0``) to stderr when it is ready.
    """
    server = create_server(host, port, api_key=api_key, store_url=store_url, config=config)
    if server.api_key is None and not _is_loopback(host):
        logger.warning(
            "The compress service listens on %s without an API key: anyone who can reach it "
            "can use it. Set --api-key or HEADROOM_API_KEY.",
            host,
        )
    auth = "API key required" if server.api_key else "no API key"
    sys.stderr.write(
        f"Headroom compress service on {server.url} ({auth}): POST /v1/compress, "
        "POST /v1/retrieve, GET /health, GET /stats. Ctrl-C stops it.\n"
    )
    sys.stderr.flush()
    if threading.current_thread() is threading.main_thread():
        # Process managers and containers stop services with SIGTERM: stop as on Ctrl-C, so
        # the engine flushes the metrics it has queued.
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
