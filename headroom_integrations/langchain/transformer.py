"""HeadroomTransformer: the Headroom engine as an LCEL step between a prompt and a model."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pydantic
from langchain_core.callbacks import adispatch_custom_event, dispatch_custom_event
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import BaseMessage, convert_to_messages
from langchain_core.prompt_values import PromptValue
from langchain_core.runnables import RunnableConfig, RunnableSerializable, ensure_config
from pydantic import ConfigDict, PrivateAttr, model_validator

from headroom_core.config import HeadroomConfig, configuration_error
from headroom_core.engine import HeadroomEngine
from headroom_core.errors import ValidationError
from headroom_integrations.langchain._optimizer import (
    DEFAULT_MODEL,
    SAVINGS_EVENT,
    MessageOptimizer,
)

__all__ = ["HeadroomTransformer"]


class HeadroomTransformer(RunnableSerializable[LanguageModelInput, list[BaseMessage]]):
    """A Runnable that returns the optimized form of a prompt's messages.

    Takes what a chat model takes (a PromptValue, a list of messages or message-likes, a string)
    and returns ``list[BaseMessage]``, like ``trim_messages``; messages the engine did not change
    come back as the very same objects. Each call emits a ``headroom_savings`` custom event with
    the engine's summary, visible to any callback handler and in ``astream_events``, and records
    the token counts in the run's metadata (``headroom_tokens_saved``...), which tracers such as
    LangSmith keep. An input that is not messages raises
    :class:`headroom_core.errors.ValidationError`.

    Key init args:
        model_name: Model the messages are for (token counting, window, prices).
        config: Engine configuration (:class:`headroom_core.config.HeadroomConfig`).
        mode: ``"optimize"`` returns optimized messages; ``"audit"`` returns them unchanged.
        store_url: Record one metrics row per call.
        query: What the tool outputs should be compressed for (default: the last user turn).
        tool_profiles: Per-tool options, e.g. ``{"search": {"skip_compression": True}}``.
        model_limit: The model's input window when it is not in the catalogue.
        engine: Share one :class:`headroom_core.engine.HeadroomEngine` between adapters.
        retrieval: Markers name the ``headroom_retrieve`` tool and dropped items are stored:
            set it only when the model after this step has
            :func:`~headroom_integrations.langchain.headroom_retrieve_tool` and its calls are
            answered (an agent's tool node, or ``HeadroomChatModel(retrieval=True)``). Off by
            default: markers say what was left out without naming a tool.

    Examples:
        ```python
        chain = prompt | HeadroomTransformer(model_name="gpt-4o") | ChatOpenAI(model="gpt-4o")
        chain.invoke({"question": "..."})
        ```
    """

    model_name: str = DEFAULT_MODEL
    config: HeadroomConfig | None = None
    mode: Literal["optimize", "audit"] = "optimize"
    store_url: str | None = None
    query: str | None = None
    tool_profiles: dict[str, dict[str, Any]] | None = None
    model_limit: int | None = None
    engine: HeadroomEngine | None = None
    retrieval: bool = False

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _optimizer: MessageOptimizer = PrivateAttr()

    def __init__(self, **kwargs: Any) -> None:
        try:
            super().__init__(**kwargs)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    @model_validator(mode="after")
    def _build_optimizer(self) -> HeadroomTransformer:
        self._optimizer = MessageOptimizer(
            self.config,
            mode=self.mode,
            store_url=self.store_url,
            engine=self.engine,
            source="langchain.transformer",
            model_name=self.model_name,
        )
        return self

    def _sharing(self, optimizer: MessageOptimizer) -> HeadroomTransformer:
        """Optimize through ``optimizer`` (engine and tally of the adapter that made this step)."""
        self._optimizer = optimizer
        return self

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Plain settings only, so chains holding the step can be dumped."""
        return True

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """Namespace recorded by ``langchain_core.load.dumpd``."""
        return ["headroom_integrations", "langchain", "transformer"]

    def get_metrics(self) -> dict[str, Any]:
        """Savings of this step so far: requests, tokens before/after/saved, per transform."""
        return self._optimizer.ledger.totals()

    def invoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[BaseMessage]:
        """Optimize the input's messages."""
        optimization = self._optimizer.optimize(
            _as_messages(input), self.model_name, **self._options()
        )

        def publish(_: LanguageModelInput, config: RunnableConfig) -> list[BaseMessage]:
            dispatch_custom_event(SAVINGS_EVENT, optimization.summary, config=config)
            return optimization.messages

        # langchain passes ``config`` by parameter name; its annotation lists positional shapes only
        return self._call_with_config(
            publish,  # type: ignore[arg-type]
            input,
            _with_savings(config, optimization.summary),
            **kwargs,
        )

    async def ainvoke(
        self, input: LanguageModelInput, config: RunnableConfig | None = None, **kwargs: Any
    ) -> list[BaseMessage]:
        """Async :meth:`invoke`."""
        optimization = await self._optimizer.aoptimize(
            _as_messages(input), self.model_name, **self._options()
        )

        async def publish(_: LanguageModelInput, config: RunnableConfig) -> list[BaseMessage]:
            await adispatch_custom_event(SAVINGS_EVENT, optimization.summary, config=config)
            return optimization.messages

        return await self._acall_with_config(
            publish,  # type: ignore[arg-type]  # ``config`` by name, as in invoke
            input,
            _with_savings(config, optimization.summary),
            **kwargs,
        )

    def _options(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "tool_profiles": self.tool_profiles,
            "model_limit": self.model_limit,
            "retrieval": self.retrieval and self._optimizer.engine.config.retrieval.enabled,
        }


def _as_messages(input: LanguageModelInput) -> list[BaseMessage]:
    if isinstance(input, PromptValue):
        return input.to_messages()
    if isinstance(input, str):
        return convert_to_messages([input])
    if not isinstance(input, Sequence):  # a dict would be read as its keys: one message each
        raise _unsupported(input, "put a prompt template before this step to turn it into messages")
    try:
        return convert_to_messages(input)
    except (NotImplementedError, TypeError, ValueError) as error:
        raise _unsupported(input, str(error)) from error


def _unsupported(input: Any, why: str) -> ValidationError:
    return ValidationError(
        f"HeadroomTransformer takes a PromptValue, a string or a list of messages; got "
        f"{type(input).__name__} ({why}).",
        details={"problem": "unsupported input", "type": type(input).__name__},
    )


def _with_savings(config: RunnableConfig | None, summary: dict[str, Any]) -> RunnableConfig:
    """The run's config with the savings in its metadata, where LangSmith and tracers keep them."""
    config = ensure_config(config)
    savings = {
        "headroom_request_id": summary.get("request_id"),
        "headroom_tokens_before": summary.get("tokens_before"),
        "headroom_tokens_after": summary.get("tokens_after"),
        "headroom_tokens_saved": summary.get("tokens_saved"),
        "headroom_failed": summary.get("failed"),
    }
    return {**config, "metadata": {**config.get("metadata", {}), **savings}}
