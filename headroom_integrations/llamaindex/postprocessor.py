"""HeadroomNodePostprocessor: keep the retrieved context the query needs, within a token budget."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic
from llama_index.core.bridge.pydantic import Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle
from rapidfuzz import fuzz

from headroom_core.config import configuration_error
from headroom_core.providers import provider_for_model
from headroom_core.relevance import RelevanceScorer, create_scorer
from headroom_core.results import SimulationResult
from headroom_core.storage import MetricsStore
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms.router import ContentRouter
from headroom_integrations.llamaindex._nodes import (
    body_text,
    llm_text,
    normalised_scores,
    revised_copy,
)
from headroom_integrations.llamaindex.events import HeadroomPostprocessEvent

__all__ = ["HeadroomNodePostprocessor"]

logger = logging.getLogger(__name__)
dispatcher = get_dispatcher(__name__)

METRICS_SOURCE = "llamaindex"
# Compression is tried on a node that does not fit, while the budget still has this much room
# and until this many compressed nodes in a row still did not fit (each try costs a crush).
MIN_COMPRESSED_TOKENS = 64
MAX_COMPRESSION_MISSES = 2


@dataclass
class _Candidate:
    """A node on its way into the context: its (possibly compressed) text and token cost."""

    position: int
    node: BaseNode
    body: str
    tokens: int
    compressed_text: str | None = None
    compression: str | None = None
    original_tokens: int = 0
    merged_ids: list[str] = field(default_factory=list)
    merged_tokens: int = 0


@dataclass
class _Selection:
    kept: list[_Candidate]
    scores: list[float]
    tokens_before: int


class HeadroomNodePostprocessor(BaseNodePostprocessor):
    """Keeps the retrieved nodes a query needs, within a token budget.

    Every node is scored against the query with Headroom's relevance scorers (BM25 by default,
    embeddings or hybrid when the ``relevance`` extra is installed) and the score is blended with
    the retriever's own (min-max normalised) score. In blended order, nodes are kept while they
    fit ``token_budget`` (counted exactly on the content the LLM reads, metadata header
    included); a near-duplicate of a node already kept is merged into it; a relevant node with
    JSON, log or search text that does not fit is compressed by the tool-output crushers
    (errors, anomalies and query matches survive) rather than dropped. Nodes that fit are sent
    verbatim: lossy compression only runs where the budget demands it.

    Nodes are never mutated: a node whose text changed, or that absorbed duplicates, is a copy
    with the same id, metadata and relationships, plus a ``metadata["headroom"]`` note hidden
    from the LLM. When no node fits the budget the best one is kept anyway, so a query never
    loses all of its context. On an internal failure the input nodes come back unchanged, with a
    warning and a failed metrics row.

    Savings are emitted as :class:`HeadroomPostprocessEvent` through LlamaIndex instrumentation
    and, when ``store_url`` is set, recorded in Headroom's metrics store (source
    ``"llamaindex"``).

    Setup:
        .. code-block:: bash

            pip install "headroom-langchain[llamaindex]"

    Example:
        .. code-block:: python

            from headroom_integrations.llamaindex import HeadroomNodePostprocessor

            query_engine = index.as_query_engine(
                similarity_top_k=20,
                node_postprocessors=[HeadroomNodePostprocessor(token_budget=1500)],
            )
            response = query_engine.query("Which errors does the log show?")

    Args:
        token_budget: Most tokens the kept nodes may take; None for no limit.
        top_k: Most nodes kept; None for no limit.
        min_relevance: Nodes whose blended score is below this are dropped.
        scorer_type: Relevance scorer: ``"bm25"``, ``"embedding"``, ``"hybrid"`` or ``"auto"``.
        retriever_weight: Share of the retriever's score in the blended score (0 = ours only).
        dedup_threshold: rapidfuzz ratio (0-100) at which two nodes count as near-duplicates;
            None disables merging.
        compress_structured: Compress JSON, log and search text inside a node that would not
            fit otherwise.
        model: Model whose tokenizer counts the budget.
        store_url: Metrics store URL (``sqlite:///headroom.db``, ``postgresql+psycopg://...``);
            None records nothing.

    Raises:
        ConfigurationError: A setting is out of range (names the field and the value).
    """

    token_budget: int | None = Field(
        default=2000, ge=1, description="Most tokens the kept nodes may take; None for no limit."
    )
    top_k: int | None = Field(default=None, ge=1, description="Most nodes kept; None for no limit.")
    min_relevance: float = Field(
        default=0.0, ge=0.0, le=1.0, description="Nodes scoring below this are dropped."
    )
    scorer_type: Literal["auto", "bm25", "embedding", "hybrid"] = Field(
        default="bm25", description="Relevance scorer used against the query."
    )
    retriever_weight: float = Field(
        default=0.3, ge=0.0, le=1.0, description="Share of the retriever's own score in the blend."
    )
    dedup_threshold: float | None = Field(
        default=90.0, ge=0.0, le=100.0, description="rapidfuzz ratio marking near-duplicates."
    )
    compress_structured: bool = Field(
        default=True, description="Compress structured text of nodes that would not fit."
    )
    model: str = Field(default="gpt-4o", description="Model whose tokenizer counts the budget.")
    store_url: str | None = Field(default=None, description="Metrics store URL; None disables.")

    _tokenizer: Tokenizer = PrivateAttr()
    _scorer: RelevanceScorer = PrivateAttr()
    _router: ContentRouter | None = PrivateAttr(default=None)
    _store: MetricsStore | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None
        self._tokenizer = get_tokenizer(self.model)
        self._scorer = create_scorer(self.scorer_type)

    @classmethod
    def class_name(cls) -> str:
        """Stable name for serialisation."""
        return "HeadroomNodePostprocessor"

    @property
    def metrics_store(self) -> MetricsStore | None:
        """The metrics store named by ``store_url`` (opened on first use), or None."""
        if self._store is None and self.store_url is not None:
            self._store = MetricsStore(self.store_url)
        return self._store

    def _postprocess_nodes(
        self,
        nodes: list[NodeWithScore],
        query_bundle: QueryBundle | None = None,
    ) -> list[NodeWithScore]:
        if not nodes:
            return []
        query = query_bundle.query_str if query_bundle is not None else ""
        started = time.perf_counter()
        try:
            selection = self._select(nodes, query)
            output = [self._finish(candidate, selection.scores) for candidate in selection.kept]
        except Exception as exc:  # fail open: the query still gets its retrieved context
            logger.warning("Headroom node postprocessing failed, nodes passed through: %s", exc)
            self._report(nodes, query, started, error=exc)
            return list(nodes)
        self._report(nodes, query, started, selection=selection)
        return output

    # -- selection -----------------------------------------------------------------------------

    def _select(self, nodes: Sequence[NodeWithScore], query: str) -> _Selection:
        """Score, then walk the nodes best-first: merge duplicates, compress to fit, pack."""
        texts = [llm_text(item.node) for item in nodes]
        tokens = [self._tokenizer.count_text(text) for text in texts]
        scores = self._blended_scores(nodes, texts, query)
        order = sorted(range(len(nodes)), key=lambda index: -scores[index])
        remaining = self.token_budget if self.token_budget is not None else float("inf")
        kept: list[_Candidate] = []
        best: _Candidate | None = None
        misses = 0
        for index in order:
            if scores[index] < self.min_relevance:
                break
            if self.top_k is not None and len(kept) >= self.top_k:
                break
            node = nodes[index].node
            candidate = _Candidate(index, node, body_text(node), tokens[index])
            fits = candidate.tokens <= remaining
            may_compress = (
                self.compress_structured
                and misses < MAX_COMPRESSION_MISSES
                and remaining >= MIN_COMPRESSED_TOKENS
            )
            if not fits and not may_compress:
                continue
            if self._absorbed_by(candidate, kept):
                continue
            if not fits:
                self._compress_to_fit(candidate, query, remaining)
            best = best or candidate
            if candidate.tokens <= remaining:
                kept.append(candidate)
                remaining -= candidate.tokens
            else:
                misses += 1
        if not kept and best is not None:
            kept.append(best)
        return _Selection(kept=kept, scores=scores, tokens_before=sum(tokens))

    def _blended_scores(
        self, nodes: Sequence[NodeWithScore], texts: list[str], query: str
    ) -> list[float]:
        retriever = normalised_scores(nodes)
        if not query.strip():
            return retriever if retriever is not None else [0.0] * len(nodes)
        relevance = self._scorer.score_items(texts, query)
        if retriever is None:
            return relevance
        weight = self.retriever_weight
        return [
            (1.0 - weight) * ours + weight * theirs
            for ours, theirs in zip(relevance, retriever, strict=True)
        ]

    def _absorbed_by(self, candidate: _Candidate, kept: list[_Candidate]) -> bool:
        """Merge ``candidate`` into the first kept node it nearly duplicates; True if it was."""
        if self.dedup_threshold is None:
            return False
        for other in kept:
            if fuzz.ratio(candidate.body, other.body, score_cutoff=self.dedup_threshold):
                other.merged_ids.append(candidate.node.node_id)
                other.merged_tokens += candidate.tokens
                return True
        return False

    def _compress_to_fit(self, candidate: _Candidate, query: str, remaining: float) -> None:
        """Crush structured text inside the node towards ``remaining`` tokens.

        Only the copy made for the output carries the change; prose and code are left alone
        by the router.
        """
        if not candidate.body:
            return
        header = candidate.node.get_metadata_str(mode=MetadataMode.LLM)
        budget = max(1, int(remaining) - self._tokenizer.count_text(header) - 2)
        result = self._content_router.route(
            candidate.body, query=query, tokenizer=self._tokenizer, token_budget=budget
        )
        if not result.changed or result.tokens_after >= result.tokens_before:
            return
        preview = candidate.node.model_copy()
        preview.set_content(result.compressed)
        compressed_tokens = self._tokenizer.count_text(llm_text(preview))
        if compressed_tokens >= candidate.tokens:
            return
        candidate.compressed_text = result.compressed
        candidate.compression = result.strategy
        candidate.original_tokens = candidate.tokens
        candidate.tokens = compressed_tokens

    @property
    def _content_router(self) -> ContentRouter:
        if self._router is None:
            self._router = ContentRouter(scorer=self._scorer)
        return self._router

    # -- output and reporting ------------------------------------------------------------------

    @staticmethod
    def _finish(candidate: _Candidate, scores: list[float]) -> NodeWithScore:
        note: dict[str, Any] = {}
        if candidate.compression is not None:
            note["compression"] = candidate.compression
            note["tokens_before"] = candidate.original_tokens
            note["tokens_after"] = candidate.tokens
        if candidate.merged_ids:
            note["merged_node_ids"] = list(candidate.merged_ids)
        node = candidate.node
        if note:
            node = revised_copy(node, text=candidate.compressed_text, note=note)
        return NodeWithScore(node=node, score=scores[candidate.position])

    def _report(
        self,
        nodes: Sequence[NodeWithScore],
        query: str,
        started: float,
        *,
        selection: _Selection | None = None,
        error: Exception | None = None,
    ) -> None:
        """Emit the instrumentation event and queue the metrics row.

        After a failure the token counts are unknown (counting may be what failed) and stay 0.
        """
        latency_ms = (time.perf_counter() - started) * 1000.0
        kept = selection.kept if selection is not None else []
        before = selection.tokens_before if selection is not None else 0
        after = sum(candidate.tokens for candidate in kept)
        savings = _transform_savings(kept, before, after)
        dispatcher.event(
            HeadroomPostprocessEvent(
                query_str=query,
                nodes_in=len(nodes),
                nodes_out=len(kept) if selection is not None else len(nodes),
                nodes_merged=sum(len(candidate.merged_ids) for candidate in kept),
                nodes_compressed=sum(candidate.compression is not None for candidate in kept),
                tokens_before=before,
                tokens_after=after,
                latency_ms=latency_ms,
                failed=error is not None,
            )
        )
        store = self.metrics_store
        if store is None:
            return
        provider = provider_for_model(self.model)
        strategies = sorted({c.compression for c in kept if c.compression is not None})
        store.record(
            SimulationResult(
                tokens_before=before,
                tokens_after=after,
                transforms_applied=[*savings, *strategies],
                transform_savings=savings,
                estimated_cost_before_usd=provider.estimate_cost(before, model=self.model),
                estimated_cost_after_usd=provider.estimate_cost(after, model=self.model),
                model=self.model,
                mode="optimize",
                request_id=uuid.uuid4().hex,
                latency_ms=latency_ms,
                failed=error is not None,
                error=f"{type(error).__name__}: {error}" if error is not None else None,
            ),
            source=METRICS_SOURCE,
        )


def _transform_savings(kept: list[_Candidate], before: int, after: int) -> dict[str, int]:
    """Tokens saved per step: compression inside kept nodes, duplicate merging, selection."""
    compression = sum(c.original_tokens - c.tokens for c in kept if c.compression is not None)
    dedup = sum(candidate.merged_tokens for candidate in kept)
    selection = max(0, before - after - compression - dedup)
    savings = {"node_compression": compression, "node_dedup": dedup, "node_selection": selection}
    return {step: saved for step, saved in savings.items() if saved > 0}
