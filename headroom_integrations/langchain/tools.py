"""Compress a tool's output as it returns, before it ever enters the conversation."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.callbacks import (
    AsyncCallbackManagerForToolRun,
    CallbackManagerForToolRun,
    adispatch_custom_event,
    dispatch_custom_event,
)
from langchain_core.messages import ToolMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.runnables.config import patch_config
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from headroom_core.adapter_settings import check_adapter_settings
from headroom_core.config import HeadroomConfig
from headroom_core.tokenizer import get_tokenizer
from headroom_integrations.langchain._optimizer import DEFAULT_MODEL, SAVINGS_EVENT
from headroom_integrations.langchain._savings import SavingsLedger

if TYPE_CHECKING:
    from headroom_core.results import CrushResult
    from headroom_core.retrieval import OriginalsStore
    from headroom_core.transforms.router import ContentRouter

__all__ = ["HeadroomTool", "headroom_retrieve_tool", "wrap_tools_with_headroom"]

logger = logging.getLogger("headroom_integrations.langchain")

_COPIED_FIELDS = (
    "name",
    "description",
    "args_schema",
    "return_direct",
    "response_format",
    "handle_tool_error",
    "handle_validation_error",
)


class _RetrieveArguments(BaseModel):
    key: str = Field(description="The key from the omission marker.")
    query: str | None = Field(
        default=None, description="Optional: what to match, e.g. 'id 200' or 'status: failed'."
    )
    offset: int = Field(default=0, ge=0, description="Optional: skip this many matching items.")


def headroom_retrieve_tool(
    config: HeadroomConfig | None = None, *, store: OriginalsStore | None = None
) -> BaseTool:
    """The ``headroom_retrieve`` tool: what a model calls to get back items a crush left out.

    Add it to any agent's tools (``create_agent``, a LangGraph ``ToolNode``, ``bind_tools``)
    wherever tool outputs are compressed with retrieval on, so every marker that names it can
    be followed. It answers from the store the crushers wrote to (the process-wide store for
    ``config.retrieval``, or ``store``) and never raises for the model's mistakes.

    Examples:
        ```python
        tools = [*wrap_tools_with_headroom([list_orders]), ...]  # includes this tool
        node = ToolNode([list_orders, headroom_retrieve_tool()])
        ```
    """
    from headroom_core.retrieval import (
        RETRIEVAL_TOOL_NAME,
        default_originals_store,
        retrieval_tool_definition,
        retrieval_tool_result,
    )

    chosen = store if store is not None else default_originals_store(
        (config or HeadroomConfig()).retrieval
    )

    def retrieve(key: str, query: str | None = None, offset: int = 0) -> str:
        return retrieval_tool_result({"key": key, "query": query, "offset": offset}, chosen)

    return StructuredTool.from_function(
        func=retrieve,
        name=RETRIEVAL_TOOL_NAME,
        description=retrieval_tool_definition()["function"]["description"],
        args_schema=_RetrieveArguments,
    )


def wrap_tools_with_headroom(
    tools: Sequence[BaseTool],
    *,
    config: HeadroomConfig | None = None,
    skip: Collection[str] = (),
    tool_profiles: Mapping[str, Mapping[str, Any]] | None = None,
    model_name: str = DEFAULT_MODEL,
    query: str | None = None,
) -> list[BaseTool]:
    """Wrap tools so that their outputs come back compressed.

    Each output goes through the content router (JSON crusher, log/search line crusher, text and
    code passthrough), with the tool call's arguments (and ``query``, when given) as what the
    compression keeps relevant items for. A failure while compressing returns the output as the
    tool produced it.

    Args:
        tools: The tools to wrap; their names, descriptions and argument schemas are kept.
        config: Engine configuration (crusher settings).
        skip: Names of tools whose outputs must stay exactly as produced.
        tool_profiles: Per-tool router options, e.g. ``{"search": {"max_items": 20}}``.
        model_name: Model whose tokenizer measures the outputs.
        query: A standing question to keep outputs relevant to, besides the call's arguments.

    Raises:
        ProviderError: ``model_name`` is not a known model.

    Returns:
        The tools in the same order (skipped ones are the original objects), followed by
        :func:`headroom_retrieve_tool` when retrieval is on, so the markers that name it can be
        followed.

    Examples:
        ```python
        tools = wrap_tools_with_headroom([search_logs, list_runs], skip={"read_file"})
        agent = create_agent(model, tools)
        ```
    """
    from headroom_core.transforms.router import ContentRouter

    check_adapter_settings(model_name=model_name)
    router = ContentRouter(config)
    profiles = tool_profiles or {}
    wrapped = [
        tool
        if tool.name in skip
        else HeadroomTool(
            wrapped=tool,
            model_name=model_name,
            query=query,
            profile=dict(profiles.get(tool.name) or {}) or None,
        )._routing(router)
        for tool in tools
    ]
    if router.store is not None:
        wrapped.append(headroom_retrieve_tool(config, store=router.store))
    return wrapped


class HeadroomTool(BaseTool):
    """A tool whose output is compressed on return (built by :func:`wrap_tools_with_headroom`).

    Savings of each call are emitted as a ``headroom_savings`` custom event and tallied in
    :meth:`get_metrics`.
    """

    wrapped: BaseTool
    model_name: str = DEFAULT_MODEL
    query: str | None = None
    profile: dict[str, Any] | None = None

    model_config = ConfigDict(arbitrary_types_allowed=True)

    _router: ContentRouter | None = PrivateAttr(None)
    _ledger: SavingsLedger = PrivateAttr(default_factory=SavingsLedger)

    def __init__(self, **kwargs: Any) -> None:
        wrapped = kwargs.get("wrapped")
        if isinstance(wrapped, BaseTool):  # otherwise pydantic reports the bad field
            for field in _COPIED_FIELDS:
                kwargs.setdefault(field, getattr(wrapped, field))
        super().__init__(**kwargs)

    def _routing(self, router: ContentRouter) -> HeadroomTool:
        self._router = router
        return self

    @property
    def router(self) -> ContentRouter:
        """The content router that compresses outputs (one per wrap call, built lazily)."""
        if self._router is None:
            from headroom_core.transforms.router import ContentRouter

            self._router = ContentRouter()
        return self._router

    def get_metrics(self) -> dict[str, Any]:
        """Savings of this tool so far: calls, tokens before/after/saved, per crusher."""
        return self._ledger.totals()

    def _run(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: CallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        child = patch_config(config, callbacks=run_manager.get_child() if run_manager else None)
        output = self.wrapped.invoke(self._input(args, kwargs), config=child)
        compressed, summary = self._compress(output, args, kwargs)
        if summary is not None and run_manager is not None:
            dispatch_custom_event(SAVINGS_EVENT, summary, config=child)
        return compressed

    async def _arun(
        self,
        *args: Any,
        config: RunnableConfig,
        run_manager: AsyncCallbackManagerForToolRun | None = None,
        **kwargs: Any,
    ) -> Any:
        child = patch_config(config, callbacks=run_manager.get_child() if run_manager else None)
        output = await self.wrapped.ainvoke(self._input(args, kwargs), config=child)
        compressed, summary = self._compress(output, args, kwargs)
        if summary is not None and run_manager is not None:
            await adispatch_custom_event(SAVINGS_EVENT, summary, config=child)
        return compressed

    def _input(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The wrapped tool's input; a tool call when it returns content and an artifact."""
        tool_input = args[0] if args and not kwargs else kwargs
        if self.response_format == "content_and_artifact":
            return {
                "type": "tool_call",
                "id": f"headroom-{uuid.uuid4().hex}",
                "name": self.wrapped.name,
                "args": tool_input if isinstance(tool_input, dict) else {"input": tool_input},
            }
        return tool_input

    def _compress(
        self, output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> tuple[Any, dict[str, Any] | None]:
        artifact = None
        if isinstance(output, ToolMessage):
            output, artifact = output.content, output.artifact
        result = self._route(output, args, kwargs)
        content = result.compressed if result is not None and result.changed else output
        if self.response_format == "content_and_artifact":
            content = (content, artifact)
        if result is None:
            return content, None
        summary = _summary(result, self.model_name)
        self._ledger.record(summary)
        return content, summary

    def _route(
        self, output: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> CrushResult | None:
        try:
            text = output if isinstance(output, str) else _json_text(output)
            if text is None:
                return None
            arguments = json.dumps(kwargs or list(args), ensure_ascii=False, default=str)
            return self.router.route(
                text,
                query=" ".join(part for part in (self.query, arguments) if part),
                tokenizer=get_tokenizer(self.model_name),
                tool_name=self.name,
                profile=self.profile,
            )
        except Exception as error:
            text = f"{type(error).__name__}: {error}"
            logger.warning(
                "Headroom could not compress the output of tool %r; returning it unchanged (%s)",
                self.name,
                text,
            )
            self._ledger.record({"request_id": uuid.uuid4().hex, "failed": True, "error": text})
            return None


def _json_text(output: Any) -> str | None:
    if not isinstance(output, (dict, list)):
        return None
    try:
        return json.dumps(output, ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def _summary(result: CrushResult, model_name: str) -> dict[str, Any]:
    return {
        "request_id": uuid.uuid4().hex,
        "model": model_name,
        "mode": "optimize",
        "tokens_before": result.tokens_before,
        "tokens_after": result.tokens_after,
        "tokens_saved": result.tokens_saved,
        "transforms_applied": [result.strategy] if result.changed else [],
        "transform_savings": {result.strategy: result.tokens_saved} if result.changed else {},
        "failed": False,
        "error": None,
    }
