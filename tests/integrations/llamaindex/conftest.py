"""Fixtures for the LlamaIndex integration: real corpus cases, real indexes, event capture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

pytest.importorskip("llama_index.core", reason="the 'llamaindex' extra is not installed")

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.node_parser import SentenceSplitter

from tests.integrations.llamaindex.llamaindex_support import Case, EventCollector, load_case


@pytest.fixture(scope="session")
def hdfs_case() -> Case:
    return load_case("loghub-hdfs-a")


@pytest.fixture(scope="session")
def issues_case() -> Case:
    return load_case("gh-issues-e452e6")


@pytest.fixture(scope="session")
def log_cases() -> list[Case]:
    return [load_case(name) for name in ("loghub-hdfs-a", "loghub-linux-a", "loghub-apache-a")]


@pytest.fixture
def log_index(log_cases: list[Case]) -> VectorStoreIndex:
    """Three real logs, split into ~400-token chunks, embedded with MockEmbedding (no network)."""
    documents = [
        Document(text=case.content, metadata={"case": case.id, "kind": case.kind})
        for case in log_cases
    ]
    return VectorStoreIndex.from_documents(
        documents,
        embed_model=MockEmbedding(embed_dim=8),
        transformations=[SentenceSplitter(chunk_size=400, chunk_overlap=0)],
    )


@pytest.fixture
def events() -> Iterator[EventCollector]:
    """An event handler on LlamaIndex's root dispatcher for the duration of one test."""
    collector = EventCollector()
    root = get_dispatcher()
    root.add_event_handler(collector)
    yield collector
    root.event_handlers.remove(collector)
