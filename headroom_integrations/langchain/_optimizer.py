"""The one path from LangChain messages through the Headroom engine and back, failing open.

Every LangChain adapter (chat model, transformer, middleware, graph node, history) optimizes
through :class:`MessageOptimizer`, so conversion, the engine call, the fallback on failure and the
savings tally exist once.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import BaseMessage

from headroom_core.adapter_settings import check_adapter_settings
from headroom_core.alignment import tag_origins
from headroom_core.errors import ContextOverflowError
from headroom_integrations.langchain._messages import from_core_messages, to_core_messages
from headroom_integrations.langchain._savings import SavingsLedger

if TYPE_CHECKING:
    from headroom_core.config import HeadroomConfig
    from headroom_core.engine import HeadroomEngine
    from headroom_core.results import SimulationResult

__all__ = [
    "DEFAULT_MODEL",
    "SAVINGS_EVENT",
    "MessageOptimizer",
    "Optimization",
    "model_limit_of",
    "model_name_of",
]

logger = logging.getLogger("headroom_integrations.langchain")

DEFAULT_MODEL = "gpt-4o"
SAVINGS_EVENT = "headroom_savings"
"""Name of the LangChain custom event that carries an engine summary."""


@dataclass(frozen=True)
class Optimization:
    """Messages to send and the engine's account of them (``summary()`` of the result)."""

    messages: list[BaseMessage]
    summary: dict[str, Any] = field(default_factory=dict)


class MessageOptimizer:
    """Converts LangChain messages, runs the engine, maps the output back onto the originals.

    A failure inside Headroom (conversion, engine) never reaches the caller: it logs a warning,
    counts a failed request and returns the original messages. A request that cannot fit the
    model's window raises :class:`~headroom_core.errors.ContextOverflowError` instead: sending
    it would only get it rejected.

    Args:
        config: Engine configuration; defaults of :class:`HeadroomConfig` when None.
        mode: ``"optimize"`` (send the optimized messages) or ``"audit"`` (measure only).
        store_url: Metrics store for the engine (``sqlite:///headroom.db``...); None = no store.
        engine: An engine to share between adapters; built from the other arguments when None.
        source: Name recorded with each metrics row.
        model_name: The adapter's model name, when it has one before the first call: checked
            now, with ``mode`` and ``store_url``, so a bad setting fails when the adapter is
            built rather than failing open on every call.

    Raises:
        ConfigurationError: ``mode`` or ``store_url`` is invalid.
        ProviderError: ``model_name`` is not a known model.
    """

    def __init__(
        self,
        config: HeadroomConfig | None = None,
        *,
        mode: str = "optimize",
        store_url: str | None = None,
        engine: HeadroomEngine | None = None,
        source: str = "langchain",
        model_name: str | None = None,
    ) -> None:
        check_adapter_settings(mode=mode, model_name=model_name, store_url=store_url, engine=engine)
        self._config = config
        self._store_url = store_url
        self._source = source
        self._engine = engine
        self._engine_lock = threading.Lock()
        self.mode = mode
        self.ledger = SavingsLedger()

    @property
    def engine(self) -> HeadroomEngine:
        """The engine, built on first use so constructing an adapter stays cheap."""
        if self._engine is None:
            with self._engine_lock:  # one engine (and one metrics writer) even under batch()
                if self._engine is None:
                    from headroom_core.engine import HeadroomEngine

                    self._engine = HeadroomEngine(
                        self._config, store_url=self._store_url, source=self._source
                    )
        return self._engine

    def optimize(self, messages: Sequence[BaseMessage], model: str, **options: Any) -> Optimization:
        """Optimize ``messages`` for ``model``; ``options`` go to ``HeadroomEngine.optimize``."""
        request_id = uuid.uuid4().hex
        try:
            converted = to_core_messages(messages)
            result = self.engine.optimize(
                tag_origins(converted), model, **self._engine_options(request_id, options)
            )
            return self._finish(result, messages, converted)
        except ContextOverflowError:
            raise
        except Exception as error:
            if not self._fails_open:
                raise
            return self._fail_open(messages, model, request_id, error)

    async def aoptimize(
        self, messages: Sequence[BaseMessage], model: str, **options: Any
    ) -> Optimization:
        """Async :meth:`optimize`."""
        request_id = uuid.uuid4().hex
        try:
            converted = to_core_messages(messages)
            result = await self.engine.aoptimize(
                tag_origins(converted), model, **self._engine_options(request_id, options)
            )
            return self._finish(result, messages, converted)
        except ContextOverflowError:
            raise
        except Exception as error:
            if not self._fails_open:
                raise
            return self._fail_open(messages, model, request_id, error)

    def _engine_options(self, request_id: str, options: Mapping[str, Any]) -> dict[str, Any]:
        chosen = {key: value for key, value in options.items() if value is not None}
        return {"mode": self.mode, "request_id": request_id, **chosen}

    def _finish(
        self,
        result: SimulationResult,
        messages: Sequence[BaseMessage],
        converted: list[dict[str, Any]],
    ) -> Optimization:
        optimized = from_core_messages(result.messages_optimized, messages, converted)
        summary = result.summary()
        self.ledger.record(summary)
        return Optimization(optimized, summary)

    @property
    def _fails_open(self) -> bool:
        """``config.fail_open``: False lets the engine's errors reach the caller."""
        config = self._engine.config if self._engine is not None else self._config
        return config is None or config.fail_open

    def _fail_open(
        self, messages: Sequence[BaseMessage], model: str, request_id: str, error: Exception
    ) -> Optimization:
        text = f"{type(error).__name__}: {error}"
        try:
            engine: HeadroomEngine | None = self.engine
        except Exception:  # the engine itself could not be built
            engine = None
        if engine is not None:  # a warning and a failed row, as for the engine's own faults
            engine.record(engine.sent_unchanged((), model, error, self.mode, request_id))
        else:
            logger.warning("Headroom could not optimize a request; sending it unchanged (%s)", text)
        summary = {
            "request_id": request_id,
            "model": model,
            "mode": self.mode,
            "tokens_before": 0,
            "tokens_after": 0,
            "tokens_saved": 0,
            "transforms_applied": [],
            "transform_savings": {},
            "failed": True,
            "error": text,
        }
        self.ledger.record(summary)
        return Optimization(list(messages), summary)


def model_name_of(chat_model: BaseChatModel, **call_kwargs: Any) -> str:
    """The model name LangSmith would record for a call (``ls_model_name``), else gpt-4o."""
    try:
        name = chat_model._get_ls_params(**call_kwargs).get("ls_model_name")
    except Exception:
        name = None
    if not name:
        name = getattr(chat_model, "model_name", None) or getattr(chat_model, "model", None)
    return name if isinstance(name, str) and name else DEFAULT_MODEL


def model_limit_of(chat_model: BaseChatModel) -> int | None:
    """The input window from the model's LangChain profile, when it declares one."""
    profile = getattr(chat_model, "profile", None) or {}
    limit = profile.get("max_input_tokens") if isinstance(profile, Mapping) else None
    return limit if isinstance(limit, int) and limit > 0 else None
