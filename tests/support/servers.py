"""Run ``headroom serve`` for a test: the app in-process under uvicorn, or the real command."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn

from headroom_core.server import ServerSettings, create_app
from headroom_core.server.app import Service


@dataclass
class Served:
    """A running service: its base URL and (in-process) its shared state."""

    url: str
    service: Service | None = None

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """One request; the status and the JSON answer (or the text when it is not JSON)."""
        content = raw if raw is not None else None
        response = httpx.request(
            method,
            f"{self.url}{path}",
            json=body if raw is None and body is not None else None,
            content=content,
            headers={"Content-Type": "application/json", **(headers or {})},
            timeout=60,
        )
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text


@contextmanager
def serving(settings: ServerSettings) -> Iterator[Served]:
    """The app for ``settings`` under uvicorn on a free loopback port, on a thread."""
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the service did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(f"http://127.0.0.1:{port}", app.state.service)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@contextmanager
def headroom_serve(*args: str, env: dict[str, str] | None = None) -> Iterator[Served]:
    """The real ``headroom serve`` command on a free port, until the test ends (SIGTERM)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "headroom_core.cli", "serve", "--port", "0", *args],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()
        found = re.search(r"(http://\S+) with", line)
        if found is None:
            raise RuntimeError(f"headroom serve did not start: {line}{process.stderr.read()}")
        url = found[1]
        logged: list[str] = []  # what the service writes later, read so its pipe never fills
        threading.Thread(target=lambda: logged.extend(process.stderr or []), daemon=True).start()
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("headroom serve did not answer /health")
            time.sleep(0.05)
        yield Served(url)
    finally:
        process.terminate()
        process.wait(timeout=60)
