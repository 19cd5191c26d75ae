"""The real offline all-MiniLM-L6-v2 behind a LlamaIndex index, with the postprocessor on top."""

from __future__ import annotations

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.node_parser import SentenceSplitter

from headroom_core.relevance import embedding_available
from headroom_integrations.llamaindex import (
    HeadroomNodePostprocessor,
    SentenceTransformerEmbedding,
)
from tests.integrations.llamaindex.llamaindex_support import Case, PromptRecordingLLM

pytestmark = [
    pytest.mark.embedding,
    pytest.mark.slow,
    pytest.mark.skipif(
        not embedding_available(),
        reason="sentence-transformers is not installed (the 'relevance' extra)",
    ),
]


@pytest.fixture(scope="module")
def embed_model() -> SentenceTransformerEmbedding:
    return SentenceTransformerEmbedding()


def test_embeddings_are_normalised_and_semantic(embed_model: SentenceTransformerEmbedding) -> None:
    query = embed_model.get_query_embedding("the disk is full")
    close, far = embed_model.get_text_embedding_batch(
        ["No space left on device", "The cat sat on the mat"]
    )
    assert len(query) == 384
    assert abs(sum(value * value for value in query) - 1.0) < 1e-4
    assert embed_model.similarity(query, close) > embed_model.similarity(query, far)


def test_hybrid_relevance_over_a_real_embedding_index(
    embed_model: SentenceTransformerEmbedding, hdfs_case: Case
) -> None:
    index = VectorStoreIndex.from_documents(
        [Document(text=hdfs_case.content, metadata={"case": hdfs_case.id})],
        embed_model=embed_model,
        transformations=[SentenceSplitter(chunk_size=400, chunk_overlap=0)],
    )
    llm = PromptRecordingLLM()
    index.as_query_engine(
        llm=llm,
        similarity_top_k=20,
        node_postprocessors=[HeadroomNodePostprocessor(token_budget=800, scorer_type="hybrid")],
    ).query(hdfs_case.query)
    (prompt,) = llm.prompts
    assert "Verification succeeded for blk_-4980916519894289629" in prompt
