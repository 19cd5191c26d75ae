"""HeadroomDocumentCompressor: the most relevant, non-repetitive documents within a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

import pydantic
from langchain_core.callbacks import Callbacks
from langchain_core.documents import BaseDocumentCompressor, Document
from pydantic import ConfigDict, Field, PrivateAttr

from headroom_core.adapter_settings import check_adapter_settings
from headroom_core.config import configuration_error
from headroom_core.relevance import RelevanceScorer, create_scorer
from headroom_core.selection import select_within_budget
from headroom_core.tokenizer import get_tokenizer
from headroom_integrations.langchain._optimizer import DEFAULT_MODEL

__all__ = ["HeadroomDocumentCompressor"]


class HeadroomDocumentCompressor(BaseDocumentCompressor):
    """Keeps the best retrieved documents that fit a token budget, skipping near-duplicates.

    Documents are ranked by relevance to the query (BM25 by default, embeddings or hybrid when
    the ``relevance`` extra is installed); going down the ranking, a document is kept when it is
    not a near-duplicate of one already kept and still fits the budget. Kept documents are
    copies with ``metadata["relevance_score"]``; the retrieved ones are not modified. A document
    larger than the whole budget is skipped rather than cut.

    Key init args:
        token_budget: Tokens the kept documents may use together.
        model_name: Model whose tokenizer counts the tokens.
        scorer_type: ``"bm25"``, ``"embedding"``, ``"hybrid"`` or ``"auto"``.
        min_relevance: Documents scoring below this are dropped (scores are in [0, 1]).
        similarity_threshold: rapidfuzz similarity (0-100) at which a document counts as a
            near-duplicate of a kept one.
        max_documents: Upper bound on the documents kept.

    Examples:
        ```python
        from langchain_classic.retrievers import ContextualCompressionRetriever

        retriever = ContextualCompressionRetriever(
            base_compressor=HeadroomDocumentCompressor(token_budget=1500),
            base_retriever=vectorstore.as_retriever(search_kwargs={"k": 20}),
        )
        ```
    """

    token_budget: int = Field(2000, gt=0)
    model_name: str = DEFAULT_MODEL
    scorer_type: Literal["auto", "bm25", "embedding", "hybrid"] = "bm25"
    min_relevance: float = Field(0.0, ge=0.0, le=1.0)
    similarity_threshold: float = Field(90.0, ge=0.0, le=100.0)
    max_documents: int | None = Field(None, ge=1)

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    _scorer: RelevanceScorer | None = PrivateAttr(None)

    def __init__(self, **kwargs: Any) -> None:
        try:
            super().__init__(**kwargs)
        except pydantic.ValidationError as exc:
            raise configuration_error(type(self), exc) from None
        check_adapter_settings(model_name=self.model_name)

    @property
    def scorer(self) -> RelevanceScorer:
        """The relevance scorer, built on first use."""
        if self._scorer is None:
            self._scorer = create_scorer(self.scorer_type)
        return self._scorer

    def compress_documents(
        self,
        documents: Sequence[Document],
        query: str,
        callbacks: Callbacks | None = None,
    ) -> Sequence[Document]:
        """Return the kept documents, most relevant first."""
        if not documents:
            return []
        selection = select_within_budget(
            [document.page_content for document in documents],
            query,
            scorer=self.scorer,
            tokenizer=get_tokenizer(self.model_name),
            token_budget=self.token_budget,
            top_k=self.max_documents,
            min_relevance=self.min_relevance,
            dedup_threshold=self.similarity_threshold,
        )
        return [_scored(documents[pick.index], pick.score) for pick in selection.picks]


def _scored(document: Document, score: float) -> Document:
    metadata: dict[str, Any] = {**document.metadata, "relevance_score": round(float(score), 4)}
    return document.model_copy(update={"metadata": metadata})
