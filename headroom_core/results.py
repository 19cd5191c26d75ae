"""Result types shared by transforms, the engine, the client and the adapters.

Plain dataclasses: cheap to build on the request path, easy to turn into dicts for metrics rows,
JSON responses and LangChain ``response_metadata``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

__all__ = [
    "CompressResult",
    "CrushResult",
    "RequestMetrics",
    "SavingsTotals",
    "SimulationResult",
    "TransformResult",
    "WasteSignals",
]

Messages = list[dict[str, Any]]


@dataclass
class TransformResult:
    """What one transform (or a whole pipeline) did to a list of messages."""

    messages: Messages
    tokens_before: int
    tokens_after: int
    transforms_applied: list[str] = field(default_factory=list)
    description: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def tokens_saved(self) -> int:
        """Tokens removed (never negative)."""
        return max(0, self.tokens_before - self.tokens_after)


@dataclass
class CrushResult:
    """What a crusher did to one tool output.

    ``compressed`` is the text to send; ``original`` is the input as given. ``kept_indices`` and
    ``dropped_indices`` refer to array items (SmartCrusher) or lines (LineCrusher).
    ``retrieval_key`` names the stored originals of dropped items, when any were dropped.
    """

    compressed: str
    original: Any
    tokens_before: int
    tokens_after: int
    strategy: str = "passthrough"
    reasons: list[str] = field(default_factory=list)
    kept_indices: list[int] = field(default_factory=list)
    dropped_indices: list[int] = field(default_factory=list)
    retrieval_key: str | None = None

    @classmethod
    def unchanged(cls, text: str, tokens: int, reason: str, original: Any = None) -> CrushResult:
        """The result of a crusher that leaves ``text`` as it is, and why."""
        return cls(text, text if original is None else original, tokens, tokens, reasons=[reason])

    @property
    def changed(self) -> bool:
        """Whether the output differs from the input."""
        return self.strategy != "passthrough"

    @property
    def tokens_saved(self) -> int:
        """Tokens removed."""
        return max(0, self.tokens_before - self.tokens_after)


@dataclass
class WasteSignals:
    """Tokens a request wastes, by cause; each value is what removing that cause would save."""

    json_bloat_tokens: int = 0
    html_noise_tokens: int = 0
    whitespace_tokens: int = 0
    dynamic_date_tokens: int = 0
    repetition_tokens: int = 0

    @property
    def total(self) -> int:
        """All detected waste, in tokens."""
        return (
            self.json_bloat_tokens
            + self.html_noise_tokens
            + self.whitespace_tokens
            + self.dynamic_date_tokens
            + self.repetition_tokens
        )

    def to_dict(self) -> dict[str, int]:
        """The signals as a plain dict (with ``total``)."""
        return {**asdict(self), "total": self.total}


@dataclass
class CompressResult:
    """Outcome of :func:`headroom_core.compress`: the messages and what compression saved.

    ``retrieval_keys`` are the keys the messages' omission markers show, for
    :func:`headroom_core.retrieval.retrieve`.
    """

    messages: Messages
    tokens_before: int
    tokens_after: int
    transforms_applied: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    retrieval_keys: list[str] = field(default_factory=list)

    @property
    def tokens_saved(self) -> int:
        """Tokens removed."""
        return max(0, self.tokens_before - self.tokens_after)

    @property
    def compression_ratio(self) -> float:
        """``tokens_after / tokens_before`` (1.0 when nothing was there)."""
        return self.tokens_after / self.tokens_before if self.tokens_before else 1.0


@dataclass
class SimulationResult:
    """The engine's account of one request: what it would send (or sent) and what that saved.

    ``retrieval_keys`` are the keys of stored originals whose markers the optimized messages
    show: each one can be passed to :func:`headroom_core.retrieval.retrieve`.
    """

    tokens_before: int
    tokens_after: int
    transforms_applied: list[str] = field(default_factory=list)
    waste_signals: WasteSignals = field(default_factory=WasteSignals)
    messages_optimized: Messages = field(default_factory=list)
    transform_savings: dict[str, int] = field(default_factory=dict)
    retrieval_keys: list[str] = field(default_factory=list)
    estimated_cost_before_usd: float | None = None
    estimated_cost_after_usd: float | None = None
    model: str = ""
    mode: str = "simulate"
    request_id: str = ""
    latency_ms: float = 0.0
    stable_prefix_hash: str | None = None
    stable_prefix_tokens: int = 0
    failed: bool = False
    error: str | None = None
    provider_input_tokens: int | None = None  # as the provider reported them, when it did
    provider_output_tokens: int | None = None

    @property
    def tokens_saved(self) -> int:
        """Tokens removed."""
        return max(0, self.tokens_before - self.tokens_after)

    @property
    def savings_percent(self) -> float:
        """Tokens removed as a percentage of the original request."""
        return 100.0 * self.tokens_saved / self.tokens_before if self.tokens_before else 0.0

    @property
    def compression_ratio(self) -> float:
        """``tokens_after / tokens_before``."""
        return self.tokens_after / self.tokens_before if self.tokens_before else 1.0

    @property
    def estimated_savings_usd(self) -> float | None:
        """Input cost saved at list prices, None when the model's price is unknown."""
        if self.estimated_cost_before_usd is None or self.estimated_cost_after_usd is None:
            return None
        return self.estimated_cost_before_usd - self.estimated_cost_after_usd

    def summary(self) -> dict[str, Any]:
        """The numbers without the messages: small enough for metadata and logs."""
        return {
            "request_id": self.request_id,
            "model": self.model,
            "mode": self.mode,
            "tokens_before": self.tokens_before,
            "tokens_after": self.tokens_after,
            "tokens_saved": self.tokens_saved,
            "savings_percent": round(self.savings_percent, 2),
            "transforms_applied": list(self.transforms_applied),
            "transform_savings": dict(self.transform_savings),
            "retrieval_keys": list(self.retrieval_keys),
            "waste_signals": self.waste_signals.to_dict(),
            "estimated_cost_before_usd": self.estimated_cost_before_usd,
            "estimated_cost_after_usd": self.estimated_cost_after_usd,
            "estimated_savings_usd": self.estimated_savings_usd,
            "latency_ms": round(self.latency_ms, 3),
            "stable_prefix_hash": self.stable_prefix_hash,
            "failed": self.failed,
            "error": self.error,
        }


@dataclass
class RequestMetrics:
    """One recorded request, as read back from the metrics store."""

    timestamp: datetime
    request_id: str
    model: str
    mode: str
    tokens_before: int
    tokens_after: int
    tokens_saved: int
    cost_before_usd: float | None = None
    cost_after_usd: float | None = None
    transforms_applied: list[str] = field(default_factory=list)
    transform_savings: dict[str, int] = field(default_factory=dict)
    latency_ms: float = 0.0
    stable_prefix_hash: str | None = None
    failed: bool = False
    error: str | None = None
    source: str = ""
    content: Any = None
    provider_input_tokens: int | None = None
    provider_output_tokens: int | None = None

    @property
    def estimated_savings_usd(self) -> float | None:
        """Input cost saved at list prices, None when the model's price was unknown."""
        if self.cost_before_usd is None or self.cost_after_usd is None:
            return None
        return self.cost_before_usd - self.cost_after_usd

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly dict."""
        data = asdict(self)
        data["timestamp"] = self.timestamp.isoformat()
        return data


@dataclass
class SavingsTotals:
    """Running totals over requests, live (:class:`SimulationResult`) or stored
    (:class:`RequestMetrics`): one sum behind session stats and reports."""

    requests: int = 0
    tokens_before: int = 0
    tokens_after: int = 0
    tokens_saved: int = 0
    cost_saved_usd: float = 0.0
    failures: int = 0

    def add(self, request: SimulationResult | RequestMetrics) -> None:
        """Count one request; a request of unknown price adds no cost saving."""
        self.requests += 1
        self.tokens_before += request.tokens_before
        self.tokens_after += request.tokens_after
        self.tokens_saved += request.tokens_saved
        self.cost_saved_usd += request.estimated_savings_usd or 0.0
        self.failures += request.failed

    @property
    def savings_percent(self) -> float:
        """Tokens saved as a percentage of the tokens before."""
        return 100.0 * self.tokens_saved / self.tokens_before if self.tokens_before else 0.0
