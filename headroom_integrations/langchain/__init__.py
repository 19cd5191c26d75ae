"""LangChain integration: compress what reaches the model, inside chains, agents and graphs.

``from headroom_integrations.langchain import HeadroomChatModel`` wraps any chat model;
``HeadroomTransformer`` is the same optimization as an LCEL step; ``HeadroomMiddleware`` plugs
into ``langchain.agents.create_agent``. Public names load lazily, so importing the package does not
import ``langchain`` (agents) or LangGraph until they are used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headroom_core._lazy import lazy_exports

try:
    import langchain_core  # noqa: F401
except ImportError as error:  # pragma: no cover - exercised in a subprocess test
    raise ImportError(
        "headroom_integrations.langchain needs LangChain; install it with "
        "`pip install headroom-langchain[langchain]`."
    ) from error

_EXPORTS: dict[str, str] = {
    "HeadroomCallbackHandler": "headroom_integrations.langchain.callbacks",
    "HeadroomChatMessageHistory": "headroom_integrations.langchain.history",
    "HeadroomChatModel": "headroom_integrations.langchain.chat_model",
    "HeadroomDocumentCompressor": "headroom_integrations.langchain.retrievers",
    "HeadroomMiddleware": "headroom_integrations.langchain.middleware",
    "HeadroomTransformer": "headroom_integrations.langchain.transformer",
    "create_headroom_node": "headroom_integrations.langchain.langgraph",
    "from_core_messages": "headroom_integrations.langchain._messages",
    "headroom_retrieve_tool": "headroom_integrations.langchain.tools",
    "headroom_savings": "headroom_integrations.langchain.callbacks",
    "to_core_messages": "headroom_integrations.langchain._messages",
    "wrap_tools_with_headroom": "headroom_integrations.langchain.tools",
}

__all__ = sorted(_EXPORTS)


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs
    from headroom_integrations.langchain._messages import from_core_messages, to_core_messages  # noqa: F401
    from headroom_integrations.langchain.callbacks import HeadroomCallbackHandler, headroom_savings  # noqa: F401
    from headroom_integrations.langchain.chat_model import HeadroomChatModel  # noqa: F401
    from headroom_integrations.langchain.history import HeadroomChatMessageHistory  # noqa: F401
    from headroom_integrations.langchain.langgraph import create_headroom_node  # noqa: F401
    from headroom_integrations.langchain.middleware import HeadroomMiddleware  # noqa: F401
    from headroom_integrations.langchain.retrievers import HeadroomDocumentCompressor  # noqa: F401
    from headroom_integrations.langchain.tools import (  # noqa: F401
        headroom_retrieve_tool,
        wrap_tools_with_headroom,
    )
    from headroom_integrations.langchain.transformer import HeadroomTransformer  # noqa: F401
