"""``headroom serve``: the HTTP face of Headroom for every other language.

An ASGI app (Starlette) under uvicorn: the compress and retrieve API the npm ``headroom-ai``
client calls, an OpenAI- and Anthropic-compatible proxy (``/v1/chat/completions``,
``/v1/messages``, streaming passed through), ``/health``, ``/stats`` and Prometheus
``/metrics``. Run it with :func:`serve` or ``headroom serve``; build the app for your own ASGI
server with :func:`create_app`. Needs the ``server`` extra.
"""

from __future__ import annotations

from headroom_core._extras import require_extra

require_extra(
    "headroom_core.server",
    "Starlette, uvicorn, httpx and prometheus-client",
    "server",
    "httpx",
    "prometheus_client",
    "starlette",
    "uvicorn",
)

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
