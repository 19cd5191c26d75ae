"""HeadroomChatModel: any LangChain chat model, with its input optimized by the Headroom engine."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import pydantic
from langchain_core.callbacks import (
    AsyncCallbackManager,
    AsyncCallbackManagerForLLMRun,
    CallbackManager,
    CallbackManagerForLLMRun,
)
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import add_usage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import ConfigDict, PrivateAttr, model_validator

from headroom_core.adapter_settings import renamed_argument
from headroom_core.config import HeadroomConfig, configuration_error
from headroom_core.engine import HeadroomEngine
from headroom_core.errors import ConfigurationError
from headroom_core.retrieval import OriginalsStore, open_originals_store
from headroom_integrations.langchain._optimizer import (
    SAVINGS_EVENT,
    MessageOptimizer,
    Optimization,
    model_limit_of,
    model_name_of,
)
from headroom_integrations.langchain._retrieval_rounds import (
    MAX_ROUNDS,
    answered,
    binds_retrieve,
    retrieve_calls,
    with_retrieve_tool,
    without_retrieve_calls,
)

if TYPE_CHECKING:
    from langchain_core.language_models.model_profile import ModelProfile


__all__ = ["HeadroomChatModel"]

Message = TypeVar("Message", bound=BaseMessage)


class HeadroomChatModel(BaseChatModel):
    """A chat model wrapper that sends the model a smaller, cache-friendly context.

    Each call converts the messages to the core form, runs them through the Headroom engine
    (tool-output compression, cache alignment, context fitting) and hands the optimized messages
    to the wrapped model in the same LangChain run, so callbacks, usage and tracing see one call.
    The savings travel in ``response_metadata["headroom"]`` and, on the invoke path, as a custom
    event named ``headroom_savings``.

    Setup:
        ``pip install "headroom-langchain[langchain]"``

    Key init args:
        llm: The chat model to wrap (ChatOpenAI, ChatAnthropic, a fake model...); also the
            first positional argument. ``model=`` is its deprecated old name.
        model_name: Model name for token counts, window and prices; by default the wrapped
            model's own (``gpt-4o`` when it reports none).
        config: Engine configuration (:class:`headroom_core.config.HeadroomConfig`).
        mode: ``"optimize"`` sends the optimized messages; ``"audit"`` only measures.
        store_url: Record one metrics row per call (``sqlite:///headroom.db``, PostgreSQL URL).
        tool_profiles: Per-tool options, e.g. ``{"search": {"skip_compression": True}}``.
        engine: Share one :class:`headroom_core.engine.HeadroomEngine` between adapters.
        retrieval: Let the wrapped model fetch what compression left out: markers name the
            ``headroom_retrieve`` tool, the tool goes with every request that shows one, and
            the wrapper answers its calls itself and calls the model again, so the caller sees
            only the final reply (streaming included). Also on when ``bind_tools`` was given
            :func:`~headroom_integrations.langchain.headroom_retrieve_tool`. Off by default:
            markers then say what was left out without naming a tool.

    Instantiate:
        ```python
        from langchain_openai import ChatOpenAI
        from headroom_integrations.langchain import HeadroomChatModel

        llm = HeadroomChatModel(ChatOpenAI(model="gpt-4o-mini"))
        ```

    Invoke:
        ```python
        reply = llm.invoke(messages)
        reply.response_metadata["headroom"]["tokens_saved"]
        llm.get_metrics()  # totals of this wrapper
        ```

    Fail-open: a failure inside Headroom sends the original messages (with a logged warning and
    a failed request in the metrics); an exception of the wrapped model propagates unchanged.
    """

    llm: BaseChatModel
    model_name: str | None = None
    config: HeadroomConfig | None = None
    mode: Literal["optimize", "audit"] = "optimize"
    store_url: str | None = None
    tool_profiles: dict[str, dict[str, Any]] | None = None
    engine: HeadroomEngine | None = None
    retrieval: bool = False

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _optimizer: MessageOptimizer = PrivateAttr()

    def __init__(self, llm: BaseChatModel | None = None, /, **kwargs: Any) -> None:
        if llm is not None:
            kwargs["llm"] = llm
        renamed_argument(kwargs, "model", "llm", type(self).__name__)
        _reject_inner_settings(kwargs)
        try:
            super().__init__(**kwargs)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    @model_validator(mode="after")
    def _mirror_inner(self) -> HeadroomChatModel:
        if "disable_streaming" not in self.model_fields_set:
            self.disable_streaming = self.llm.disable_streaming
        self._optimizer = MessageOptimizer(
            self.config,
            mode=self.mode,
            store_url=self.store_url,
            engine=self.engine,
            source="langchain.chat_model",
            model_name=self._model_name({}),
        )
        return self

    def _model_name(self, call_kwargs: dict[str, Any]) -> str:
        """The name for counts, window and prices: ``model_name``, else the wrapped model's."""
        return self.model_name or model_name_of(self.llm, **call_kwargs)

    # -- identity ---------------------------------------------------------------------------

    @property
    def _llm_type(self) -> str:
        return f"headroom-{self.llm._llm_type}"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            **self.llm._identifying_params,
            "headroom_mode": self.mode,
            "headroom_config": self.config.model_dump(mode="json") if self.config else None,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> Any:
        params = dict(self.llm._get_ls_params(stop=stop, **kwargs))
        params.setdefault("ls_provider", self.llm._llm_type)
        params.setdefault("ls_model_type", "chat")
        if not params.get("ls_model_name"):
            params["ls_model_name"] = kwargs.get("model") or self._model_name({})
        return params

    def _resolve_model_profile(self) -> ModelProfile | None:
        return self.llm.profile

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """Token count of ``messages`` as the wrapped model counts them."""
        return self.llm.get_num_tokens_from_messages(messages, tools=tools)

    def get_num_tokens(self, text: str) -> int:
        """Token count of ``text`` as the wrapped model counts it."""
        return self.llm.get_num_tokens(text)

    def get_token_ids(self, text: str) -> list[int]:
        """Token ids of ``text`` from the wrapped model's tokenizer."""
        return self.llm.get_token_ids(text)

    def get_metrics(self) -> dict[str, Any]:
        """Savings of this wrapper so far: requests, tokens before/after/saved, per transform."""
        return self._optimizer.ledger.totals()

    @property
    def headroom_engine(self) -> HeadroomEngine:
        """The engine this wrapper optimizes with (its ``store`` holds the metrics rows)."""
        return self._optimizer.engine

    # -- tools and structured output ------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Let the wrapped model format the tools, then bind them to this wrapper."""
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        bound = self.llm.bind_tools(tools, **kwargs)
        return self.bind(**getattr(bound, "kwargs", {}))

    def with_structured_output(
        self, schema: Any, *, include_raw: bool = False, **kwargs: Any
    ) -> Runnable[LanguageModelInput, Any]:
        """The wrapped model's own structured output, fed with optimized messages."""
        from headroom_integrations.langchain.transformer import HeadroomTransformer

        transformer = HeadroomTransformer(
            model_name=self._model_name({}),
            tool_profiles=self.tool_profiles,
            model_limit=model_limit_of(self.llm),
        )._sharing(self._optimizer)
        structured = self.llm.with_structured_output(schema, include_raw=include_raw, **kwargs)
        return transformer | structured

    # -- generation ---------------------------------------------------------------------------

    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        tools = kwargs.get("tools")  # bound by bind_tools, already in the provider's dict form
        formatted = isinstance(tools, list) and all(isinstance(tool, dict) for tool in tools)
        return {
            "tools": tools if formatted else None,
            "tool_profiles": self.tool_profiles,
            "model_limit": model_limit_of(self.llm),
            "retrieval": self._retrieving(kwargs),
        }

    def _retrieving(self, kwargs: dict[str, Any]) -> bool:
        """Whether this call's markers may name ``headroom_retrieve`` (the wrapper answers it)."""
        enabled = self._optimizer.engine.config.retrieval.enabled
        return enabled and (self.retrieval or binds_retrieve(kwargs))

    def _optimize(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Optimization:
        return self._optimizer.optimize(
            messages, self._model_name(kwargs), **self._options(kwargs)
        )

    async def _aoptimize(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> Optimization:
        return await self._optimizer.aoptimize(
            messages, self._model_name(kwargs), **self._options(kwargs)
        )

    def _rounds(self, kwargs: dict[str, Any]) -> _Rounds:
        retrieving = self._retrieving(kwargs)
        config = self._optimizer.engine.config
        store = open_originals_store(config.retrieval) if retrieving else None
        return _Rounds(self.llm, kwargs, store)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        rounds = self._rounds(kwargs)
        while True:
            optimization = self._optimize(messages, kwargs)
            if run_manager is not None:
                _run_scoped(CallbackManager, run_manager).on_custom_event(
                    SAVINGS_EVENT, optimization.summary, run_id=run_manager.run_id
                )
            result = self.llm._generate(
                optimization.messages,
                stop=stop,
                run_manager=run_manager,
                **rounds.call_kwargs(optimization),
            )
            following = rounds.follow(messages, result.generations[0].message)
            if following is None:
                return _stamp_result(rounds.finish(result), optimization.summary)
            messages = following

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        rounds = self._rounds(kwargs)
        while True:
            optimization = await self._aoptimize(messages, kwargs)
            if run_manager is not None:
                await _run_scoped(AsyncCallbackManager, run_manager).on_custom_event(
                    SAVINGS_EVENT, optimization.summary, run_id=run_manager.run_id
                )
            result = await self.llm._agenerate(
                optimization.messages,
                stop=stop,
                run_manager=run_manager,
                **rounds.call_kwargs(optimization),
            )
            following = rounds.follow(messages, result.generations[0].message)
            if following is None:
                return _stamp_result(rounds.finish(result), optimization.summary)
            messages = following

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        rounds = self._rounds(kwargs)
        while True:
            optimization = self._optimize(messages, kwargs)
            call_kwargs = rounds.call_kwargs(optimization)
            if type(self.llm)._stream is BaseChatModel._stream:
                result = self.llm._generate(
                    optimization.messages, stop=stop, run_manager=run_manager, **call_kwargs
                )
                following = rounds.follow(messages, result.generations[0].message)
                if following is None:
                    yield _single_chunk(rounds.finish(result), optimization.summary)
                    return
            else:
                held = _HeldToolCalls(optimization.summary)
                chunks = self.llm._stream(
                    optimization.messages, stop=stop, run_manager=run_manager, **call_kwargs
                )
                for chunk in chunks:
                    yield from held.pass_or_hold(chunk)
                following = rounds.follow(messages, held.reply())
                if following is None:
                    yield from held.release(rounds)
                    return
            messages = following

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        rounds = self._rounds(kwargs)
        inner_type = type(self.llm)
        while True:
            optimization = await self._aoptimize(messages, kwargs)
            call_kwargs = rounds.call_kwargs(optimization)
            if (
                inner_type._astream is BaseChatModel._astream
                and inner_type._stream is BaseChatModel._stream
            ):
                result = await self.llm._agenerate(
                    optimization.messages, stop=stop, run_manager=run_manager, **call_kwargs
                )
                following = rounds.follow(messages, result.generations[0].message)
                if following is None:
                    yield _single_chunk(rounds.finish(result), optimization.summary)
                    return
            else:
                held = _HeldToolCalls(optimization.summary)
                async for chunk in self.llm._astream(
                    optimization.messages, stop=stop, run_manager=run_manager, **call_kwargs
                ):
                    for passed in held.pass_or_hold(chunk):
                        yield passed
                following = rounds.follow(messages, held.reply())
                if following is None:
                    for released in held.release(rounds):
                        yield released
                    return
            messages = following


class _Rounds:
    """One call's rounds with the wrapped model: the tool offered when markers name it,
    ``headroom_retrieve`` calls answered, usage summed (a no-op when retrieval is off)."""

    def __init__(
        self, model: BaseChatModel, kwargs: dict[str, Any], store: OriginalsStore | None
    ) -> None:
        self._model = model
        self._kwargs = kwargs
        self._store = store
        self._count = 0
        self.usage: Any = None

    def call_kwargs(self, optimization: Optimization) -> dict[str, Any]:
        """The wrapped model's keyword arguments: with the tool when a marker names it."""
        shown = optimization.summary.get("retrieval_keys") or self._count
        if self._store is None or not shown:
            return self._kwargs
        from headroom_integrations.langchain.tools import headroom_retrieve_tool

        tool = headroom_retrieve_tool(store=self._store)
        return with_retrieve_tool(self._kwargs, self._model, tool)

    def follow(self, messages: list[BaseMessage], reply: BaseMessage) -> list[BaseMessage] | None:
        """The conversation with the reply's retrieval calls answered, or None when the reply
        is final: no such call, calls to the caller's tools too (they go back to the caller,
        without the retrieval calls), or the last round was used."""
        calls = retrieve_calls(reply) if self._store is not None else []
        others = len(getattr(reply, "tool_calls", None) or []) > len(calls)
        if not calls or others or self._count >= MAX_ROUNDS:
            return None
        self._count += 1
        usage = getattr(reply, "usage_metadata", None)
        if usage is not None:
            self.usage = add_usage(self.usage, usage)
        return answered(messages, reply, calls, self._store)

    def final(self, message: BaseMessage) -> BaseMessage:
        """The reply as the caller gets it."""
        if isinstance(message, AIMessage):
            return without_retrieve_calls(message, self.usage)
        return message

    def finish(self, result: ChatResult) -> ChatResult:
        generation = result.generations[0]
        final = self.final(generation.message)
        if final is not generation.message:
            result.generations[0] = ChatGeneration(
                message=final, generation_info=generation.generation_info
            )
        return result


class _HeldToolCalls:
    """Streams a reply as it comes, holding back the chunks that carry tool calls until the
    reply is whole: a ``headroom_retrieve`` call must never reach the caller."""

    def __init__(self, summary: dict[str, Any]) -> None:
        self._summary = summary
        self._first = True
        self._held: list[ChatGenerationChunk] = []
        self._whole: AIMessageChunk | None = None

    def pass_or_hold(self, chunk: ChatGenerationChunk) -> Iterator[ChatGenerationChunk]:
        message = chunk.message
        self._whole = message if self._whole is None else self._whole + message  # type: ignore[assignment]
        if getattr(message, "tool_call_chunks", None):
            self._held.append(chunk)
            return
        yield self._stamped(chunk)

    def reply(self) -> BaseMessage:
        return self._whole if self._whole is not None else AIMessageChunk(content="")

    def release(self, rounds: _Rounds) -> Iterator[ChatGenerationChunk]:
        """The held chunks (only the other tool calls when the last round still asked for
        items), then the usage of the earlier rounds."""
        whole = self.reply()
        if self._held and not retrieve_calls(whole):
            for chunk in self._held:
                yield self._stamped(chunk)
        elif self._held:
            final = rounds.final(AIMessage(content="", tool_calls=whole.tool_calls))  # type: ignore[attr-defined]
            if getattr(final, "tool_calls", None):
                yield self._stamped(_chunk_of(final, None, self._summary))
        if rounds.usage is not None:
            yield self._stamped(
                ChatGenerationChunk(message=AIMessageChunk(content="", usage_metadata=rounds.usage))
            )

    def _stamped(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        if self._first:
            self._first = False
            return _stamp_chunk(chunk, self._summary)
        return chunk


def _run_scoped(manager_type: type[Any], run_manager: Any) -> Any:
    """A callback manager parented on the LLM run, so custom events carry its run id."""
    return manager_type(
        handlers=run_manager.handlers,
        inheritable_handlers=run_manager.inheritable_handlers,
        parent_run_id=run_manager.run_id,
        tags=run_manager.tags,
        inheritable_tags=run_manager.inheritable_tags,
        metadata=run_manager.metadata,
        inheritable_metadata=run_manager.inheritable_metadata,
    )


def _stamp_result(result: ChatResult, summary: dict[str, Any]) -> ChatResult:
    """The result with the savings in each reply's metadata; the wrapped model's own message
    objects are not changed (a model may hand out the same object twice)."""
    for generation in result.generations:
        generation.message = _with_savings(generation.message, summary)
    return result


def _stamp_chunk(chunk: ChatGenerationChunk, summary: dict[str, Any]) -> ChatGenerationChunk:
    chunk.message = _with_savings(chunk.message, summary)
    return chunk


def _with_savings(message: Message, summary: dict[str, Any]) -> Message:
    metadata = {**message.response_metadata, "headroom": summary}
    return message.model_copy(update={"response_metadata": metadata})


def _stamp_first(
    chunks: Iterator[ChatGenerationChunk], summary: dict[str, Any]
) -> Iterator[ChatGenerationChunk]:
    for index, chunk in enumerate(chunks):
        yield _stamp_chunk(chunk, summary) if index == 0 else chunk


def _single_chunk(result: ChatResult, summary: dict[str, Any]) -> ChatGenerationChunk:
    """The whole reply of a model that cannot stream, as one chunk."""
    generation: ChatGeneration = result.generations[0]
    return _chunk_of(generation.message, generation.generation_info, summary)


def _chunk_of(
    message: BaseMessage, generation_info: dict[str, Any] | None, summary: dict[str, Any]
) -> ChatGenerationChunk:
    chunk = AIMessageChunk(
        content=message.content,
        id=message.id,
        additional_kwargs=message.additional_kwargs,
        response_metadata={**message.response_metadata, "headroom": summary},
        tool_call_chunks=[
            {
                "name": call["name"],
                "args": json.dumps(call["args"], ensure_ascii=False),
                "id": call["id"],
                "index": index,
            }
            for index, call in enumerate(getattr(message, "tool_calls", []) or [])
        ],
        usage_metadata=getattr(message, "usage_metadata", None),
    )
    return ChatGenerationChunk(message=chunk, generation_info=generation_info)


_INNER_SETTINGS = frozenset(
    {"temperature", "max_tokens", "stop", "timeout", "max_retries", "api_key", "streaming"}
)
"""LangChain's standard chat-model parameters: they belong to the wrapped model."""


def _reject_inner_settings(kwargs: dict[str, Any]) -> None:
    given = sorted(_INNER_SETTINGS.intersection(kwargs))
    if given:
        raise ConfigurationError(
            f"HeadroomChatModel has no {', '.join(given)} setting: set it on the wrapped model, "
            f"e.g. HeadroomChatModel(ChatOpenAI(model=..., {given[0]}=...)).",
            details={"field": given[0], "value": kwargs[given[0]]},
        )
