"""Validated configuration for every Headroom component.

All configs are pydantic v2 models validated at construction *and on assignment*, so
``config.smart_crusher.min_tokens_to_crush = -5`` fails at once. Every failure is a
:class:`~headroom_core.errors.ConfigurationError` naming the field, the bad value and what is
allowed.
"""

from __future__ import annotations

import difflib
from typing import TYPE_CHECKING, Any, Literal

import pydantic
from pydantic import BaseModel, ConfigDict, Field, model_validator

from headroom_core.errors import ConfigurationError

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "CacheAlignerConfig",
    "HeadroomConfig",
    "IntelligentContextConfig",
    "LineCrusherConfig",
    "RelevanceScorerConfig",
    "RetrievalConfig",
    "RollingWindowConfig",
    "ScoringWeights",
    "SmartCrusherConfig",
    "configuration_error",
]

Mode = Literal["audit", "optimize", "simulate"]


def configuration_error(
    model: type[BaseModel], exc: pydantic.ValidationError
) -> ConfigurationError:
    """Turn pydantic's report on ``model`` into one error naming field, value and what is allowed.

    Every pydantic model that takes user settings (our configs and the framework adapters built
    on pydantic) reports bad input this way, so users meet one kind of error everywhere. A nested
    config reports its own :class:`ConfigurationError`; its field is prefixed with the path to
    it, so ``HeadroomConfig(smart_crusher={"keep_first": -1})`` names
    ``smart_crusher.keep_first``.

    Args:
        model: The model class that failed to validate (its name appears in the message).
        exc: The error pydantic raised.

    Returns:
        The error to raise, with ``details`` holding ``config``, ``field``, ``value``,
        ``allowed`` and pydantic's full ``errors`` list.

    Examples:
        >>> import pydantic
        >>> class Budget(pydantic.BaseModel):
        ...     tokens: int = pydantic.Field(gt=0)
        >>> try:
        ...     Budget(tokens=0)
        ... except pydantic.ValidationError as exc:
        ...     error = configuration_error(Budget, exc)
        >>> error.details["field"], error.details["value"]
        ('tokens', 0)
    """
    errors = exc.errors()
    first = errors[0]
    path = [str(part) for part in first.get("loc", ())]
    value = first.get("input")
    unknown = first.get("type") == "extra_forbidden"
    allowed = _closest_setting(path[-1], model) if unknown and path else str(
        first.get("msg", "a valid value")
    ).removeprefix("Value error, ")
    inner = (first.get("ctx") or {}).get("error")
    if isinstance(inner, ConfigurationError) and "field" in inner.details:
        path.extend(part for part in str(inner.details["field"]).split(".") if part != "<config>")
        value = inner.details.get("value")
        allowed = inner.details.get("allowed", allowed)
        unknown = inner.details.get("unknown", False)
    field = ".".join(path) or "<config>"
    extra = len(errors) - 1
    more = f" (and {extra} more problem{'s' if extra > 1 else ''})" if extra else ""
    if unknown:
        text = f"Unknown setting for {model.__name__}: {field!r}{more}. {allowed}"
    else:
        text = f"Invalid value for {model.__name__}.{field}: {value!r}. Allowed: {allowed}{more}."
    return ConfigurationError(
        text,
        details={
            "config": model.__name__,
            "field": field,
            "value": value,
            "allowed": allowed,
            "unknown": unknown,
            "errors": [dict(error, ctx=str(error.get("ctx", ""))) for error in errors],
        },
    )


def _closest_setting(name: str, model: type[BaseModel]) -> str:
    """A hint for a mistyped setting: the nearest field names, else all of them."""
    fields = sorted(model.model_fields)
    close = difflib.get_close_matches(name, fields, n=3)
    if close:
        return f"Did you mean {' or '.join(close)}?"
    return f"Known settings: {', '.join(fields)}."


class _Config(BaseModel):
    """Base for configs: strict about unknown fields, validated on assignment."""

    model_config = ConfigDict(validate_assignment=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    def __setattr__(self, name: str, value: Any) -> None:
        try:
            super().__setattr__(name, value)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        """Validate ``obj`` (a dict or config) into this config; errors are ConfigurationErrors."""
        try:
            return super().model_validate(obj, **options)
        except pydantic.ValidationError as exc:
            raise configuration_error(cls, exc) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        """Validate a JSON document into this config; errors are ConfigurationErrors."""
        try:
            return super().model_validate_json(json_data, **options)
        except pydantic.ValidationError as exc:
            raise configuration_error(cls, exc) from None


class SmartCrusherConfig(_Config):
    """How JSON tool outputs are compressed."""

    enabled: bool = True
    min_tokens_to_crush: int = Field(
        200, ge=0, description="Outputs smaller than this pass through."
    )
    max_items_after_crush: int = Field(
        50, ge=1, description="Array items kept when lossy selection runs."
    )
    keep_first: int = Field(3, ge=0, description="Leading items always kept.")
    keep_last: int = Field(2, ge=0, description="Trailing items always kept.")
    relevance_threshold: float = Field(
        0.3, ge=0.0, le=1.0, description="Minimum query relevance to keep an item."
    )
    anomaly_std_threshold: float = Field(
        2.0, gt=0.0, description="Numeric z-score that marks an anomaly."
    )
    preserve_errors: bool = Field(True, description="Never drop items that look like errors.")
    lossless_only: bool = Field(False, description="Never drop items, only re-encode them.")
    token_budget: int | None = Field(
        None,
        ge=1,
        description="Target size of one output; default: lossless result, then max_items.",
    )


class LineCrusherConfig(_Config):
    """How logs, shell output, search results and plain text are compressed."""

    enabled: bool = True
    min_tokens_to_crush: int = Field(200, ge=0)
    max_lines_after_crush: int = Field(
        120, ge=1, description="Lines kept when lossy selection runs."
    )
    keep_first: int = Field(5, ge=0)
    keep_last: int = Field(5, ge=0)
    context_lines: int = Field(1, ge=0, description="Lines kept around each error line.")
    relevance_threshold: float = Field(0.3, ge=0.0, le=1.0)
    similarity_threshold: float = Field(
        90.0,
        ge=0.0,
        le=100.0,
        description="rapidfuzz ratio above which two lines are near duplicates.",
    )
    code_mode: Literal["passthrough", "outline"] = Field(
        "outline",
        description=(
            "What happens to large source code: 'outline' keeps signatures, the file's ends and "
            "the whole blocks the query points at, every kept line verbatim; 'passthrough' "
            "leaves code untouched."
        ),
    )
    code_min_tokens: int = Field(
        1500, ge=0, description="Code smaller than this passes through untouched."
    )
    code_min_savings: float = Field(
        0.25,
        ge=0.0,
        le=1.0,
        description="An outline saving less than this share of the code's tokens is not used.",
    )
    compress_code: bool = Field(
        False,
        description=(
            "Crush code line by line like plain text (lossy, blind to its structure), instead "
            "of following code_mode."
        ),
    )


class CacheAlignerConfig(_Config):
    """How the prompt prefix is stabilised for provider caches."""

    enabled: bool = True
    extract_dates: bool = Field(
        True, description="Move dates, times, ids out of the stable prefix."
    )
    normalize_whitespace: bool = Field(
        True, description="Collapse runs of spaces and blank lines (code kept)."
    )
    stable_prefix_min_tokens: int = Field(
        100, ge=0, description="Below this the prefix is not marked for caching."
    )


class RollingWindowConfig(_Config):
    """Recency-based fitting: drop whole oldest turns first."""

    enabled: bool = True
    max_tokens: int = Field(100_000, ge=1)
    preserve_system: bool = True
    preserve_recent_turns: int = Field(5, ge=1)
    drop_oldest_first: bool = True


class ScoringWeights(_Config):
    """Weights of the importance score; normalised to sum to 1 after every change."""

    recency: float = Field(0.25, ge=0.0)
    relevance: float = Field(0.25, ge=0.0)
    role: float = Field(0.10, ge=0.0)
    tool_value: float = Field(0.15, ge=0.0)
    error: float = Field(0.15, ge=0.0)
    forward_reference: float = Field(0.10, ge=0.0)

    @model_validator(mode="after")
    def _normalise(self) -> ScoringWeights:
        names = list(type(self).model_fields)
        total = sum(getattr(self, name) for name in names)
        if total <= 0:
            raise ValueError("at least one weight must be positive")
        for name in names:
            object.__setattr__(self, name, getattr(self, name) / total)
        return self


class IntelligentContextConfig(_Config):
    """Importance-scored fitting of a request into the model's window."""

    enabled: bool = True
    keep_system: bool = True
    keep_last_turns: int = Field(2, ge=1)
    keep_last_tool_exchanges: int = Field(
        2,
        ge=1,
        description=(
            "Newest tool exchanges of the current task kept as compressed normally when an agent "
            "run must be fitted; older ones are crushed harder, then replaced by stubs."
        ),
    )
    output_buffer_tokens: int = Field(4000, ge=0, description="Tokens kept free for the reply.")
    use_importance_scoring: bool = True
    scoring_weights: ScoringWeights = Field(default_factory=ScoringWeights)
    toin_integration: bool = Field(
        True, description="Use the tool-output importance learner when given."
    )
    compress_before_drop: bool = Field(
        True, description="Try crushing a tool result before dropping it."
    )
    on_overflow: Literal["raise", "best_effort"] = Field(
        "raise",
        description="If the kept minimum exceeds the limit: raise, or return flagged best effort.",
    )


class RelevanceScorerConfig(_Config):
    """Which relevance scorer ranks items against the query."""

    scorer_type: Literal["auto", "bm25", "embedding", "hybrid"] = "bm25"
    bm25_k1: float = Field(1.5, gt=0.0)
    bm25_b: float = Field(0.75, ge=0.0, le=1.0)
    embedding_model: str = "all-MiniLM-L6-v2"
    hybrid_alpha: float = Field(
        0.5, ge=0.0, le=1.0, description="Weight of BM25 in the hybrid score."
    )


class RetrievalConfig(_Config):
    """Where dropped items are kept so the model can ask for them back."""

    enabled: bool = True
    max_entries: int = Field(1000, ge=1)
    ttl_seconds: float = Field(3600.0, gt=0.0)
    store_url: str | None = Field(
        None, description="SQL store for dropped items; in-memory when unset."
    )


class HeadroomConfig(_Config):
    """The top-level config holding every sub-configuration."""

    default_mode: Mode = "optimize"
    smart_crusher: SmartCrusherConfig = Field(default_factory=SmartCrusherConfig)
    line_crusher: LineCrusherConfig = Field(default_factory=LineCrusherConfig)
    cache_aligner: CacheAlignerConfig = Field(default_factory=CacheAlignerConfig)
    rolling_window: RollingWindowConfig = Field(default_factory=RollingWindowConfig)
    intelligent_context: IntelligentContextConfig = Field(default_factory=IntelligentContextConfig)
    relevance: RelevanceScorerConfig = Field(default_factory=RelevanceScorerConfig)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    context_fitting: Literal["intelligent", "rolling"] = Field(
        "intelligent", description="Strategy used when a request still exceeds the window."
    )
    fail_open: bool = Field(True, description="On an internal failure send the original messages.")
    store_url: str | None = Field(None, description="Metrics store URL; None disables recording.")
    store_message_content: bool = Field(
        False, description="Keep raw message content in metrics rows."
    )
    compress_user_messages: bool = Field(
        False, description="Also crush large outputs pasted by the user."
    )
