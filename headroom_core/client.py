"""HeadroomClient: wrap an OpenAI or Anthropic SDK client so every request is optimized first.

``client.chat.completions.create(...)`` (OpenAI), ``client.messages.create(...)`` (Anthropic) and
both SDKs' ``stream(...)`` helpers take the SDK's own arguments plus ``headroom_mode``,
``headroom_keep_turns`` and ``headroom_tool_profiles``; the messages go through
:class:`~headroom_core.engine.HeadroomEngine` and everything else reaches the SDK untouched, so
streams, async clients and responses behave exactly as without Headroom. Any other attribute is
the original client's. When markers in a request name ``headroom_retrieve``, the tool goes with
it and the client answers the model's calls to it, calling the model again (at most
``MAX_ROUNDS`` times): the caller never sees a call to a tool it did not define.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from typing import TYPE_CHECKING, Any

from headroom_core._client_rounds import AnthropicRounds, Call, OpenAIRounds, Optimize, rounds
from headroom_core._request_options import pop_request_options
from headroom_core.config import HeadroomConfig
from headroom_core.engine import MODES, HeadroomEngine
from headroom_core.errors import ConfigurationError, ProviderError, ValidationError
from headroom_core.providers import AnthropicProvider, OpenAIProvider, Provider
from headroom_core.providers.anthropic_format import from_anthropic, with_anthropic_messages
from headroom_core.results import RequestMetrics, SimulationResult
from headroom_core.retrieval import OriginalsStore, open_originals_store

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from headroom_core.engine import MetricsQuery

__all__ = ["HeadroomClient"]

class HeadroomClient:
    """An OpenAI or Anthropic client whose requests Headroom optimizes and measures.

    Args:
        original_client: ``openai.OpenAI``/``AsyncOpenAI`` or ``anthropic.Anthropic``/
            ``AsyncAnthropic`` (or any client with the same ``create`` methods).
        provider: Token counter, limits and prices; detected from the client's class when None.
        default_mode: ``"optimize"`` (default), ``"audit"`` (measure, send unchanged) or
            ``"simulate"`` (``create`` returns the plan and does not call the model).
        config: Settings of every transform; defaults when None.
        store_url: Metrics database, e.g. ``sqlite:///headroom.db``; no recording when None
            (unless ``config.store_url`` is set).

    Per call, ``headroom_mode``, ``headroom_keep_turns``, ``headroom_keep_last_tool_exchanges``,
    ``headroom_model_limit`` (the window to fit; the model's by default) and
    ``headroom_tool_profiles`` are taken out of the arguments and given to the engine. A request
    that cannot fit the window raises :class:`~headroom_core.errors.ContextOverflowError` before
    the SDK is called. A model Headroom does not know (only possible without an OpenAI or
    Anthropic SDK client, or with a provider without fallbacks) is sent unchanged, with a
    warning and a failed request in the stats; ``simulate`` raises
    :class:`~headroom_core.errors.ProviderError` for it.

    Examples:
        Wrap the SDK client, then use it as before::

            from openai import OpenAI
            from headroom_core import HeadroomClient

            client = HeadroomClient(OpenAI(), store_url="sqlite:///headroom.db")
            response = client.chat.completions.create(
                model="gpt-4o", messages=messages, headroom_keep_turns=5
            )
            plan = client.chat.completions.simulate(model="gpt-4o", messages=messages)
            print(plan.tokens_before, plan.tokens_after, plan.transforms_applied)
    """

    def __init__(
        self,
        original_client: Any,
        provider: Provider | None = None,
        default_mode: str = "optimize",
        config: HeadroomConfig | None = None,
        store_url: str | None = None,
    ) -> None:
        if default_mode not in MODES:
            raise ConfigurationError(
                f"Invalid value for default_mode: {default_mode!r}. Allowed: {', '.join(MODES)}.",
                details={"field": "default_mode", "value": default_mode, "allowed": list(MODES)},
            )
        self._original = original_client
        self.default_mode = default_mode
        self.provider = provider if provider is not None else _detect_provider(original_client)
        self.engine = HeadroomEngine(
            config, provider=self.provider, store_url=store_url, source="client"
        )
        if hasattr(original_client, "chat"):
            self.chat = _Chat(self, original_client.chat)
        if _is_anthropic(original_client):
            self.messages = _AnthropicMessages(self, original_client.messages)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._original, name)

    def __repr__(self) -> str:
        return (
            f"HeadroomClient({type(self._original).__name__}, default_mode={self.default_mode!r})"
        )

    def _optimize(
        self, messages: Any, kwargs: dict[str, Any], options: dict[str, Any]
    ) -> SimulationResult:
        model = kwargs["model"]
        try:
            return self.engine.optimize(messages, model, tools=kwargs.get("tools"), **options)
        except ProviderError as error:
            if options["mode"] == "simulate":
                raise
            return self._sent_unchanged(messages, model, options, error)

    async def _aoptimize(
        self, messages: Any, kwargs: dict[str, Any], options: dict[str, Any]
    ) -> SimulationResult:
        model = kwargs["model"]
        try:
            return await self.engine.aoptimize(
                messages, model, tools=kwargs.get("tools"), **options
            )
        except ProviderError as error:
            if options["mode"] == "simulate":
                raise
            return self._sent_unchanged(messages, model, options, error)

    def _sent_unchanged(
        self, messages: Any, model: str, options: dict[str, Any], error: ProviderError
    ) -> SimulationResult:
        """A model Headroom does not know may still be one the SDK's endpoint serves: the call
        goes out unchanged, with a warning and a failed request in the stats (a plan asked for
        with ``simulate`` cannot be made, so that raises instead)."""
        result = self.engine.sent_unchanged(messages, model, error, options["mode"])
        self.engine.record(result, messages)
        return result

    def _retrieval_store(
        self, forward: dict[str, Any], options: dict[str, Any]
    ) -> OriginalsStore | None:
        """Where a call's ``headroom_retrieve`` answers come from; None when markers must not
        name the tool (retrieval off, or a streamed reply, which cannot be intercepted)."""
        retrieval = self.engine.config.retrieval
        store = None
        if retrieval.enabled and not forward.get("stream"):
            store = open_originals_store(retrieval)
        if store is None:
            options["retrieval"] = False
        return store

    def _drive(
        self,
        steps: Generator[Optimize | Call, Any, Any],
        forward: dict[str, Any],
        options: dict[str, Any],
        create: Callable[..., Any],
    ) -> Any:
        """Run the rounds of one call (see :func:`headroom_core._client_rounds.rounds`)."""
        step = next(steps)
        while True:
            if isinstance(step, Optimize):
                outcome = self._optimize(step.messages, forward, options)
                if options["mode"] == "simulate":
                    return outcome
            else:
                outcome = create(**step.kwargs)
            try:
                step = steps.send(outcome)
            except StopIteration as done:
                return done.value

    async def _adrive(
        self,
        steps: Generator[Optimize | Call, Any, Any],
        forward: dict[str, Any],
        options: dict[str, Any],
        create: Callable[..., Awaitable[Any]],
    ) -> Any:
        """:meth:`_drive` for async SDK clients."""
        step = next(steps)
        while True:
            if isinstance(step, Optimize):
                outcome = await self._aoptimize(step.messages, forward, options)
                if options["mode"] == "simulate":
                    return outcome
            else:
                outcome = await create(**step.kwargs)
            try:
                step = steps.send(outcome)
            except StopIteration as done:
                return done.value

    def _split(self, kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """SDK arguments (headroom_* removed) and engine options."""
        forward = dict(kwargs)
        options = pop_request_options(forward)
        options["mode"] = options.get("mode") or self.default_mode
        for required in ("model", "messages"):
            if required not in forward:
                raise ValidationError(
                    f"create() needs {required}=...", details={"problem": f"missing {required}"}
                )
        if not isinstance(forward["messages"], (list, tuple)):
            forward["messages"] = list(forward["messages"])  # the SDKs accept any iterable
        return forward, options

    # -- stats and metrics ---------------------------------------------------------------------

    def get_stats(self) -> dict[str, Any]:
        """This client's session: requests, tokens, failures, per-transform savings (no database
        query). Keys: ``session``, ``config``, ``transforms``."""
        stats = self.engine.get_stats()
        stats["config"]["default_mode"] = self.default_mode
        stats["config"]["provider"] = type(self.provider).__name__ if self.provider else "auto"
        return stats

    def get_metrics(self, **query: Unpack[MetricsQuery]) -> list[RequestMetrics]:
        """Stored requests, newest first (empty without a store).

        Keyword Args:
            start_time: Only requests at or after this time (naive datetimes are UTC).
            end_time: Only requests before this time.
            model: Only this model.
            mode: Only this mode.
            limit: Most rows returned (100 by default); None for all.
        """
        return self.engine.get_metrics(**query)

    def get_summary(self) -> dict[str, Any]:
        """``total_requests``, ``total_tokens_saved``, ``avg_compression_ratio``,
        ``total_cost_saved_usd`` (and more) over all stored metrics; over this session when no
        store is configured."""
        return self.engine.get_summary()

    def validate_setup(self, model: str | None = None) -> dict[str, Any]:
        """Check the client, provider, tokenizer, store and config before the first request.

        Args:
            model: Model whose tokenizer and window are checked; by default a current model of
                the wrapped SDK's vendor.

        Returns:
            ``{"valid": bool, "issues": [...], "provider": ..., "tokenizer": ..., "store": ...,
            "config": ...}``; every issue says what is wrong and how to fix it.
        """
        model = model or _default_model(self._original)
        issues: list[str] = []
        if not _has_create(self._original):
            issues.append(
                f"{type(self._original).__name__} has neither chat.completions.create nor "
                "messages.create; wrap an OpenAI or Anthropic client."
            )
        provider = self.provider
        provider_name = type(provider).__name__ if provider is not None else "auto (by model)"
        tokenizer_info: dict[str, Any] = {"model": model}
        limit = None
        try:
            effective = self.engine.provider_for(model)
            counter = effective.get_token_counter(model)
            tokenizer_info.update(
                encoding=counter.encoding_name,
                exact=counter.is_exact,
                probe=counter.count_text("ok"),
            )
            limit = effective.get_context_limit(model)
        except Exception as exc:
            issues.append(f"No token counter for {model!r}: {exc}")
        config = self.engine.config
        buffer = config.intelligent_context.output_buffer_tokens
        if limit is not None and buffer >= limit:
            issues.append(
                f"intelligent_context.output_buffer_tokens ({buffer}) is not below the context "
                f"window of {model} ({limit}); lower it."
            )
        store = self.engine.store
        store_info: dict[str, Any] | None = None
        if store is not None:
            reachable = store.ping()
            store_info = {"url": store.safe_url, "reachable": reachable, **store.stats()}
            if not reachable:
                issues.append(f"The metrics store {store!r} is not reachable; check store_url.")
        return {
            "valid": not issues,
            "issues": issues,
            "provider": provider_name,
            "tokenizer": tokenizer_info,
            "store": store_info,
            "config": {
                "default_mode": self.default_mode,
                "fail_open": config.fail_open,
                "context_fitting": config.context_fitting,
                "context_limit": limit,
            },
        }

    def close(self) -> None:
        """Flush and close the metrics store (the SDK client stays open)."""
        self.engine.close()


class _Delegate:
    """Forwards every attribute it does not define to the wrapped SDK object."""

    def __init__(self, client: HeadroomClient, wrapped: Any) -> None:
        self._client = client
        self._wrapped = wrapped

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


class _Chat(_Delegate):
    def __init__(self, client: HeadroomClient, wrapped: Any) -> None:
        super().__init__(client, wrapped)
        self.completions = _ChatCompletions(client, wrapped.completions)


class _ChatCompletions(_Delegate):
    """``chat.completions`` with optimized ``create`` and a ``simulate`` that calls no model."""

    def create(self, **kwargs: Any) -> Any:
        """Optimize ``messages``, then call the SDK's ``create`` with every other argument as given.

        Markers that name ``headroom_retrieve`` go out with its definition (added to ``tools``),
        and the model's calls to it are answered here and the model called again, so the reply
        holds no such call and its usage covers every round (not with ``stream=True``: then
        markers name no tool). For an async client this returns the SDK's awaitable. With
        ``headroom_mode="simulate"`` the :class:`SimulationResult` is returned and the model is
        not called.
        """
        forward, options = self._client._split(kwargs)
        store = self._client._retrieval_store(forward, options)
        steps = rounds(OpenAIRounds(), forward, forward["messages"], store)
        if _is_async(self._wrapped):
            return self._client._adrive(steps, forward, options, self._wrapped.create)
        return self._client._drive(steps, forward, options, self._wrapped.create)

    def stream(self, **kwargs: Any) -> Any:
        """The SDK's ``stream()`` helper on optimized messages; returns its stream manager.

        The SDK builds the manager synchronously for async clients too, so the optimization runs
        inline here. Markers name no tool: a streamed reply cannot be intercepted.
        """
        forward, options = self._client._split(kwargs)
        options["retrieval"] = False
        result = self._client._optimize(forward["messages"], forward, options)
        if options["mode"] == "simulate":
            return result
        return self._wrapped.stream(**_with_messages(forward, result))

    def simulate(self, **kwargs: Any) -> SimulationResult:
        """What ``create`` would send and save, without calling the model (sync for every client:
        it does no I/O)."""
        forward, options = self._client._split({**kwargs, "headroom_mode": "simulate"})
        return self._client._optimize(forward["messages"], forward, options)


class _AnthropicMessages(_Delegate):
    """Anthropic ``messages`` with an optimized ``create`` (system prompt included)."""

    def create(self, **kwargs: Any) -> Any:
        """Optimize ``system`` + ``messages``; call the SDK's ``create`` with the rest as given
        (``headroom_retrieve`` handled as for OpenAI's ``create``)."""
        forward, options = self._client._split(kwargs)
        messages = from_anthropic(forward["messages"], forward.get("system"))
        store = self._client._retrieval_store(forward, options)
        steps = rounds(AnthropicRounds(), forward, messages, store)
        if _is_async(self._wrapped):
            return self._client._adrive(steps, forward, options, self._wrapped.create)
        return self._client._drive(steps, forward, options, self._wrapped.create)

    def stream(self, **kwargs: Any) -> Any:
        """The SDK's ``stream()`` helper on optimized messages; returns its stream manager."""
        forward, options = self._client._split(kwargs)
        messages = from_anthropic(forward["messages"], forward.get("system"))
        options["retrieval"] = False
        result = self._client._optimize(messages, forward, options)
        if options["mode"] == "simulate":
            return result
        return self._wrapped.stream(**_with_anthropic_messages(forward, result))

    def simulate(self, **kwargs: Any) -> SimulationResult:
        """What ``create`` would send and save, without calling the model."""
        forward, options = self._client._split({**kwargs, "headroom_mode": "simulate"})
        messages = from_anthropic(forward["messages"], forward.get("system"))
        return self._client._optimize(messages, forward, options)


def _changed(result: SimulationResult) -> bool:
    return bool(result.transforms_applied) and not result.failed


def _with_messages(forward: dict[str, Any], result: SimulationResult) -> dict[str, Any]:
    """The SDK arguments; ``messages`` replaced only when a transform changed them."""
    if _changed(result):
        return {**forward, "messages": result.messages_optimized}
    return forward


def _with_anthropic_messages(forward: dict[str, Any], result: SimulationResult) -> dict[str, Any]:
    if not _changed(result):
        return forward
    return with_anthropic_messages(forward, result.messages_optimized)


def _is_async(resource: Any) -> bool:
    """Resources of async SDK clients are ``Async*`` classes (``AsyncCompletions``...)."""
    return type(resource).__name__.startswith("Async")


def _is_anthropic(client: Any) -> bool:
    return type(client).__module__.split(".")[0] == "anthropic"


def _default_model(client: Any) -> str:
    return "claude-sonnet-4-5" if _is_anthropic(client) else "gpt-4o"


def _has_create(client: Any) -> bool:
    chat = getattr(client, "chat", None)
    completions = getattr(chat, "completions", None)
    messages = getattr(client, "messages", None)
    return callable(getattr(completions, "create", None)) or callable(
        getattr(messages, "create", None)
    )


def _detect_provider(client: Any) -> Provider | None:
    """The provider that matches the SDK; None (per-model lookup) for other clients."""
    if _is_anthropic(client):
        return AnthropicProvider(fallback_context_limit=200_000)
    if type(client).__module__.split(".")[0] == "openai":
        return OpenAIProvider(fallback_context_limit=128_000)
    return None
