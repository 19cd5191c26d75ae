"""Relevance scoring: how well tool-output items match what the user asked.

BM25 needs nothing optional; embeddings need the ``relevance`` extra (sentence-transformers) and
are imported only when used.
"""

from headroom_core.relevance.base import RelevanceScorer
from headroom_core.relevance.bm25 import BM25Scorer
from headroom_core.relevance.embedding import EmbeddingScorer, embedding_available
from headroom_core.relevance.factory import create_scorer
from headroom_core.relevance.hybrid import HybridScorer
from headroom_core.relevance.terms import search_terms

__all__ = [
    "BM25Scorer",
    "EmbeddingScorer",
    "HybridScorer",
    "RelevanceScorer",
    "create_scorer",
    "embedding_available",
    "search_terms",
]
