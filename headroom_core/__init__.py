"""Headroom core: make LLM context small, stable and still correct, and measure the savings.

Public names are loaded lazily, so ``import headroom_core`` stays cheap and never pulls optional
dependencies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from headroom_core._lazy import lazy_exports
from headroom_core._version import __version__

_EXPORTS: dict[str, str] = {
    # client and engine
    "HeadroomClient": "headroom_core.client",
    "HeadroomEngine": "headroom_core.engine",
    "compress": "headroom_core.compress",
    "generate_report": "headroom_core.reporting",
    "MetricsStore": "headroom_core.storage",
    # configuration
    "HeadroomConfig": "headroom_core.config",
    "SmartCrusherConfig": "headroom_core.config",
    "LineCrusherConfig": "headroom_core.config",
    "CacheAlignerConfig": "headroom_core.config",
    "RollingWindowConfig": "headroom_core.config",
    "IntelligentContextConfig": "headroom_core.config",
    "ScoringWeights": "headroom_core.config",
    "RelevanceScorerConfig": "headroom_core.config",
    "RetrievalConfig": "headroom_core.config",
    # results
    "CompressResult": "headroom_core.results",
    "RequestMetrics": "headroom_core.results",
    "SimulationResult": "headroom_core.results",
    "TransformResult": "headroom_core.results",
    "WasteSignals": "headroom_core.results",
    # providers and tokens
    "AnthropicProvider": "headroom_core.providers",
    "GoogleProvider": "headroom_core.providers",
    "OpenAIProvider": "headroom_core.providers",
    "Tokenizer": "headroom_core.tokenizer",
    "count_tokens_messages": "headroom_core.tokenizer",
    "count_tokens_text": "headroom_core.tokenizer",
    # relevance
    "BM25Scorer": "headroom_core.relevance",
    "EmbeddingScorer": "headroom_core.relevance",
    "HybridScorer": "headroom_core.relevance",
    "create_scorer": "headroom_core.relevance",
    "embedding_available": "headroom_core.relevance",
    # transforms
    "SmartCrusher": "headroom_core.transforms",
    "LineCrusher": "headroom_core.transforms",
    "ContentRouter": "headroom_core.transforms",
    "CacheAligner": "headroom_core.transforms",
    "RollingWindow": "headroom_core.transforms",
    "IntelligentContextManager": "headroom_core.transforms",
    "TransformPipeline": "headroom_core.transforms",
    # errors
    "HeadroomError": "headroom_core.errors",
    "ConfigurationError": "headroom_core.errors",
    "ProviderError": "headroom_core.errors",
    "StorageError": "headroom_core.errors",
    "CompressionError": "headroom_core.errors",
    "ValidationError": "headroom_core.errors",
    "TokenizationError": "headroom_core.errors",
    "CacheError": "headroom_core.errors",
    "TransformError": "headroom_core.errors",
}

__all__ = ["__version__", *_EXPORTS]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # pragma: no cover - names for type checkers and IDEs
    from headroom_core.client import HeadroomClient
    from headroom_core.compress import compress
    from headroom_core.config import *  # noqa: F403
    from headroom_core.engine import HeadroomEngine
    from headroom_core.errors import *  # noqa: F403
    from headroom_core.providers import AnthropicProvider, GoogleProvider, OpenAIProvider
    from headroom_core.relevance import (
        BM25Scorer,
        EmbeddingScorer,
        HybridScorer,
        create_scorer,
        embedding_available,
    )
    from headroom_core.reporting import generate_report
    from headroom_core.results import *  # noqa: F403
    from headroom_core.storage import MetricsStore
    from headroom_core.tokenizer import Tokenizer, count_tokens_messages, count_tokens_text
    from headroom_core.transforms import (
        CacheAligner,
        ContentRouter,
        IntelligentContextManager,
        LineCrusher,
        RollingWindow,
        SmartCrusher,
        TransformPipeline,
    )
