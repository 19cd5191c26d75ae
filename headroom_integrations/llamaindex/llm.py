"""HeadroomLLM: any LlamaIndex LLM, with every chat request optimized by the Headroom engine.

Why an LLM wrapper rather than a chat memory: the wrapper sees the exact request the model gets —
system prompt, retrieved context, the whole chat history *and* the tool calls and results of
the agent run in progress (``FunctionAgent`` keeps those in its scratchpad, not in memory) — and
it plugs into chat engines (``index.as_chat_engine(llm=...)``) and agents
(``FunctionAgent(llm=...)``, ``AgentWorkflow``) alike, without changing how their memory works.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import LLM, ToolSelection
from llama_index.core.prompts import BasePromptTemplate

from headroom_core.adapter_settings import check_adapter_settings, renamed_argument
from headroom_core.alignment import tag_origins
from headroom_core.config import HeadroomConfig, configuration_error
from headroom_core.engine import HeadroomEngine
from headroom_core.errors import ConfigurationError, ContextOverflowError, HeadroomError
from headroom_core.results import SimulationResult
from headroom_core.retrieval import RETRIEVAL_TOOL_NAME, open_originals_store
from headroom_integrations.llamaindex._messages import from_core_messages, to_core_messages
from headroom_integrations.llamaindex._retrieval_rounds import RetrievalRounds
from headroom_integrations.llamaindex._templates import remember_template, take_filled_template
from headroom_integrations.llamaindex.events import HeadroomChatOptimizeEvent

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["HeadroomLLM"]

logger = logging.getLogger(__name__)
dispatcher = get_dispatcher(__name__)

METRICS_SOURCE = "llamaindex"
DEFAULT_MODEL = "gpt-4o"


class HeadroomLLM(FunctionCallingLLM):
    """Wraps a LlamaIndex LLM so each chat request goes through the Headroom engine first.

    Tool outputs in the conversation are compressed, the prompt prefix is stabilised for
    provider caching and, when the request exceeds the window, old turns are fitted — never
    splitting an assistant tool call from its results, never dropping the system prompt or the
    last user turn. Messages the engine leaves alone reach the inner LLM as the same objects;
    changed ones are copies that keep every non-text block and ``additional_kwargs``.

    Tool calling (``chat_with_tools``, ``get_tool_calls_from_response``...) is delegated to the
    inner LLM, so a ``FunctionAgent`` works as with the inner one. In tool-calling requests,
    markers name the ``headroom_retrieve`` tool: it goes to the model with the agent's tools, and
    the wrapper answers the model's calls to it and calls the model again, so the agent never
    sees one. Plain chats (chat engines) get markers that name no tool.

    Retrieved context is compressed too: when a response synthesizer (query engines, the
    ``context`` and ``condense_plus_context`` chat engines) fills a prompt template, the
    retrieved text it puts in (``context_str``, ``context_msg``) is crushed for the question
    (``query_str``) like a tool output — the sections, rows or lines the question needs kept
    verbatim, the rest left out with a marker in place — whether the inner LLM is a chat model
    or a completion model (``complete`` prompts go through the engine as one user message).

    If the engine rejects a request, the original messages are sent, with a warning, a failed
    :class:`HeadroomChatOptimizeEvent` and (when a store is configured) a failed metrics row;
    a request that cannot fit the window raises
    :class:`~headroom_core.errors.ContextOverflowError` before the model is called.

    Setup:
        ```bash
        pip install "headroom-langchain[llamaindex]"
        ```

    Examples:
        ```python
        from llama_index.llms.openai import OpenAI
        from headroom_integrations.llamaindex import HeadroomLLM

        llm = HeadroomLLM(OpenAI(model="gpt-4o-mini"), store_url="sqlite:///headroom.db")
        chat_engine = index.as_chat_engine(chat_mode="context", llm=llm)
        agent = FunctionAgent(tools=[...], llm=llm)
        ```

    Args:
        llm: The LLM that receives the optimized messages (also the first positional
            argument).
        model_name: Model name for token counts, window and prices; by default the inner
            LLM's ``metadata.model_name``, or ``gpt-4o`` when it has none. ``model=`` is its
            deprecated old name.
        mode: ``"optimize"`` (send the optimized messages) or ``"audit"`` (measure only);
            ``config.default_mode`` when None.
        model_limit: Context window to fit into; the provider's window for ``model`` when None.
        tool_profiles: Per tool name, e.g. ``{"search": {"skip_compression": True}}``.
        config: Settings of every Headroom component.
        store_url: Metrics store URL; overrides ``config.store_url``.
        compress_context: Compress the retrieved context of prompt templates (on by default).

    Raises:
        ConfigurationError: A setting is invalid (names the field and the value).
        ProviderError: The model name is unknown (names the closest known models).
    """

    llm: LLM = Field(description="The LLM that receives the optimized messages.")
    model_name: str | None = Field(
        default=None, description="Model name for tokens, window, prices."
    )
    mode: Literal["audit", "optimize"] | None = Field(
        default=None, description="optimize = send optimized messages, audit = measure only."
    )
    model_limit: int | None = Field(default=None, ge=1, description="Context window to fit into.")
    tool_profiles: dict[str, dict[str, Any]] | None = Field(
        default=None, description="Per-tool compression settings."
    )
    config: HeadroomConfig | None = Field(default=None, description="Headroom settings.")
    store_url: str | None = Field(default=None, description="Metrics store URL.")
    compress_context: bool = Field(
        default=True, description="Compress the retrieved context of prompt templates."
    )

    model_config = ConfigDict(extra="forbid")

    _engine: HeadroomEngine = PrivateAttr()

    def __init__(self, llm: LLM | None = None, /, **data: Any) -> None:
        if llm is not None:
            data["llm"] = llm
        renamed_argument(data, "model", "model_name", type(self).__name__)
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None
        check_adapter_settings(model_name=self._model_name, store_url=self.store_url)
        self._engine = HeadroomEngine(self.config, store_url=self.store_url, source=METRICS_SOURCE)

    @classmethod
    def class_name(cls) -> str:
        """Stable name for serialisation."""
        return "HeadroomLLM"

    @property
    def engine(self) -> HeadroomEngine:
        """The engine optimizing the requests (its ``store`` holds the metrics)."""
        return self._engine

    @property
    def metadata(self) -> LLMMetadata:
        """The inner LLM's metadata: same window, same chat and function-calling abilities."""
        return self.llm.metadata

    # -- chat: optimized --------------------------------------------------------------------------

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Optimize ``messages``, then chat with the inner LLM."""
        rounds = self._rounds(kwargs)
        while True:
            optimized, shown = self._optimized(messages, kwargs)
            response = self.llm.chat(optimized, **rounds.call_kwargs(shown))
            following = rounds.follow(messages, response)
            if following is None:
                return response
            messages = following

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """Optimize ``messages``, then stream the inner LLM's reply."""
        rounds = self._rounds(kwargs)
        optimized, shown = self._optimized(messages, kwargs)

        def replies() -> ChatResponseGen:
            conversation, sent, marked = list(messages), optimized, shown
            while True:
                last = None
                for last in self.llm.stream_chat(sent, **rounds.call_kwargs(marked)):
                    yield last
                following = rounds.follow(conversation, last)
                if following is None:
                    return
                conversation = following
                sent, marked = self._optimized(conversation, kwargs)

        return replies()

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """Async :meth:`chat`."""
        rounds = self._rounds(kwargs)
        while True:
            optimized, shown = await self._aoptimized(messages, kwargs)
            response = await self.llm.achat(optimized, **rounds.call_kwargs(shown))
            following = rounds.follow(messages, response)
            if following is None:
                return response
            messages = following

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """Async :meth:`stream_chat`."""
        rounds = self._rounds(kwargs)
        optimized, shown = await self._aoptimized(messages, kwargs)

        async def replies() -> ChatResponseAsyncGen:
            conversation, sent, marked = list(messages), optimized, shown
            while True:
                last = None
                async for last in await self.llm.astream_chat(
                    sent, **rounds.call_kwargs(marked)
                ):
                    yield last
                following = rounds.follow(conversation, last)
                if following is None:
                    return
                conversation = following
                sent, marked = await self._aoptimized(conversation, kwargs)

        return replies()

    def _rounds(self, kwargs: dict[str, Any]) -> RetrievalRounds:
        inner = self.llm if isinstance(self.llm, FunctionCallingLLM) else None
        retrieving = self._retrieving(kwargs)
        store = open_originals_store(self._engine.config.retrieval) if retrieving else None
        return RetrievalRounds(inner, kwargs, store)

    def _retrieving(self, kwargs: Mapping[str, Any]) -> bool:
        """Markers name ``headroom_retrieve`` only in tool-calling requests, whose replies this
        wrapper reads (a plain chat engine's model could not call the tool)."""
        return (
            self._engine.config.retrieval.enabled
            and bool(kwargs.get("tools"))
            and isinstance(self.llm, FunctionCallingLLM)
        )

    # -- prompt templates: their retrieved context is noted for the call that follows -------------

    def _get_messages(self, prompt: BasePromptTemplate, **prompt_args: Any) -> list[ChatMessage]:
        messages = super()._get_messages(prompt, **prompt_args)
        if self.compress_context:
            remember_template(messages, prompt, prompt_args)
        return messages

    def _get_prompt(self, prompt: BasePromptTemplate, **prompt_args: Any) -> str:
        text = super()._get_prompt(prompt, **prompt_args)
        if self.compress_context:
            remember_template(text, prompt, prompt_args)
        return text

    # -- completion: the prompt is optimized as one user message ----------------------------------

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """Optimize ``prompt``, then complete it with the inner LLM."""
        return self.llm.complete(self._optimized_prompt(prompt), formatted=formatted, **kwargs)

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """Optimize ``prompt``, then stream the inner LLM's completion."""
        optimized = self._optimized_prompt(prompt)
        return self.llm.stream_complete(optimized, formatted=formatted, **kwargs)

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """Async :meth:`complete`."""
        optimized = await self._aoptimized_prompt(prompt)
        return await self.llm.acomplete(optimized, formatted=formatted, **kwargs)

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """Async :meth:`stream_complete`."""
        optimized = await self._aoptimized_prompt(prompt)
        return await self.llm.astream_complete(optimized, formatted=formatted, **kwargs)

    def _optimized_prompt(self, prompt: str) -> str:
        request = [ChatMessage(role=MessageRole.USER, content=prompt)]
        messages, _ = self._optimized(request, {}, sent=prompt)
        return _prompt_of(messages, prompt)

    async def _aoptimized_prompt(self, prompt: str) -> str:
        request = [ChatMessage(role=MessageRole.USER, content=prompt)]
        messages, _ = await self._aoptimized(request, {}, sent=prompt)
        return _prompt_of(messages, prompt)

    # -- tool calling: delegated ------------------------------------------------------------------

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        **kwargs: Any,
    ) -> dict[str, Any]:
        return self._tool_calling_llm._prepare_chat_with_tools_compat(
            tools,
            user_msg=user_msg,
            chat_history=chat_history,
            verbose=verbose,
            allow_parallel_tool_calls=allow_parallel_tool_calls,
            tool_required=tool_required,
            **kwargs,
        )

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        return self._tool_calling_llm._validate_chat_with_tools_response(
            response, tools, allow_parallel_tool_calls=allow_parallel_tool_calls, **kwargs
        )

    def get_tool_calls_from_response(
        self, response: ChatResponse, error_on_no_tool_call: bool = True, **kwargs: Any
    ) -> list[ToolSelection]:
        """The inner LLM's reading of the tool calls in ``response``, without calls to
        ``headroom_retrieve`` (this wrapper answers those; the agent never defined the tool)."""
        selections = self._tool_calling_llm.get_tool_calls_from_response(
            response, error_on_no_tool_call=error_on_no_tool_call, **kwargs
        )
        return [s for s in selections if s.tool_name != RETRIEVAL_TOOL_NAME]

    @property
    def _tool_calling_llm(self) -> FunctionCallingLLM:
        if not isinstance(self.llm, FunctionCallingLLM):
            raise ConfigurationError(
                f"Tool calling needs an inner FunctionCallingLLM; {type(self.llm).__name__} "
                "is not one.",
                details={"field": "llm", "value": type(self.llm).__name__},
            )
        return self.llm

    # -- the engine call --------------------------------------------------------------------------

    @property
    def _model_name(self) -> str:
        if self.model_name:
            return self.model_name
        name = self.llm.metadata.model_name
        return name if name and name != "unknown" else DEFAULT_MODEL

    def _optimized(
        self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any], sent: object = None
    ) -> tuple[list[ChatMessage], bool]:
        """The messages to send, and whether a marker in them names ``headroom_retrieve``
        (``sent``: what a template's formatting returned for them, ``messages`` by default)."""
        originals = list(messages)
        try:
            converted = to_core_messages(originals)
            result = self._engine.optimize(
                tag_origins(converted), self._model_name, **self._options(kwargs, sent or messages)
            )
        except ContextOverflowError:
            raise
        except HeadroomError as exc:
            if not self._engine.config.fail_open:
                raise
            return self._failed(originals, exc), False
        return self._converted(result, originals, converted), bool(result.retrieval_keys)

    async def _aoptimized(
        self, messages: Sequence[ChatMessage], kwargs: Mapping[str, Any], sent: object = None
    ) -> tuple[list[ChatMessage], bool]:
        """Async :meth:`_optimized`."""
        originals = list(messages)
        try:
            converted = to_core_messages(originals)
            result = await self._engine.aoptimize(
                tag_origins(converted), self._model_name, **self._options(kwargs, sent or messages)
            )
        except ContextOverflowError:
            raise
        except HeadroomError as exc:
            if not self._engine.config.fail_open:
                raise
            return self._failed(originals, exc), False
        return self._converted(result, originals, converted), bool(result.retrieval_keys)

    def _options(self, kwargs: Mapping[str, Any], sent: object) -> dict[str, Any]:
        """Engine options for one call; OpenAI-format tool definitions count against the window,
        and the retrieved context of the template that produced ``sent`` is compressed."""
        tools = [
            tool
            for tool in kwargs.get("tools") or []
            if isinstance(tool, Mapping) and isinstance(tool.get("function"), Mapping)
        ]
        options: dict[str, Any] = {
            "mode": self.mode,
            "model_limit": self.model_limit,
            "tool_profiles": self.tool_profiles,
            "tools": tools or None,
            "retrieval": self._retrieving(kwargs),
        }
        filled = take_filled_template(sent)
        if filled is not None:
            options.update(documents=filled.documents, query=filled.query)
        return options

    def _converted(
        self,
        result: SimulationResult,
        originals: list[ChatMessage],
        converted: list[dict[str, Any]],
    ) -> list[ChatMessage]:
        optimized = from_core_messages(result.messages_optimized, originals, converted)
        self._emit(result, len(originals), len(optimized))
        return optimized

    def _failed(self, originals: list[ChatMessage], error: HeadroomError) -> list[ChatMessage]:
        """Send the request as it came: warn, emit a failed event, record a failed row."""
        result = self._engine.sent_unchanged((), self._model_name, error, self.mode)
        self._engine.record(result)
        self._emit(result, len(originals), len(originals))
        return originals

    def _emit(self, result: SimulationResult, messages_in: int, messages_out: int) -> None:
        dispatcher.event(
            HeadroomChatOptimizeEvent(
                model=result.model,
                mode=result.mode,
                messages_in=messages_in,
                messages_out=messages_out,
                tokens_before=result.tokens_before,
                tokens_after=result.tokens_after,
                transforms_applied=list(result.transforms_applied),
                failed=result.failed,
            )
        )


def _prompt_of(messages: Sequence[ChatMessage], original: str) -> str:
    """The text of the one optimized user message (the original if it is not plain text)."""
    content = messages[0].content if len(messages) == 1 else None
    return content if isinstance(content, str) else original
