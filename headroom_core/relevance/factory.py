"""Pick and build a relevance scorer by name or from :class:`RelevanceScorerConfig`."""

from __future__ import annotations

from typing import Any

from headroom_core.config import RelevanceScorerConfig
from headroom_core.errors import ConfigurationError
from headroom_core.relevance.base import RelevanceScorer
from headroom_core.relevance.bm25 import BM25Scorer
from headroom_core.relevance.embedding import EmbeddingScorer, embedding_available
from headroom_core.relevance.hybrid import HybridScorer

__all__ = ["SCORER_TYPES", "create_scorer"]

SCORER_TYPES = ("auto", "bm25", "embedding", "hybrid")
_ALLOWED_OPTIONS = {
    "bm25": {"k1", "b"},
    "embedding": {"model", "batch_size"},
    "hybrid": {"alpha", "model", "k1", "b"},
}


def create_scorer(
    scorer_type: str | None = None,
    *,
    config: RelevanceScorerConfig | None = None,
    **options: Any,
) -> RelevanceScorer:
    """Build a relevance scorer.

    Args:
        scorer_type: ``"auto"`` (hybrid when embeddings are installed, else BM25), ``"bm25"``,
            ``"embedding"`` or ``"hybrid"``. Defaults to ``config.scorer_type``, else ``"auto"``.
        config: Scorer settings (BM25 k1/b, embedding model, hybrid alpha).
        **options: Constructor arguments of the chosen scorer (``k1``, ``b``, ``model``, ``alpha``),
            overriding ``config``.

    Returns:
        The scorer.

    Raises:
        ConfigurationError: Unknown type or option, or ``"embedding"`` without the ``relevance``
            extra installed.

    Examples:
        >>> create_scorer("bm25", k1=1.2)
        BM25Scorer(k1=1.2, b=0.75)
    """
    chosen = scorer_type or (config.scorer_type if config is not None else "auto")
    if chosen not in SCORER_TYPES:
        raise ConfigurationError(
            f"Invalid value for scorer_type: {chosen!r}. Allowed: {', '.join(SCORER_TYPES)}.",
            details={"field": "scorer_type", "value": chosen, "allowed": list(SCORER_TYPES)},
        )
    if chosen == "auto":
        chosen = "hybrid" if embedding_available() else "bm25"
    unknown = set(options) - _ALLOWED_OPTIONS[chosen]
    if unknown:
        raise ConfigurationError(
            f"Unknown option(s) {sorted(unknown)} for the {chosen} scorer. "
            f"Allowed: {sorted(_ALLOWED_OPTIONS[chosen])}.",
            details={
                "field": sorted(unknown)[0],
                "value": options[sorted(unknown)[0]],
                "allowed": sorted(_ALLOWED_OPTIONS[chosen]),
            },
        )
    settings = _settings(config or RelevanceScorerConfig())
    settings = {name: value for name, value in settings.items() if name in _ALLOWED_OPTIONS[chosen]}
    settings.update(options)
    if chosen == "bm25":
        return BM25Scorer(**settings)
    if chosen == "embedding":
        return EmbeddingScorer(**settings)
    return HybridScorer(**settings)


def _settings(config: RelevanceScorerConfig) -> dict[str, Any]:
    return {
        "k1": config.bm25_k1,
        "b": config.bm25_b,
        "model": config.embedding_model,
        "alpha": config.hybrid_alpha,
    }
