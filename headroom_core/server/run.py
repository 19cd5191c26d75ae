"""Running ``headroom serve``: uvicorn with N workers on one socket, stopped gracefully.

The socket is bound here, before any worker starts, so a busy or invalid port is one clear
error, and port 0 picks a free port that every worker shares. Workers build their app from the
settings passed in ``HEADROOM_SERVE_SETTINGS``; with several, Prometheus metrics are summed
through a directory they share. SIGTERM and Ctrl-C stop uvicorn gracefully: requests in flight
finish and each worker's engine flushes its metrics.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
import sys
import tempfile

from starlette.applications import Starlette

from headroom_core.errors import ConfigurationError
from headroom_core.server.settings import ServerSettings

__all__ = ["SETTINGS_ENV", "PortError", "app_from_environment", "bind", "serve"]

logger = logging.getLogger("headroom_core.server")

SETTINGS_ENV = "HEADROOM_SERVE_SETTINGS"


class PortError(ConfigurationError):
    """The address cannot be listened on (taken, or not this machine's)."""


def app_from_environment() -> Starlette:
    """The app of one worker, built from the settings the parent passed in the environment."""
    from headroom_core.server.app import create_app

    return create_app(ServerSettings.model_validate_json(os.environ[SETTINGS_ENV]))


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``.

    Raises:
        PortError: The port is taken or the host is not an address of this machine.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        raise PortError(
            f"cannot listen on {host}:{port}: {error.strerror or error}",
            details={"field": "port", "value": port, "host": host},
        ) from None
    sock.set_inheritable(True)
    return sock


def serve(settings: ServerSettings | None = None) -> None:
    """Run the service until stopped (Ctrl-C or SIGTERM).

    Writes one line to stderr when it listens (with the port, useful with ``port=0``).

    Raises:
        PortError: The address cannot be listened on.
    """
    import uvicorn

    settings = settings or ServerSettings()
    sock = bind(settings.host, settings.port)
    port = sock.getsockname()[1]
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    if settings.workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="headroom-metrics-")
    if settings.api_key is None and not _is_loopback(settings.host):
        logger.warning(
            "headroom serve listens on %s without an API key: anyone who can reach it can use "
            "it. Set --api-key or HEADROOM_API_KEY.",
            settings.host,
        )
    auth = "API key required" if settings.api_key else "no API key"
    sys.stderr.write(
        f"Headroom serving on http://{settings.host}:{port} with {settings.workers} worker(s) "
        f"({auth}); proxy to {settings.openai_api_url} and {settings.anthropic_api_url}. "
        "Ctrl-C stops it.\n"
    )
    sys.stderr.flush()
    config = uvicorn.Config(
        "headroom_core.server.run:app_from_environment",
        factory=True,
        workers=settings.workers,
        log_level="warning",
        timeout_graceful_shutdown=30,
        lifespan="on",
    )
    if settings.workers > 1:
        from uvicorn.supervisors import Multiprocess

        Multiprocess(config, sockets=[sock]).run()
    else:
        uvicorn.Server(config).run(sockets=[sock])


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
