"""What every framework adapter checks when it is built, and how old argument names keep working.

An adapter (LangChain chat model, transformer, middleware, LangGraph node, LlamaIndex LLM and
postprocessor...) fails open at request time: a fault inside Headroom sends the original messages.
That is right for faults, wrong for settings: a mistyped mode or store URL would then skip every
call with a warning. So each adapter runs :func:`check_adapter_settings` in its constructor and a
bad setting raises :class:`~headroom_core.errors.ConfigurationError` (or
:class:`~headroom_core.errors.ProviderError` for an unknown model) at once.

One vocabulary across adapters: ``llm`` is the wrapped model object, ``model_name`` the model
name used for token counts, the window and prices. :func:`renamed_argument` maps the older
spellings onto them with a :class:`HeadroomDeprecationWarning`.
"""

from __future__ import annotations

import warnings
from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

from headroom_core.errors import ConfigurationError

if TYPE_CHECKING:
    from headroom_core.engine import HeadroomEngine

__all__ = [
    "ADAPTER_MODES",
    "HeadroomDeprecationWarning",
    "check_adapter_settings",
    "renamed_argument",
]

ADAPTER_MODES = ("optimize", "audit")
"""Modes an adapter can run in: it always calls the model, so ``simulate`` is not one."""


class HeadroomDeprecationWarning(DeprecationWarning):
    """An argument or name that still works but will go; shown by default (see below)."""


# Python hides DeprecationWarning outside __main__; a renamed argument in library code would go
# unseen, so this category is shown once per call site, as LangChain does with its own.
warnings.filterwarnings("default", category=HeadroomDeprecationWarning)


def check_adapter_settings(
    *,
    mode: str | None = None,
    model_name: str | None = None,
    store_url: str | None = None,
    engine: HeadroomEngine | None = None,
) -> None:
    """Raise now for a setting that would make every call fail open later.

    Args:
        mode: ``"optimize"`` or ``"audit"``; None for the engine's default.
        model_name: A model the catalogue (or ``engine``'s provider, when it has fallbacks)
            knows; None when the adapter learns it per call.
        store_url: An SQLAlchemy URL whose driver is installed; None for no store.
        engine: The engine the adapter will use, if one was given.

    Raises:
        ConfigurationError: ``mode`` or ``store_url`` is invalid (names the field and value).
        ProviderError: ``model_name`` is unknown (names the closest known models).

    Examples:
        >>> check_adapter_settings(mode="optimize", model_name="gpt-4o")
        >>> check_adapter_settings(mode="bogus")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        headroom_core.errors.ConfigurationError: Invalid value for mode: 'bogus'. Allowed: ...
    """
    if mode is not None and mode not in ADAPTER_MODES:
        raise ConfigurationError(
            f"Invalid value for mode: {mode!r}. Allowed: {', '.join(ADAPTER_MODES)}.",
            details={"field": "mode", "value": mode, "allowed": list(ADAPTER_MODES)},
        )
    if store_url is not None:
        from headroom_core.storage import parse_store_url

        parse_store_url(store_url)
    if model_name is not None:
        if engine is not None:
            engine.provider_for(model_name).get_context_limit(model_name)
        else:
            from headroom_core.providers import provider_for_model

            provider_for_model(model_name).get_context_limit(model_name)


def renamed_argument(
    arguments: MutableMapping[str, Any], old: str, new: str, owner: str
) -> None:
    """Move ``arguments[old]`` to ``arguments[new]`` with a deprecation warning.

    Raises:
        ConfigurationError: Both spellings were given.
    """
    if old not in arguments:
        return
    if new in arguments:
        raise ConfigurationError(
            f"{owner} got both {old}= and {new}=; pass only {new}= ({old}= is its old name).",
            details={"field": old, "value": arguments[old]},
        )
    warnings.warn(
        f"{owner}({old}=...) is deprecated; use {new}=.",
        HeadroomDeprecationWarning,
        stacklevel=3,
    )
    arguments[new] = arguments.pop(old)
