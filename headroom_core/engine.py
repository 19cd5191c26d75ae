"""HeadroomEngine: the one place where a request is optimized, measured and recorded.

Every adapter (``HeadroomClient``, LangChain, LlamaIndex, the HTTP server) converts its messages to
OpenAI chat dicts and calls :meth:`HeadroomEngine.optimize`. The pipeline runs cheapest and safest
first: tool-output compression, then cache alignment, then context fitting only when the request
still exceeds the model's window minus the output buffer.

``SimulationResult.transforms_applied`` names the pipeline steps that changed the request
(``tool_output_compression``, ``cache_aligner``, ``intelligent_context`` or ``rolling_window``);
``transform_savings`` says what each saved, with tool-output compression broken down by the crusher
that ran (``smart_crusher``, ``line_crusher``...). A step that adds tokens (the cache aligner may,
to keep the prefix stable) shows a negative saving. ``retrieval_keys`` lists the keys under which
dropped items were stored and whose markers the optimized messages still show.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypedDict, get_args

from headroom_core.config import HeadroomConfig, Mode
from headroom_core.errors import (
    ConfigurationError,
    ContextOverflowError,
    HeadroomError,
    TransformError,
)
from headroom_core.messages import content_text, validate_messages
from headroom_core.providers import Provider, provider_for_model
from headroom_core.results import (
    RequestMetrics,
    SavingsTotals,
    SimulationResult,
    TransformResult,
    WasteSignals,
)
from headroom_core.tokenizer import Tokenizer
from headroom_core.waste import detect_waste

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from headroom_core.storage import MetricsStore
    from headroom_core.transforms.base import Transform
    from headroom_core.transforms.tool_outputs import ToolOutputCompressor

__all__ = ["HeadroomEngine", "MetricsQuery", "OptimizeOptions"]

logger = logging.getLogger(__name__)

Messages = list[dict[str, Any]]
MODES: tuple[str, ...] = get_args(Mode)
# Above this much message text, aoptimize() moves the CPU work to a thread so the event loop
# keeps serving other requests; below it the work takes well under a millisecond.
ASYNC_THREAD_THRESHOLD_CHARS = 200_000


class OptimizeOptions(TypedDict, total=False):
    """Keyword options of :meth:`HeadroomEngine.optimize` and :meth:`HeadroomEngine.aoptimize`."""

    mode: str | None
    query: str | None
    documents: Sequence[str] | None
    keep_turns: int | None
    keep_last_tool_exchanges: int | None
    retrieval: bool | None
    record: bool
    token_budget: int | None
    frozen_message_count: int | None
    tool_profiles: Mapping[str, Mapping[str, Any]] | None
    tools: Sequence[Mapping[str, Any]] | None
    model_limit: int | None
    request_id: str | None
    metadata: Mapping[str, Any] | None


class MetricsQuery(TypedDict, total=False):
    """Keyword filters of :meth:`HeadroomEngine.get_metrics`."""

    start_time: datetime | None
    end_time: datetime | None
    model: str | None
    mode: str | None
    limit: int | None


class HeadroomEngine:
    """Optimize chat requests and record what that saved.

    Args:
        config: All component settings; defaults are safe for production.
        provider: Token counter, context limit and prices; by default the provider whose
            catalogue knows the request's model (a model none knows raises
            :class:`~headroom_core.errors.ProviderError`; a provider with
            ``fallback_context_limit`` accepts any name).
        store_url: Metrics database URL (overrides ``config.store_url``); no recording when
            neither is set.
        store: A ready :class:`~headroom_core.storage.MetricsStore` (wins over ``store_url``).
        source: Label of the caller in the metrics rows (``"client"``, ``"langchain"``...).

    Examples:
        >>> engine = HeadroomEngine()
        >>> result = engine.optimize([{"role": "user", "content": "Hi"}], model="gpt-4o")
        >>> result.tokens_before == result.tokens_after
        True
        >>> outgoing = result.messages_optimized  # what to send to the model
    """

    def __init__(
        self,
        config: HeadroomConfig | None = None,
        *,
        provider: Provider | None = None,
        store_url: str | None = None,
        store: MetricsStore | None = None,
        source: str = "engine",
    ) -> None:
        self.config = config if config is not None else HeadroomConfig()
        self.provider = provider
        self.source = source
        url = store_url or self.config.store_url
        self._owns_store = store is None and bool(url)
        if store is None and url:
            from headroom_core.storage import MetricsStore

            store = MetricsStore(url)
        self.store = store
        self._providers: dict[str, Provider] = {}
        self._tokenizers: dict[tuple[int, str], Tokenizer] = {}
        self._tool_outputs: dict[bool, ToolOutputCompressor] = {}
        self._aligners: dict[int, Transform] = {}
        self._fitters: dict[tuple[int | None, bool, bool], Transform | None] = {}
        self._stats_lock = threading.Lock()
        self._session = SavingsTotals()
        self._session_by_mode = dict.fromkeys(MODES, 0)
        self._session_transforms: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"HeadroomEngine(provider={self.provider!r}, store={self.store!r})"

    # -- the request path ----------------------------------------------------------------------

    def optimize(
        self,
        messages: Sequence[Mapping[str, Any]],
        model: str,
        **options: Unpack[OptimizeOptions],
    ) -> SimulationResult:
        """Optimize one request.

        Args:
            messages: OpenAI chat messages; never mutated.
            model: Model the request goes to (token counting, window, prices).
            **options: The keyword options of :class:`OptimizeOptions`.

        Keyword Args:
            mode: ``audit`` (measure only), ``optimize`` (transform) or ``simulate`` (transform,
                the caller does not call the model); ``config.default_mode`` when None.
            query: What the user asks; by default each tool output's own turn's user message
                (the last one before it) and, for fitting and documents, the last user message.
            documents: Retrieved texts inside the messages (the context a RAG prompt template
                filled in): each is crushed for the query like a tool output, in place.
            keep_turns: Recent turns context fitting must keep, for this request only.
            keep_last_tool_exchanges: Newest tool exchanges of an agent task that fitting keeps
                as normally compressed, for this request only (older ones are crushed harder,
                then stubbed).
            token_budget: Tokens the messages should fit, below the window: tool outputs are
                crushed tighter and context fitted towards it, best effort (as ``compress()``
                with a budget); only the model's window itself is enforced.
            frozen_message_count: The first N messages come back byte-identical (a prefix the
                caller keeps cached): not compressed, aligned or dropped.
            record: False leaves the request out of the metrics until :meth:`record` is called
                with its result (a proxy records once the provider's reply, and its usage, is in).
            retrieval: Whether dropped items are stored and markers offer ``headroom_retrieve``
                (the caller then answers its calls); ``config.retrieval.enabled`` when None.
                Without it markers still say what was left out, naming no tool and no key.
            tool_profiles: Per tool name, e.g. ``{"search": {"skip_compression": True}}`` or
                ``{"list_runs": {"max_items": 20}}``.
            tools: Tool definitions sent with the request (counted, not changed).
            model_limit: Context window to fit into; the provider's for ``model`` when None.
            request_id: Id for the metrics row; a fresh uuid4 hex when None.
            metadata: Extra context passed to every transform.

        Returns:
            The :class:`~headroom_core.results.SimulationResult`; ``messages_optimized`` is what
            to send (the original messages in audit mode or after a fail-open).

        Raises:
            ValidationError: The messages are malformed (the caller's error, never swallowed).
            ConfigurationError: ``mode``, ``keep_turns`` or ``keep_last_tool_exchanges`` is
                invalid.
            ProviderError: ``model`` is unknown: no catalogue knows it and the engine has no
                provider with fallbacks (the caller's error, never swallowed; the message names
                the closest known models).
            ContextOverflowError: The request cannot fit ``model_limit`` minus the output
                buffer, even after fitting (raised whatever ``fail_open`` says: a request known
                not to fit is never sent).
            TransformError: A transform failed and ``config.fail_open`` is False.
            TypeError: An option is not one of :class:`OptimizeOptions`.
        """
        started = time.perf_counter()
        originals, request, result = self._prepare(messages, model, options)
        if request is not None:
            self._run_pipeline(originals, request, result)
        return self._finish(originals, result, started, options.get("record", True))

    async def aoptimize(
        self,
        messages: Sequence[Mapping[str, Any]],
        model: str,
        **options: Unpack[OptimizeOptions],
    ) -> SimulationResult:
        """:meth:`optimize` for async callers, with the same arguments and behaviour.

        Small requests run inline (the work is CPU-bound and takes well under a millisecond when
        there is little to compress); the transforms of requests with more than
        ``ASYNC_THREAD_THRESHOLD_CHARS`` characters of text run in a worker thread so the event
        loop is not held up.
        """
        started = time.perf_counter()
        originals, request, result = self._prepare(messages, model, options)
        if request is not None:
            if _text_size(originals) > ASYNC_THREAD_THRESHOLD_CHARS:
                await asyncio.to_thread(self._run_pipeline, originals, request, result)
            else:
                self._run_pipeline(originals, request, result)
        return self._finish(originals, result, started, options.get("record", True))

    def _prepare(
        self, messages: Sequence[Mapping[str, Any]], model: str, options: OptimizeOptions
    ) -> tuple[Messages, _Request | None, SimulationResult]:
        """Check the options, count the request and start its result.

        Returns the validated messages, the pipeline settings (None in audit mode) and the result
        as it stands before any transform.
        """
        unknown = sorted(options.keys() - OptimizeOptions.__annotations__.keys())
        if unknown:
            raise TypeError(f"optimize() got unexpected keyword argument(s): {', '.join(unknown)}")
        mode = options.get("mode") or self.config.default_mode
        if mode not in MODES:
            raise ConfigurationError(
                f"Invalid value for mode: {mode!r}. Allowed: {', '.join(MODES)}.",
                details={"field": "mode", "value": mode, "allowed": list(MODES)},
            )
        keep_turns = _whole_number_option(options, "keep_turns")
        keep_exchanges = _whole_number_option(options, "keep_last_tool_exchanges")
        token_budget = _whole_number_option(options, "token_budget")
        frozen = _whole_number_option(options, "frozen_message_count", minimum=0) or 0
        originals = validate_messages(messages)
        provider = self.provider_for(model)
        tokenizer = self._tokenizer_for(provider, model)
        tools = options.get("tools")
        tokens_before = tokenizer.count_messages(originals, tools=tools)
        result = SimulationResult(
            tokens_before=tokens_before,
            tokens_after=tokens_before,
            waste_signals=self._waste(originals, tokenizer),
            messages_optimized=originals,
            model=model,
            mode=mode,
            request_id=options.get("request_id") or uuid.uuid4().hex,
        )
        if mode == "audit":
            return originals, None, result
        request = _Request(
            model=model,
            provider=provider,
            tokenizer=tokenizer,
            query=options.get("query"),
            documents=tuple(options.get("documents") or ()),
            keep_turns=keep_turns,
            keep_exchanges=keep_exchanges,
            token_budget=token_budget,
            frozen=frozen,
            retrieval=_retrieval_option(options, self.config),
            tool_profiles=options.get("tool_profiles"),
            tools=tools,
            model_limit=options.get("model_limit") or provider.get_context_limit(model),
            output_buffer=self.config.intelligent_context.output_buffer_tokens,
            context=dict(options.get("metadata") or {}),
        )
        return originals, request, result

    def _finish(
        self, originals: Messages, result: SimulationResult, started: float, record: bool
    ) -> SimulationResult:
        """Price and time the result, then account for it (unless the caller will)."""
        provider = self.provider_for(result.model)
        result.estimated_cost_before_usd = provider.estimate_cost(
            result.tokens_before, 0, result.model
        )
        result.estimated_cost_after_usd = provider.estimate_cost(
            result.tokens_after, 0, result.model
        )
        result.latency_ms = (time.perf_counter() - started) * 1000
        if record:
            self._account(result, originals)
        return result

    def sent_unchanged(
        self,
        messages: Sequence[Mapping[str, Any]],
        model: str,
        error: Exception,
        mode: str | None = None,
        request_id: str | None = None,
    ) -> SimulationResult:
        """The result for a request that goes out as it is because it could not be optimized.

        For adapters that fail open around the engine: an upstream that may serve a model no
        catalogue knows (``HeadroomClient``, the proxy), messages a framework adapter could not
        convert. Rather than fail the caller's LLM call, they send the original messages,
        logged as a warning and counted as a failed request. No tokens are counted (that needs
        the model's tokenizer); nothing is recorded until :meth:`record` is called with it.
        """
        request_id = request_id or uuid.uuid4().hex
        message = error.message if isinstance(error, HeadroomError) else str(error)
        logger.warning(
            "Headroom could not optimize a request to %s; sending it unchanged (%s: %s; "
            "request %s)",
            model,
            type(error).__name__,
            message,
            request_id,
        )
        return SimulationResult(
            tokens_before=0,
            tokens_after=0,
            messages_optimized=[dict(message) for message in messages],
            model=model,
            mode=mode or self.config.default_mode,
            request_id=request_id,
            failed=True,
            error=f"{type(error).__name__}: {message}",
        )

    def record(
        self, result: SimulationResult, originals: Sequence[Mapping[str, Any]] = ()
    ) -> None:
        """Account for a request optimized with ``record=False``: session counters and one
        metrics row (``originals`` are kept with it when ``store_message_content`` is set)."""
        self._account(result, [dict(message) for message in originals])

    def _run_pipeline(
        self, messages: Messages, request: _Request, result: SimulationResult
    ) -> None:
        """Run the transforms; on failure keep the originals (fail-open) or raise (fail-closed)."""
        stage = "tool_output_compression"
        try:
            current = messages
            if (
                _has_tool_output(current)
                or self.config.compress_user_messages
                or request.documents
            ):
                compressor = self._tool_output_compressor(request.retrieval)
                current = self._step(compressor, current, request, result)
            stage = "cache_aligner"
            if self.config.cache_aligner.enabled and not request.frozen:
                current = self._step(self._aligner_for(request.provider), current, request, result)
            stage = "context_fitting"
            tokens_now = request.tokenizer.count_messages(current, tools=request.tools)
            reason = "it is still too big after context fitting"
            if tokens_now > request.target:
                best_effort = request.token_budget is not None
                fitter = self._context_fitter(request.keep_turns, request.retrieval, best_effort)
                if fitter is None:
                    reason = "context fitting is disabled"
                else:
                    request.context["original_outputs"] = _tool_outputs_by_call(messages)
                    current = self._step(fitter, current, request, result)
                    tokens_now = request.tokenizer.count_messages(current, tools=request.tools)
        except ContextOverflowError:
            raise
        except Exception as exc:
            if result.tokens_before > request.budget:
                reason = f"optimizing it failed in {stage}"
                raise _overflow(request, result.tokens_before, reason) from exc
            self._fail(exc, stage, request, result)
            return
        if tokens_now > request.budget:
            raise _overflow(request, tokens_now, reason)
        result.messages_optimized = current
        result.tokens_after = tokens_now
        result.retrieval_keys = _shown_keys(result.retrieval_keys, current)

    def _step(
        self, transform: Transform, messages: Messages, request: _Request, result: SimulationResult
    ) -> Messages:
        outcome: TransformResult = transform.apply(
            messages, request.tokenizer, **request.context_for(transform)
        )
        if transform.name == "cache_aligner":
            result.stable_prefix_hash = outcome.details.get("stable_prefix_hash")
            result.stable_prefix_tokens = int(outcome.details.get("stable_prefix_tokens") or 0)
        if not outcome.transforms_applied:
            return messages
        for key in outcome.details.get("retrieval_keys") or ():
            if key not in result.retrieval_keys:
                result.retrieval_keys.append(key)
        for name in outcome.transforms_applied:
            if name not in result.transforms_applied:
                result.transforms_applied.append(name)
        by_strategy = outcome.details.get("by_strategy")
        if isinstance(by_strategy, Mapping) and by_strategy:
            for name, saved in by_strategy.items():
                result.transform_savings[name] = result.transform_savings.get(name, 0) + int(saved)
        else:
            saved = outcome.tokens_before - outcome.tokens_after
            result.transform_savings[transform.name] = (
                result.transform_savings.get(transform.name, 0) + saved
            )
        return outcome.messages

    def _fail(
        self, exc: Exception, stage: str, request: _Request, result: SimulationResult
    ) -> None:
        if not self.config.fail_open:
            raise TransformError(
                f"Optimizing the request failed in {stage}: {type(exc).__name__}: {exc}",
                details={
                    "transform": stage,
                    "model": request.model,
                    "request_id": result.request_id,
                },
            ) from exc
        logger.warning(
            "Headroom sends the original messages: %s failed (%s: %s); request %s",
            stage,
            type(exc).__name__,
            exc,
            result.request_id,
        )
        result.failed = True
        result.error = f"{stage}: {type(exc).__name__}: {exc}"
        result.transforms_applied = []
        result.transform_savings = {}
        result.retrieval_keys = []
        result.stable_prefix_hash = None
        result.stable_prefix_tokens = 0

    # -- components, built once and reused ----------------------------------------------------

    def provider_for(self, model: str) -> Provider:
        """The engine's provider, else the catalogue's provider for ``model`` (cached).

        Raises:
            ProviderError: No provider was given and no catalogue knows ``model``.
        """
        if self.provider is not None:
            return self.provider
        provider = self._providers.get(model)
        if provider is None:
            provider = self._providers.setdefault(model, provider_for_model(model))
        return provider

    def _tokenizer_for(self, provider: Provider, model: str) -> Tokenizer:
        key = (id(provider), model)
        tokenizer = self._tokenizers.get(key)
        if tokenizer is None:
            tokenizer = self._tokenizers.setdefault(key, provider.get_token_counter(model))
        return tokenizer

    def _waste(self, messages: Messages, tokenizer: Tokenizer) -> WasteSignals:
        """Waste is diagnostic: a failure to measure it must not cost the request."""
        try:
            return detect_waste(messages, tokenizer)
        except Exception as exc:
            logger.warning(
                "Headroom could not measure waste signals: %s: %s", type(exc).__name__, exc
            )
            return WasteSignals()

    def _tool_output_compressor(self, retrieval: bool) -> ToolOutputCompressor:
        """The compressor whose markers offer ``headroom_retrieve`` or not (one of each)."""
        compressor = self._tool_outputs.get(retrieval)
        if compressor is None:
            from headroom_core.transforms.tool_outputs import ToolOutputCompressor

            config = self.config
            if retrieval != config.retrieval.enabled:
                config = config.model_copy(deep=True)
                config.retrieval.enabled = retrieval
            compressor = self._tool_outputs.setdefault(retrieval, ToolOutputCompressor(config))
        return compressor

    def _aligner_for(self, provider: Provider) -> Transform:
        aligner = self._aligners.get(id(provider))
        if aligner is None:
            from headroom_core.transforms.cache_aligner import CacheAligner

            aligner = self._aligners.setdefault(
                id(provider), CacheAligner(self.config.cache_aligner, provider=provider)
            )
        return aligner

    def _context_fitter(
        self, keep_turns: int | None, retrieval: bool, best_effort: bool = False
    ) -> Transform | None:
        """The configured fitting transform, with ``keep_turns`` applied (one per setting);
        ``best_effort`` ones return what fits best instead of raising (a caller's budget)."""
        key = (keep_turns, retrieval, best_effort)
        fitter = self._fitters.get(key)
        if fitter is None and key not in self._fitters:
            fitter = self._fitters.setdefault(key, self._build_fitter(*key))
        return fitter

    def _build_fitter(
        self, keep_turns: int | None, retrieval: bool, best_effort: bool
    ) -> Transform | None:
        if self.config.context_fitting == "rolling":
            from headroom_core.transforms.rolling_window import RollingWindow

            rolling = self.config.rolling_window
            if not rolling.enabled:
                return None
            if keep_turns is not None:
                rolling = type(rolling)(
                    **{**rolling.model_dump(), "preserve_recent_turns": keep_turns}
                )
            return RollingWindow(rolling)
        from headroom_core.transforms.intelligent_context import IntelligentContextManager

        intelligent = self.config.intelligent_context
        if not intelligent.enabled:
            return None
        changes: dict[str, Any] = {}
        if keep_turns is not None:
            changes["keep_last_turns"] = keep_turns
        if best_effort:
            changes["on_overflow"] = "best_effort"
        if changes:
            intelligent = type(intelligent)(**{**intelligent.model_dump(), **changes})
        # the tool-output router: its config decides whether crushed results store their originals
        router = self._tool_output_compressor(retrieval).router
        return IntelligentContextManager(intelligent, router=router)

    # -- accounting -----------------------------------------------------------------------------

    def _account(self, result: SimulationResult, originals: Messages) -> None:
        """Add the request to the session counters and queue its metrics row (never raises)."""
        with self._stats_lock:
            self._session.add(result)
            self._session_by_mode[result.mode] += 1
            for name, saved in result.transform_savings.items():
                self._session_transforms[name] = self._session_transforms.get(name, 0) + saved
        if self.store is not None:
            content = None
            if self.config.store_message_content:
                content = {"original": originals, "optimized": result.messages_optimized}
            self.store.record(result, source=self.source, content=content)

    def get_stats(self) -> dict[str, Any]:
        """Counters of this engine since it was created (no database query).

        Returns:
            ``session`` (requests, tokens before/after/saved, cost saved, failures, requests by
            mode), ``config`` (mode, fitting strategy, fail-open, store) and ``transforms``
            (tokens saved per transform).
        """
        with self._stats_lock:
            session = {**asdict(self._session), "by_mode": dict(self._session_by_mode)}
            transforms = dict(self._session_transforms)
        return {
            "session": session,
            "config": {
                "default_mode": self.config.default_mode,
                "context_fitting": self.config.context_fitting,
                "fail_open": self.config.fail_open,
                "provider": type(self.provider).__name__ if self.provider else "auto",
                "store": self.store.safe_url if self.store is not None else None,
            },
            "transforms": transforms,
        }

    def get_summary(self, **filters: Any) -> dict[str, Any]:
        """Totals over every request in the metrics store (``MetricsStore.summary`` keys and
        filters): earlier runs and other processes sharing the store count too; narrow it with
        ``start_time``, ``model``, ``mode`` or ``source``. ``get_stats()["session"]`` holds this
        engine's requests only.

        Without a store, the same keys computed over this engine's session.
        """
        if self.store is not None:
            self.store.flush()
            return self.store.summary(**filters)
        with self._stats_lock:
            session = replace(self._session)
        ratio = session.tokens_after / session.tokens_before if session.tokens_before else 1.0
        return {
            "total_requests": session.requests,
            "total_tokens_before": session.tokens_before,
            "total_tokens_saved": session.tokens_saved,
            "avg_compression_ratio": ratio,
            "total_cost_saved_usd": session.cost_saved_usd,
            "failures": session.failures,
        }

    def get_metrics(
        self,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        model: str | None = None,
        mode: str | None = None,
        limit: int | None = 100,
    ) -> list[RequestMetrics]:
        """Stored requests, newest first; empty when no store is configured."""
        if self.store is None:
            return []
        self.store.flush()
        return self.store.query(start_time, end_time, model, mode, limit=limit)

    def close(self) -> None:
        """Flush the metrics store; close it when the engine opened it (a store passed in
        belongs to the caller)."""
        if self.store is None:
            return
        if self._owns_store:
            self.store.close()
        else:
            self.store.flush()


class _Request:
    """Per-request settings the pipeline steps share."""

    __slots__ = (
        "context",
        "documents",
        "frozen",
        "keep_exchanges",
        "keep_turns",
        "model",
        "model_limit",
        "output_buffer",
        "provider",
        "query",
        "retrieval",
        "token_budget",
        "tokenizer",
        "tool_profiles",
        "tools",
    )

    def __init__(
        self,
        *,
        model: str,
        provider: Provider,
        tokenizer: Tokenizer,
        query: str | None,
        documents: tuple[str, ...],
        keep_turns: int | None,
        keep_exchanges: int | None,
        token_budget: int | None,
        frozen: int,
        retrieval: bool,
        tool_profiles: Mapping[str, Mapping[str, Any]] | None,
        tools: Sequence[Mapping[str, Any]] | None,
        model_limit: int,
        output_buffer: int,
        context: dict[str, Any],
    ) -> None:
        self.model = model
        self.provider = provider
        self.tokenizer = tokenizer
        self.query = query
        self.documents = documents
        self.keep_turns = keep_turns
        self.keep_exchanges = keep_exchanges
        self.token_budget = token_budget
        self.frozen = frozen
        self.retrieval = retrieval
        self.tool_profiles = tool_profiles
        self.tools = tools
        self.model_limit = model_limit
        self.output_buffer = output_buffer
        self.context = context

    @property
    def budget(self) -> int:
        """Tokens the request may use: the window minus what the reply needs."""
        return self.model_limit - self.output_buffer

    @property
    def target(self) -> int:
        """Tokens the pipeline aims at: the caller's budget when it set one below the window."""
        return min(self.budget, self.token_budget) if self.token_budget else self.budget

    def context_for(self, transform: Transform) -> dict[str, Any]:
        """The keyword context ``transform.apply`` receives.

        Fitting transforms count messages only, so the tool definitions' tokens are reserved
        beside the output buffer.
        """
        context = {**self.context, "model": self.model}
        if self.frozen:
            context["frozen_message_count"] = self.frozen
        if transform.name == "tool_output_compression":
            context["query"] = self.query
            context["documents"] = self.documents
            context["tool_profiles"] = self.tool_profiles
            if self.token_budget is not None:
                context["token_budget"] = self.token_budget
            return context
        tools_tokens = self.tokenizer.count_tools(self.tools) if self.tools else 0
        if transform.name == "intelligent_context":
            context["model_limit"] = self.target + self.output_buffer
            context["output_buffer_tokens"] = self.output_buffer + tools_tokens
            if self.query is not None:
                context["query"] = self.query
            if self.keep_exchanges is not None:
                context["keep_last_tool_exchanges"] = self.keep_exchanges
        elif transform.name in ("rolling_window", "cache_aligner"):
            # the aligner keeps its context block off older turns that fitting would drop
            context["max_tokens"] = self.target - tools_tokens
        return context


def _whole_number_option(options: OptimizeOptions, name: str, minimum: int = 1) -> int | None:
    value = options.get(name)  # type: ignore[misc]
    if value is not None and (
        not isinstance(value, int) or isinstance(value, bool) or value < minimum
    ):
        raise ConfigurationError(
            f"Invalid value for {name}: {value!r}. Allowed: a whole number >= {minimum}.",
            details={"field": name, "value": value},
        )
    return value  # type: ignore[no-any-return]


def _retrieval_option(options: OptimizeOptions, config: HeadroomConfig) -> bool:
    value = options.get("retrieval")
    if value is None:
        return config.retrieval.enabled
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"Invalid value for retrieval: {value!r}. Allowed: True, False or None.",
            details={"field": "retrieval", "value": value},
        )
    return value


def _overflow(request: _Request, tokens: int, reason: str) -> ContextOverflowError:
    """The error for a request that exceeds its budget after the pipeline, and why."""
    return ContextOverflowError(
        f"The request cannot fit: it is {tokens:,} tokens and {reason}; the budget is "
        f"{request.budget:,} (model_limit {request.model_limit:,} minus "
        f"{request.output_buffer:,} output buffer). Lower output_buffer_tokens or use a model "
        "with a larger window.",
        details={
            "minimum_tokens": tokens,
            "budget": request.budget,
            "model_limit": request.model_limit,
            "output_buffer_tokens": request.output_buffer,
        },
    )


def _tool_outputs_by_call(messages: Messages) -> dict[str, str]:
    """Each tool result's text as the caller sent it, by tool-call id."""
    return {
        str(message["tool_call_id"]): content_text(message)
        for message in messages
        if message.get("role") == "tool" and message.get("tool_call_id") is not None
    }


def _has_tool_output(messages: Messages) -> bool:
    return any(message.get("role") in ("tool", "function") for message in messages)


def _shown_keys(keys: list[str], messages: Messages) -> list[str]:
    """The keys still shown in ``messages``: context fitting may have dropped a marker."""
    if not keys:
        return keys
    texts = [content_text(message) for message in messages]
    return [key for key in keys if any(key in text for text in texts)]


def _text_size(messages: Sequence[Mapping[str, Any]]) -> int:
    size = 0
    for message in messages:
        content = message.get("content") if isinstance(message, Mapping) else None
        if isinstance(content, str):
            size += len(content)
        elif isinstance(content, list):
            size += sum(len(str(part)) for part in content)
    return size
