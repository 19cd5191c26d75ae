"""Observe Headroom savings across a chain or agent: a callback handler and a context manager."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import LLMResult
from langchain_core.tracers.context import register_configure_hook

from headroom_integrations.langchain._optimizer import SAVINGS_EVENT
from headroom_integrations.langchain._savings import SavingsLedger

__all__ = ["HeadroomCallbackHandler", "headroom_savings"]


class HeadroomCallbackHandler(BaseCallbackHandler):
    """Collects the savings of every Headroom-optimized call it sees, per run and in total.

    It listens to the ``headroom_savings`` custom event (emitted by ``HeadroomTransformer`` and
    by ``HeadroomChatModel`` on the invoke path) and to ``response_metadata["headroom"]`` in
    ``on_llm_end`` (which also covers streaming); a request heard on both channels is counted
    once. Safe to share across threads (``batch``) and async tasks.

    Examples:
        ```python
        handler = HeadroomCallbackHandler()
        chain.invoke(inputs, config={"callbacks": [handler]})
        handler.total["tokens_saved"], handler.per_run
        ```
    """

    run_inline = True

    def __init__(self) -> None:
        self._ledger = SavingsLedger()

    @property
    def total(self) -> dict[str, Any]:
        """Totals: requests, failures, tokens before/after/saved, savings percent, cost saved."""
        return self._ledger.totals()

    @property
    def per_run(self) -> dict[UUID | None, dict[str, Any]]:
        """The same totals per run id (the LLM run, or the transformer's chain run)."""
        return self._ledger.runs()

    def reset(self) -> None:
        """Forget everything collected so far."""
        self._ledger.reset()

    def on_custom_event(self, name: str, data: Any, *, run_id: UUID, **kwargs: Any) -> None:
        """Record a ``headroom_savings`` event."""
        if name == SAVINGS_EVENT and isinstance(data, Mapping):
            self._ledger.record(data, run_id)

    def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        """Record the summary a chat model wrapper put into ``response_metadata``."""
        for generations in response.generations:
            for generation in generations:
                message = getattr(generation, "message", None)
                summary = getattr(message, "response_metadata", {}).get("headroom")
                if isinstance(summary, Mapping):
                    self._ledger.record(summary, run_id)


_current_handler: ContextVar[HeadroomCallbackHandler | None] = ContextVar(
    "headroom_savings_handler", default=None
)
register_configure_hook(_current_handler, inheritable=True)


@contextmanager
def headroom_savings() -> Iterator[HeadroomCallbackHandler]:
    """Collect the savings of every LangChain call made inside the ``with`` block.

    Examples:
        ```python
        with headroom_savings() as savings:
            agent.invoke({"messages": [...]})
        print(savings.total["tokens_saved"])
        ```
    """
    handler = HeadroomCallbackHandler()
    token = _current_handler.set(handler)
    try:
        yield handler
    finally:
        _current_handler.reset(token)
