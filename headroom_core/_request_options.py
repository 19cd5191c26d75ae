"""The ``headroom_*`` keyword options a request may carry (the seed's client API), read out of
the request before it goes to the provider: the same names for ``HeadroomClient`` and the proxy."""

from __future__ import annotations

from typing import Any

__all__ = ["pop_request_options"]

_OPTIONS = {
    "headroom_mode": "mode",
    "headroom_keep_turns": "keep_turns",
    "headroom_keep_last_tool_exchanges": "keep_last_tool_exchanges",
    "headroom_model_limit": "model_limit",
    "headroom_tool_profiles": "tool_profiles",
}


def pop_request_options(request: dict[str, Any]) -> dict[str, Any]:
    """Remove the ``headroom_*`` options from ``request``; the engine options they name."""
    return {target: request.pop(name) for name, target in _OPTIONS.items() if name in request}
