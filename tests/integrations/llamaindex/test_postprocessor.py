"""HeadroomNodePostprocessor on real nodes, real indexes, real query and chat engines."""

from __future__ import annotations

import re

import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.postprocessor.types import BaseNodePostprocessor
from llama_index.core.schema import (
    MetadataMode,
    NodeRelationship,
    NodeWithScore,
    RelatedNodeInfo,
    TextNode,
)

from headroom_core.errors import ConfigurationError
from headroom_core.retrieval import retrieve
from headroom_core.storage import MetricsStore
from headroom_core.tokenizer import get_tokenizer
from headroom_integrations.llamaindex import HeadroomNodePostprocessor, HeadroomPostprocessEvent
from tests.integrations.llamaindex.llamaindex_support import (
    Case,
    EventCollector,
    PromptRecordingLLM,
)

TOKENIZER = get_tokenizer("gpt-4o")
# the facts "Is there anything about 'Verification succeeded for' in this HDFS log?" needs
QUERY_NEEDLES = (
    "Verification succeeded for blk_-4980916519894289629",
    "Verification succeeded for blk_-2827716238972737794",
)


def llm_tokens(nodes: list[NodeWithScore]) -> int:
    """Tokens of the nodes as the synthesizer reads them, counted node by node."""
    return sum(TOKENIZER.count_text(item.node.get_content(MetadataMode.LLM)) for item in nodes)


def joined(nodes: list[NodeWithScore]) -> str:
    return "\n".join(item.node.get_content(metadata_mode=MetadataMode.LLM) for item in nodes)


def retrieved(index: VectorStoreIndex, query: str, k: int = 100) -> list[NodeWithScore]:
    return index.as_retriever(similarity_top_k=k).retrieve(query)


def test_is_a_llamaindex_node_postprocessor() -> None:
    assert BaseNodePostprocessor in HeadroomNodePostprocessor.__mro__
    assert HeadroomNodePostprocessor.class_name() == "HeadroomNodePostprocessor"


def test_no_nodes_give_no_nodes() -> None:
    assert HeadroomNodePostprocessor().postprocess_nodes([], query_str="anything") == []


def test_a_budget_nothing_fits_still_keeps_the_best_node(hdfs_case: Case) -> None:
    lines = hdfs_case.content.splitlines()
    nodes = [
        NodeWithScore(node=TextNode(id_=f"n{i}", text="\n".join(lines[i * 20 : i * 20 + 20])))
        for i in range(3)
    ]
    postprocessor = HeadroomNodePostprocessor(token_budget=10, compress_structured=False)

    kept = postprocessor.postprocess_nodes(nodes, query_str="Verification succeeded for")

    best = max(nodes, key=lambda item: "Verification succeeded" in item.node.get_content())
    assert [item.node.node_id for item in kept] == [best.node.node_id]
    assert kept[0].node is best.node


def test_invalid_setting_names_the_field() -> None:
    with pytest.raises(ConfigurationError) as caught:
        HeadroomNodePostprocessor(token_budget=0)
    assert caught.value.details["field"] == "token_budget"
    assert caught.value.details["value"] == 0


def test_a_bad_store_or_model_fails_when_built_and_the_old_model_name_still_works() -> None:
    from headroom_core.adapter_settings import HeadroomDeprecationWarning
    from headroom_core.errors import ProviderError

    with pytest.raises(ProviderError, match="gpt-4o"):
        HeadroomNodePostprocessor(model_name="gpt4o")
    with pytest.raises(ConfigurationError, match="store_url"):
        HeadroomNodePostprocessor(store_url="nope")
    with pytest.raises(ConfigurationError, match="Unknown setting"):
        HeadroomNodePostprocessor(token_budgt=10)
    with pytest.warns(HeadroomDeprecationWarning, match="use model_name="):
        assert HeadroomNodePostprocessor(model="gpt-4o-mini").model_name == "gpt-4o-mini"


def test_keeps_what_the_query_needs_within_the_budget(
    log_index: VectorStoreIndex, hdfs_case: Case
) -> None:
    nodes = retrieved(log_index, hdfs_case.query)
    kept = HeadroomNodePostprocessor(token_budget=900).postprocess_nodes(
        nodes, query_str=hdfs_case.query
    )
    assert 0 < len(kept) < len(nodes)
    assert llm_tokens(kept) <= 900 < llm_tokens(nodes)
    text = joined(kept)
    for needle in QUERY_NEEDLES:
        assert needle in text
    assert [item.score for item in kept] == sorted((item.score for item in kept), reverse=True)


def test_keeps_ids_metadata_relationships_and_leaves_inputs_alone(
    log_index: VectorStoreIndex, hdfs_case: Case
) -> None:
    nodes = retrieved(log_index, hdfs_case.query)
    before = [item.node.model_dump() for item in nodes]
    kept = HeadroomNodePostprocessor(token_budget=1500).postprocess_nodes(
        nodes, query_str=hdfs_case.query
    )
    originals = {item.node.node_id: item.node for item in nodes}
    for item in kept:
        original = originals[item.node.node_id]
        assert item.node.relationships == original.relationships
        assert {k: v for k, v in item.node.metadata.items() if k != "headroom"} == original.metadata
        assert item.node.ref_doc_id == original.ref_doc_id
    assert [item.node.model_dump() for item in nodes] == before


def test_near_duplicates_merge_into_the_best_node(hdfs_case: Case) -> None:
    lines = hdfs_case.content.splitlines()
    chunk = "\n".join(lines[:40])
    source = RelatedNodeInfo(node_id="hdfs-log")
    first = TextNode(
        id_="a",
        text=chunk,
        metadata={"file": "hdfs.log"},
        relationships={NodeRelationship.SOURCE: source},
    )
    # the same chunk as re-ingested by another pipeline: one line missing
    second = TextNode(id_="b", text="\n".join(lines[:20] + lines[21:40]), metadata={"file": "copy"})
    other = TextNode(id_="c", text="\n".join(lines[60:100]), metadata={"file": "hdfs.log"})
    nodes = [NodeWithScore(node=n, score=s) for n, s in ((first, 0.9), (second, 0.8), (other, 0.1))]

    processor = HeadroomNodePostprocessor(token_budget=None, compress_structured=False)
    kept = processor.postprocess_nodes(nodes, query_str="PacketResponder terminating")

    ids = [item.node.node_id for item in kept]
    assert ids.count("a") + ids.count("b") == 1
    survivor = next(item.node for item in kept if item.node.node_id in ("a", "b"))
    absorbed = "b" if survivor.node_id == "a" else "a"
    assert survivor.metadata["headroom"]["merged_node_ids"] == [absorbed]
    assert "headroom" not in survivor.get_content(metadata_mode=MetadataMode.LLM)
    assert "headroom" not in survivor.get_content(metadata_mode=MetadataMode.EMBED)
    assert "headroom" not in first.metadata and "headroom" not in second.metadata


def test_json_inside_a_node_is_compressed_and_keeps_the_answer(issues_case: Case) -> None:
    node = TextNode(id_="issues-page-1", text=issues_case.content, metadata={"api": "issues"})
    original_tokens = TOKENIZER.count_text(node.get_content(metadata_mode=MetadataMode.LLM))

    kept = HeadroomNodePostprocessor(token_budget=8000).postprocess_nodes(
        [NodeWithScore(node=node, score=0.7)], query_str=issues_case.query
    )

    assert len(kept) == 1
    result = kept[0].node
    assert result.node_id == "issues-page-1"
    assert result is not node and node.text == issues_case.content
    note = result.metadata["headroom"]
    assert note["compression"] == "smart_crusher"
    assert note["tokens_before"] == original_tokens
    assert note["tokens_after"] == llm_tokens(kept) < original_tokens * 0.6
    for needle in issues_case.needles:
        assert needle in result.get_content()


def _compressed_issues_text(issues_case: Case, **settings: bool) -> str:
    node = TextNode(id_="issues-page-1", text=issues_case.content)
    [kept] = HeadroomNodePostprocessor(token_budget=8000, **settings).postprocess_nodes(
        [NodeWithScore(node=node, score=0.7)], query_str=issues_case.query
    )
    assert kept.node.metadata["headroom"]["compression"] == "smart_crusher"
    return kept.node.get_content()


def test_compressed_text_names_no_retrieval_key_by_default(issues_case: Case) -> None:
    text = _compressed_issues_text(issues_case)
    assert re.search(r"\[\d+ more rows not shown\]", text)
    assert "headroom_retrieve" not in text and 'key "' not in text


def test_retrieval_on_stores_the_dropped_items_under_the_key_the_marker_names(
    issues_case: Case,
) -> None:
    text = _compressed_issues_text(issues_case, retrieval=True)
    [(omitted, key)] = re.findall(
        r'\[(\d+) more rows not shown; call headroom_retrieve with key "(\w+)"', text
    )
    assert len(retrieve(key)) == int(omitted)


def test_blend_follows_the_retriever_or_the_query(hdfs_case: Case) -> None:
    lines = hdfs_case.content.splitlines()
    matching = next(i for i, line in enumerate(lines) if "Verification succeeded" in line)
    relevant = TextNode(id_="relevant", text="\n".join(lines[matching - 2 : matching + 3]))
    unrelated = TextNode(id_="unrelated", text="\n".join(lines[:5]))
    nodes = [NodeWithScore(node=unrelated, score=0.95), NodeWithScore(node=relevant, score=0.2)]

    def order(weight: float) -> list[str]:
        processor = HeadroomNodePostprocessor(retriever_weight=weight, compress_structured=False)
        kept = processor.postprocess_nodes(nodes, query_str=hdfs_case.query)
        return [item.node.node_id for item in kept]

    assert order(1.0) == ["unrelated", "relevant"]
    assert order(0.0) == ["relevant", "unrelated"]
    unscored = [NodeWithScore(node=unrelated), NodeWithScore(node=relevant)]
    kept = HeadroomNodePostprocessor(retriever_weight=1.0).postprocess_nodes(
        unscored, query_str=hdfs_case.query
    )
    assert [item.node.node_id for item in kept] == ["relevant", "unrelated"]


def test_top_k_and_min_relevance_limit_the_nodes(
    log_index: VectorStoreIndex, hdfs_case: Case
) -> None:
    nodes = retrieved(log_index, hdfs_case.query)
    top2 = HeadroomNodePostprocessor(token_budget=None, top_k=2).postprocess_nodes(
        nodes, query_str=hdfs_case.query
    )
    assert len(top2) == 2
    strict = HeadroomNodePostprocessor(token_budget=None, min_relevance=0.5).postprocess_nodes(
        nodes, query_str=hdfs_case.query
    )
    assert strict and all(item.score >= 0.5 for item in strict)
    assert len(strict) < len(nodes)


def test_query_engine_sends_a_smaller_prompt_with_the_facts(
    log_index: VectorStoreIndex, hdfs_case: Case, events: EventCollector
) -> None:
    plain_llm, headroom_llm = PromptRecordingLLM(), PromptRecordingLLM()
    log_index.as_query_engine(llm=plain_llm, similarity_top_k=100).query(hdfs_case.query)
    log_index.as_query_engine(
        llm=headroom_llm,
        similarity_top_k=100,
        node_postprocessors=[HeadroomNodePostprocessor(token_budget=1200)],
    ).query(hdfs_case.query)

    (prompt,) = headroom_llm.prompts
    plain_tokens = sum(TOKENIZER.count_text(p) for p in plain_llm.prompts)
    assert TOKENIZER.count_text(prompt) < plain_tokens / 3
    for needle in QUERY_NEEDLES:
        assert needle in prompt
    (event,) = events.of_type(HeadroomPostprocessEvent)
    assert event.query_str == hdfs_case.query
    assert event.nodes_in > event.nodes_out > 0
    assert event.tokens_before > event.tokens_after > 0
    assert event.tokens_saved == event.tokens_before - event.tokens_after


async def test_async_query_engine(log_index: VectorStoreIndex, hdfs_case: Case) -> None:
    llm = PromptRecordingLLM()
    engine = log_index.as_query_engine(
        llm=llm,
        similarity_top_k=100,
        node_postprocessors=[HeadroomNodePostprocessor(token_budget=1200)],
    )
    response = await engine.aquery(hdfs_case.query)
    assert llm_tokens(response.source_nodes) <= 1200
    (prompt,) = llm.prompts
    for needle in QUERY_NEEDLES:
        assert needle in prompt


def test_context_chat_engine(
    log_index: VectorStoreIndex, hdfs_case: Case, events: EventCollector
) -> None:
    llm = PromptRecordingLLM()
    chat_engine = log_index.as_chat_engine(
        chat_mode="context",
        llm=llm,
        similarity_top_k=100,
        node_postprocessors=[HeadroomNodePostprocessor(token_budget=1200)],
    )
    response = chat_engine.chat(hdfs_case.query)
    assert llm_tokens(response.source_nodes) <= 1200
    (prompt,) = llm.prompts
    for needle in QUERY_NEEDLES:
        assert needle in prompt
    assert len(events.of_type(HeadroomPostprocessEvent)) == 1


def test_savings_are_recorded_in_the_metrics_store(
    tmp_path, log_index: VectorStoreIndex, hdfs_case: Case
) -> None:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    processor = HeadroomNodePostprocessor(token_budget=1200, store_url=url)
    nodes = retrieved(log_index, hdfs_case.query)
    kept = processor.postprocess_nodes(nodes, query_str=hdfs_case.query)
    assert processor.metrics_store is not None and processor.metrics_store.flush()

    reader = MetricsStore(url)
    try:
        (row,) = reader.query(source="llamaindex")
    finally:
        reader.close()
        processor.metrics_store.close()
    assert row.tokens_before == llm_tokens(nodes)
    assert row.tokens_after == llm_tokens(kept)
    assert row.tokens_saved == row.tokens_before - row.tokens_after > 0
    assert row.model == "gpt-4o" and row.mode == "optimize" and not row.failed
    assert row.transform_savings["node_selection"] > 0
    assert row.cost_before_usd is not None and row.cost_before_usd > row.cost_after_usd


def test_a_failure_passes_the_nodes_through(
    tmp_path, hdfs_case: Case, events: EventCollector, caplog: pytest.LogCaptureFixture
) -> None:
    # a text template naming a field LlamaIndex does not fill makes get_content raise
    broken = TextNode(
        id_="broken",
        text="x",
        metadata={"file": "a.log"},
        text_template="{metadata_str} {content} {page}",
    )
    fine = TextNode(id_="fine", text=hdfs_case.content[:2000])
    nodes = [NodeWithScore(node=broken, score=0.5), NodeWithScore(node=fine, score=0.4)]
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    processor = HeadroomNodePostprocessor(store_url=url)

    assert processor.postprocess_nodes(nodes, query_str=hdfs_case.query) == nodes
    assert "passed through" in caplog.text
    (event,) = events.of_type(HeadroomPostprocessEvent)
    assert event.failed and event.nodes_out == event.nodes_in == 2
    assert processor.metrics_store is not None and processor.metrics_store.flush()
    (row,) = processor.metrics_store.query(source="llamaindex")
    processor.metrics_store.close()
    assert row.failed and "KeyError" in row.error
