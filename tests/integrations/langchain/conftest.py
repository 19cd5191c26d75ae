"""Recording setup for the HTTP tests: a request matcher that ignores how much was compressed."""

from __future__ import annotations

import json
from typing import Any


def _openai_shape(r1: Any, r2: Any) -> None:
    """Same model, stream flag and sequence of roles (raises AssertionError otherwise)."""

    def shape(request: Any) -> tuple[Any, ...]:
        body = json.loads(request.body or b"{}")
        roles = tuple(m.get("role") for m in body.get("messages", []))
        return body.get("model"), bool(body.get("stream")), roles

    assert shape(r1) == shape(r2)


def pytest_recording_configure(config: Any, vcr: Any) -> None:
    vcr.register_matcher("openai_shape", _openai_shape)
