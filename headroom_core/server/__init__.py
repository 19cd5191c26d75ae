"""``headroom serve``: the HTTP face of Headroom for every other language.

An ASGI app (Starlette) under uvicorn: the compress and retrieve API the npm ``headroom-ai``
client calls, an OpenAI- and Anthropic-compatible proxy (``/v1/chat/completions``,
``/v1/messages``, streaming passed through), ``/health``, ``/stats`` and Prometheus
``/metrics``. Run it with :func:`serve` or ``headroom serve``; build the app for your own ASGI
server with :func:`create_app`. Needs the ``server`` extra.
"""

from __future__ import annotations

try:
    import httpx  # noqa: F401
    import prometheus_client  # noqa: F401
    import starlette  # noqa: F401
    import uvicorn  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "headroom_core.server needs Starlette, uvicorn, httpx and prometheus-client; install the "
        "'server' extra: pip install \"headroom-langchain[server]\""
    ) from exc

from headroom_core.server.app import create_app
from headroom_core.server.run import serve
from headroom_core.server.settings import (
    API_KEY_ENV,
    DEFAULT_HOST,
    DEFAULT_PORT,
    MAX_BODY_BYTES,
    ServerSettings,
)

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "MAX_BODY_BYTES",
    "ServerSettings",
    "create_app",
    "serve",
]
