"""Run a Headroom HTTP server on a thread for the duration of a test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from headroom_core.server import HeadroomServer


@contextmanager
def running(server: HeadroomServer) -> Iterator[HeadroomServer]:
    """Serve ``server`` on a background thread; shut it down and close it afterwards."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        thread.join()
        server.server_close()
