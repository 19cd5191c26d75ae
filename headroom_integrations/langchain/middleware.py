"""HeadroomMiddleware: every model call of a LangChain v1 agent goes through the Headroom engine."""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Literal, cast

from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.messages import AIMessage, AnyMessage, BaseMessage, SystemMessage

from headroom_core.config import HeadroomConfig
from headroom_integrations.langchain._optimizer import (
    SAVINGS_EVENT,
    MessageOptimizer,
    Optimization,
    model_limit_of,
    model_name_of,
)
from headroom_integrations.langchain.tools import headroom_retrieve_tool

try:
    from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
except ImportError as error:  # pragma: no cover - depends on the installed extras
    raise ImportError(
        "HeadroomMiddleware needs the `langchain` package (v1 agents); install it with "
        "`pip install headroom-langchain[langchain]`."
    ) from error

if TYPE_CHECKING:
    from headroom_core.engine import HeadroomEngine

__all__ = ["HeadroomMiddleware"]


class HeadroomMiddleware(AgentMiddleware):
    """Agent middleware that optimizes the messages of each model call.

    Hooks ``wrap_model_call`` / ``awrap_model_call``: the system message and the conversation
    go through the engine (tool-output compression, cache alignment, context fitting) and the
    model receives the result; the agent's state keeps the full messages. The reply carries the
    savings in ``response_metadata["headroom"]`` and a ``headroom_savings`` custom event is
    emitted. With retrieval on (``config.retrieval.enabled``, the default) the middleware
    registers the ``headroom_retrieve`` tool (:func:`headroom_retrieve_tool`), so the model can
    follow every marker that names it; with retrieval off, markers name no tool.

    Args:
        config: Engine configuration.
        mode: ``"optimize"`` sends the optimized messages; ``"audit"`` only measures.
        model_name: Model name for counting and prices; by default the agent model's own.
        tool_profiles: Per-tool options, e.g. ``{"read_file": {"skip_compression": True}}``.
        store_url: Record one metrics row per model call.
        engine: Share one :class:`headroom_core.engine.HeadroomEngine` between adapters.

    Examples:
        ```python
        from langchain.agents import create_agent

        agent = create_agent("openai:gpt-4o", tools, middleware=[HeadroomMiddleware()])
        ```
    """

    def __init__(
        self,
        config: HeadroomConfig | None = None,
        *,
        mode: Literal["optimize", "audit"] = "optimize",
        model_name: str | None = None,
        tool_profiles: dict[str, dict[str, Any]] | None = None,
        store_url: str | None = None,
        engine: HeadroomEngine | None = None,
    ) -> None:
        super().__init__()
        self.model_name = model_name
        self.tool_profiles = tool_profiles
        chosen = engine.config if engine is not None else config or HeadroomConfig()
        self.tools = [headroom_retrieve_tool(chosen)] if chosen.retrieval.enabled else []
        self._optimizer = MessageOptimizer(
            config,
            mode=mode,
            store_url=store_url,
            engine=engine,
            source="langchain.middleware",
            model_name=model_name,
        )

    def get_metrics(self) -> dict[str, Any]:
        """Savings over all model calls so far: requests, tokens before/after/saved."""
        return self._optimizer.ledger.totals()

    def wrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], ModelResponse],
    ) -> Any:
        """Optimize the request's messages, then call the model."""
        model, options = self._call_options(request)
        optimization = self._optimizer.optimize(_request_messages(request), model, **options)
        with _outside_a_run_is_fine():
            dispatch_custom_event(SAVINGS_EVENT, optimization.summary)
        return _stamp(handler(_optimized_request(request, optimization)), optimization.summary)

    async def awrap_model_call(
        self,
        request: ModelRequest,
        handler: Callable[[ModelRequest], Awaitable[ModelResponse]],
    ) -> Any:
        """Async :meth:`wrap_model_call`."""
        model, options = self._call_options(request)
        optimization = await self._optimizer.aoptimize(_request_messages(request), model, **options)
        with _outside_a_run_is_fine():
            await adispatch_custom_event(SAVINGS_EVENT, optimization.summary)
        response = await handler(_optimized_request(request, optimization))
        return _stamp(response, optimization.summary)

    def _call_options(self, request: ModelRequest) -> tuple[str, dict[str, Any]]:
        model = self.model_name or model_name_of(request.model)
        return model, {
            "tool_profiles": self.tool_profiles,
            "model_limit": model_limit_of(request.model),
        }


def _request_messages(request: ModelRequest) -> list[BaseMessage]:
    system = [request.system_message] if request.system_message is not None else []
    return [*system, *request.messages]


def _optimized_request(request: ModelRequest, optimization: Optimization) -> ModelRequest:
    # the request's own messages or ones rebuilt from core dicts: all of the AnyMessage kinds
    messages = cast("list[AnyMessage]", optimization.messages)
    if messages and isinstance(messages[0], SystemMessage) and request.system_message is not None:
        return request.override(system_message=messages[0], messages=messages[1:])
    return request.override(messages=messages)


def _outside_a_run_is_fine() -> contextlib.AbstractContextManager[None]:
    """Custom events need a parent run; a model called outside a graph has none."""
    return contextlib.suppress(RuntimeError)


def _stamp(response: Any, summary: dict[str, Any]) -> Any:
    """Put the savings on the reply message(s) the agent stores."""
    replies = [response] if isinstance(response, AIMessage) else getattr(response, "result", [])
    for message in replies:
        if isinstance(message, AIMessage):
            message.response_metadata["headroom"] = summary
    return response
