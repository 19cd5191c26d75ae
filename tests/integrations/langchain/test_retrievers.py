"""HeadroomDocumentCompressor on real code-search results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from langchain_core.documents import BaseDocumentCompressor, Document

from headroom_core.tokenizer import count_tokens_text
from headroom_integrations.langchain import HeadroomDocumentCompressor

CASE = json.loads(
    (Path(__file__).parents[2] / "data" / "langchain" / "grep-pygithub-get_repo.json").read_text()
)


@pytest.fixture
def documents() -> list[Document]:
    docs = []
    for line in CASE["content"].splitlines():
        path, number, text = line.split(":", 2)
        docs.append(Document(text, metadata={"path": path, "line": int(number)}))
    return docs


def test_is_a_langchain_document_compressor() -> None:
    assert BaseDocumentCompressor in HeadroomDocumentCompressor.__mro__


def test_keeps_the_most_relevant_within_the_budget(documents: list[Document]) -> None:
    compressor = HeadroomDocumentCompressor(token_budget=60)

    kept = compressor.compress_documents(documents, "def get_repo definition")

    assert 0 < len(kept) < len(documents)
    assert sum(count_tokens_text(d.page_content) for d in kept) <= 60
    assert "def get_repo(" in kept[0].page_content
    scores = [d.metadata["relevance_score"] for d in kept]
    assert scores == sorted(scores, reverse=True)
    assert all("relevance_score" not in d.metadata for d in documents)


def test_near_duplicates_are_skipped(documents: list[Document]) -> None:
    best = next(d for d in documents if "def get_repo(self, name" in d.page_content)
    echo = Document(best.page_content + " ", metadata={"path": "mirror.py", "line": 1})
    compressor = HeadroomDocumentCompressor(token_budget=500)

    kept = compressor.compress_documents([best, echo, *documents[:3]], "get_repo name")

    assert sum(d.page_content.strip() == best.page_content.strip() for d in kept) == 1


def test_bounds_and_empty_input(documents: list[Document]) -> None:
    compressor = HeadroomDocumentCompressor(token_budget=10_000, max_documents=2)

    assert len(compressor.compress_documents(documents, "get_repo")) == 2
    assert compressor.compress_documents([], "get_repo") == []


async def test_async_path_matches_sync(documents: list[Document]) -> None:
    compressor = HeadroomDocumentCompressor(token_budget=80)

    sync = compressor.compress_documents(documents, "get_repo_installation")
    both = await compressor.acompress_documents(documents, "get_repo_installation")

    assert [d.page_content for d in both] == [d.page_content for d in sync]


def test_documents_are_kept_verbatim_so_no_marker_names_a_retrieval_key(
    documents: list[Document],
) -> None:
    """The compressor selects documents and never rewrites one: a retrieval chain has no
    ``headroom_retrieve`` tool, so no text may point the model at one."""
    rows = [{"path": d.metadata["path"], "line": d.metadata["line"]} for d in documents]
    table = Document(json.dumps(rows * 20, indent=2), metadata={"path": "index.json"})
    compressor = HeadroomDocumentCompressor(token_budget=2_000)

    kept = compressor.compress_documents([table, *documents], "get_repo index")

    originals = {d.page_content for d in (table, *documents)}
    assert kept and all(d.page_content in originals for d in kept)
    assert not any("headroom_retrieve" in d.page_content for d in kept)
