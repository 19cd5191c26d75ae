"""HeadroomNodePostprocessor: keep the retrieved context the query needs, within a token budget."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pydantic
from llama_index.core.bridge.pydantic import ConfigDict, Field, PrivateAttr
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle

from headroom_core.adapter_settings import check_adapter_settings, renamed_argument
from headroom_core.config import configuration_error
from headroom_core.providers import provider_for_model
from headroom_core.relevance import RelevanceScorer, create_scorer
from headroom_core.results import SimulationResult
from headroom_core.selection import Pick, Selection, select_within_budget
from headroom_core.storage import MetricsStore
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._store_choice import DEFAULT_STORE
from headroom_core.transforms.router import ContentRouter
from headroom_integrations.llamaindex._nodes import body_text, llm_text, revised_copy
from headroom_integrations.llamaindex.events import HeadroomPostprocessEvent

__all__ = ["HeadroomNodePostprocessor"]

logger = logging.getLogger(__name__)
dispatcher = get_dispatcher(__name__)

METRICS_SOURCE = "llamaindex"


@dataclass(frozen=True)
class _Compressed:
    """The compressed text of a node that did not fit, and what compressing it saved."""

    text: str
    strategy: str
    tokens_before: int
    tokens_after: int


@dataclass
class _Outcome:
    """The selection over the input nodes, and the compressed text of those it shrank."""

    selection: Selection
    compressed: dict[int, _Compressed] = field(default_factory=dict)

    def compressed_picks(self) -> list[_Compressed]:
        """The compressions of kept nodes (a node compressed but then not kept has none)."""
        picks = self.selection.picks
        return [self.compressed[pick.index] for pick in picks if pick.index in self.compressed]


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
        ```bash
        pip install "headroom-langchain[llamaindex]"
        ```

    Examples:
        ```python
        from headroom_integrations.llamaindex import HeadroomNodePostprocessor

        query_engine = index.as_query_engine(
            similarity_top_k=20,
            node_postprocessors=[HeadroomNodePostprocessor(token_budget=1500)],
        )
        response = query_engine.query("Which errors does the log show?")
        ```

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
        retrieval: Store what compression drops and name its key in the node's marker. Off by
            default: a query engine gives the model no retrieval tool to call with the key. Turn
            it on when the agent reading the nodes has ``headroom_retrieve``.
        model_name: Model whose tokenizer counts the budget (``model=`` is its deprecated old
            name).
        store_url: Metrics store URL (``sqlite:///headroom.db``, ``postgresql+psycopg://...``);
            None records nothing.

    Raises:
        ConfigurationError: A setting is out of range (names the field and the value).
        ProviderError: ``model_name`` is not a known model.
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
    retrieval: bool = Field(
        default=False, description="Store dropped items and name their key in markers."
    )
    model_name: str = Field(
        default="gpt-4o", description="Model whose tokenizer counts the budget."
    )
    store_url: str | None = Field(default=None, description="Metrics store URL; None disables.")

    _tokenizer: Tokenizer = PrivateAttr()
    _scorer: RelevanceScorer = PrivateAttr()
    _router: ContentRouter | None = PrivateAttr(default=None)
    _store: MetricsStore | None = PrivateAttr(default=None)

    model_config = ConfigDict(extra="forbid")

    def __init__(self, **data: Any) -> None:
        renamed_argument(data, "model", "model_name", type(self).__name__)
        try:
            super().__init__(**data)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None
        check_adapter_settings(model_name=self.model_name, store_url=self.store_url)
        self._tokenizer = get_tokenizer(self.model_name)
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
            outcome = self._select(nodes, query)
            output = [self._finish(nodes, pick, outcome) for pick in outcome.selection.picks]
        except Exception as exc:  # fail open: the query still gets its retrieved context
            logger.warning("Headroom node postprocessing failed, nodes passed through: %s", exc)
            self._report(nodes, query, started, error=exc)
            return list(nodes)
        self._report(nodes, query, started, outcome=outcome)
        return output

    # -- selection -----------------------------------------------------------------------------

    def _select(self, nodes: Sequence[NodeWithScore], query: str) -> _Outcome:
        """Rank, merge duplicates, compress what does not fit, pack (see select_within_budget)."""
        texts = [llm_text(item.node) for item in nodes]
        bodies = [body_text(item.node) for item in nodes]
        tokens = [self._tokenizer.count_text(text) for text in texts]
        compressed: dict[int, _Compressed] = {}

        def shrink(index: int, room: int) -> int | None:
            found = self._compressed(nodes[index].node, bodies[index], tokens[index], query, room)
            if found is None:
                return None
            compressed[index] = found
            return found.tokens_after

        selection = select_within_budget(
            texts,
            query,
            scorer=self._scorer,
            prior_scores=[item.score for item in nodes],
            prior_weight=self.retriever_weight,
            token_counts=tokens,
            token_budget=self.token_budget,
            top_k=self.top_k,
            min_relevance=self.min_relevance,
            dedup_threshold=self.dedup_threshold,
            dedup_texts=bodies,
            shrink=shrink if self.compress_structured else None,
            keep_one=True,
        )
        return _Outcome(selection, compressed)

    def _compressed(
        self, node: BaseNode, body: str, tokens: int, query: str, room: int
    ) -> _Compressed | None:
        """Structured text inside ``node`` crushed towards ``room`` tokens, if that is shorter.

        Only the copy made for the output will carry the change; prose and code are left
        alone by the router.
        """
        if not body:
            return None
        header = node.get_metadata_str(mode=MetadataMode.LLM)
        budget = max(1, room - self._tokenizer.count_text(header) - 2)
        result = self._content_router.route(
            body, query=query, tokenizer=self._tokenizer, token_budget=budget
        )
        if not result.changed or result.tokens_after >= result.tokens_before:
            return None
        preview = node.model_copy()
        preview.set_content(result.compressed)
        compressed_tokens = self._tokenizer.count_text(llm_text(preview))
        if compressed_tokens >= tokens:
            return None
        return _Compressed(result.compressed, result.strategy, tokens, compressed_tokens)

    @property
    def _content_router(self) -> ContentRouter:
        if self._router is None:
            store = DEFAULT_STORE if self.retrieval else None
            self._router = ContentRouter(scorer=self._scorer, store=store)
        return self._router

    # -- output and reporting ------------------------------------------------------------------

    @staticmethod
    def _finish(nodes: Sequence[NodeWithScore], pick: Pick, outcome: _Outcome) -> NodeWithScore:
        note: dict[str, Any] = {}
        compressed = outcome.compressed.get(pick.index)
        if compressed is not None:
            note["compression"] = compressed.strategy
            note["tokens_before"] = compressed.tokens_before
            note["tokens_after"] = compressed.tokens_after
        if pick.merged:
            note["merged_node_ids"] = [nodes[index].node.node_id for index in pick.merged]
        node = nodes[pick.index].node
        if note:
            node = revised_copy(node, text=compressed.text if compressed else None, note=note)
        return NodeWithScore(node=node, score=pick.score)

    def _report(
        self,
        nodes: Sequence[NodeWithScore],
        query: str,
        started: float,
        *,
        outcome: _Outcome | None = None,
        error: Exception | None = None,
    ) -> None:
        """Emit the instrumentation event and queue the metrics row.

        After a failure the token counts are unknown (counting may be what failed) and stay 0.
        """
        latency_ms = (time.perf_counter() - started) * 1000.0
        picks = outcome.selection.picks if outcome is not None else []
        compressed = outcome.compressed_picks() if outcome is not None else []
        before = outcome.selection.tokens_before if outcome is not None else 0
        after = outcome.selection.tokens_after if outcome is not None else 0
        savings = _transform_savings(outcome) if outcome is not None else {}
        dispatcher.event(
            HeadroomPostprocessEvent(
                query_str=query,
                nodes_in=len(nodes),
                nodes_out=len(picks) if outcome is not None else len(nodes),
                nodes_merged=sum(len(pick.merged) for pick in picks),
                nodes_compressed=len(compressed),
                tokens_before=before,
                tokens_after=after,
                latency_ms=latency_ms,
                failed=error is not None,
            )
        )
        store = self.metrics_store
        if store is None:
            return
        provider = provider_for_model(self.model_name)
        strategies = sorted({c.strategy for c in compressed})
        store.record(
            SimulationResult(
                tokens_before=before,
                tokens_after=after,
                transforms_applied=[*savings, *strategies],
                transform_savings=savings,
                estimated_cost_before_usd=provider.estimate_cost(before, model=self.model_name),
                estimated_cost_after_usd=provider.estimate_cost(after, model=self.model_name),
                model=self.model_name,
                mode="optimize",
                request_id=uuid.uuid4().hex,
                latency_ms=latency_ms,
                failed=error is not None,
                error=f"{type(error).__name__}: {error}" if error is not None else None,
            ),
            source=METRICS_SOURCE,
        )


def _transform_savings(outcome: _Outcome) -> dict[str, int]:
    """Tokens saved per step: compression inside kept nodes, duplicate merging, selection."""
    selection = outcome.selection
    compression = sum(c.tokens_before - c.tokens_after for c in outcome.compressed_picks())
    dedup = sum(selection.token_counts[i] for pick in selection.picks for i in pick.merged)
    dropped = selection.tokens_before - selection.tokens_after - compression - dedup
    savings = {
        "node_compression": compression,
        "node_dedup": dedup,
        "node_selection": max(0, dropped),
    }
    return {step: saved for step, saved in savings.items() if saved > 0}
