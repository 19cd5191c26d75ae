"""LlamaIndex benchmark: HeadroomNodePostprocessor latency, and needle recall against
LlamaIndex's SimilarityPostprocessor at the same token count.

Run: ``python -m benchmarks.llamaindex_bench`` (``--runs``, ``--budget``, ``--chunk-tokens``,
``--max-nodes``).

Every corpus case with a question is split into ~500-token nodes with LlamaIndex's
SentenceSplitter; its first ``--max-nodes`` nodes are the retrieved candidates, scored with the
cosine similarity of real all-MiniLM-L6-v2 embeddings (the ``relevance`` extra), as a vector
index returns them. Latency is measured on 50 of these nodes, mixed from the largest cases.
For each case our postprocessor keeps what fits ``--budget``; SimilarityPostprocessor then gets
the cutoff whose kept token count is closest to ours. Recall is the share of the case's needles
(verbatim facts the answer needs) present in the kept nodes, over the needles a node holds whole.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llama_index.core import Document
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.postprocessor import SimilarityPostprocessor
from llama_index.core.schema import MetadataMode, NodeWithScore, TextNode

from benchmarks._data import corpus_root, load_cases
from headroom_core.relevance import embedding_available
from headroom_core.tokenizer import get_tokenizer
from headroom_integrations.llamaindex import (
    HeadroomNodePostprocessor,
    SentenceTransformerEmbedding,
)

TOKENIZER = get_tokenizer("gpt-4o")
LATENCY_NODES = 50
LATENCY_TARGET_MS = 20.0


@dataclass
class Case:
    id: str
    query: str
    needles: list[str]
    nodes: list[NodeWithScore]


@dataclass
class Outcome:
    case: str
    reachable: int
    ours_tokens: int
    ours_found: int
    baseline_tokens: int
    baseline_found: int
    total_tokens: int


def node_tokens(nodes: Sequence[NodeWithScore]) -> int:
    """Tokens of the nodes as the response synthesizer puts them in the prompt."""
    return sum(TOKENIZER.count_text(item.node.get_content(MetadataMode.LLM)) for item in nodes)


def found(needles: Sequence[str], nodes: Sequence[NodeWithScore]) -> int:
    text = "\n".join(item.node.get_content(MetadataMode.LLM) for item in nodes)
    return sum(needle in text for needle in needles)


def build_cases(
    chunk_tokens: int, max_nodes: int, embed_model: SentenceTransformerEmbedding
) -> list[Case]:
    """Corpus cases with a question, as retrieved nodes scored by the real embedding."""
    splitter = SentenceSplitter(chunk_size=chunk_tokens, chunk_overlap=0)
    cases = []
    for raw in load_cases():
        if not raw.get("query") or not raw.get("content") or not raw.get("needles"):
            continue
        chunks: list[TextNode] = splitter.get_nodes_from_documents(
            [Document(text=raw["content"], metadata={"case": raw["id"], "kind": raw["kind"]})]
        )[:max_nodes]
        vectors = embed_model.get_text_embedding_batch(
            [chunk.get_content(MetadataMode.EMBED) for chunk in chunks]
        )
        query_vector = embed_model.get_query_embedding(raw["query"])
        nodes = [
            NodeWithScore(node=chunk, score=embed_model.similarity(query_vector, vector))
            for chunk, vector in zip(chunks, vectors, strict=True)
        ]
        nodes.sort(key=lambda item: -(item.score or 0.0))
        cases.append(Case(raw["id"], raw["query"], [n["text"] for n in raw["needles"]], nodes))
    return cases


def matched_cutoff(nodes: Sequence[NodeWithScore], target_tokens: int) -> float:
    """The similarity cutoff whose kept token count is closest to ``target_tokens``."""
    ranked = sorted(nodes, key=lambda item: -(item.score or 0.0))
    best_score, best_gap, total = ranked[0].score or 0.0, float("inf"), 0
    for item in ranked:
        total += node_tokens([item])
        gap = abs(total - target_tokens)
        if gap < best_gap:
            best_score, best_gap = item.score or 0.0, gap
    return best_score


def compare(case: Case, budget: int) -> Outcome:
    reachable = [
        needle
        for needle in case.needles
        if any(needle in item.node.get_content(MetadataMode.LLM) for item in case.nodes)
    ]
    ours = HeadroomNodePostprocessor(token_budget=budget).postprocess_nodes(
        case.nodes, query_str=case.query
    )
    ours_tokens = node_tokens(ours)
    baseline = SimilarityPostprocessor(
        similarity_cutoff=matched_cutoff(case.nodes, ours_tokens)
    ).postprocess_nodes(case.nodes, query_str=case.query)
    return Outcome(
        case=case.id,
        reachable=len(reachable),
        ours_tokens=ours_tokens,
        ours_found=found(reachable, ours),
        baseline_tokens=node_tokens(baseline),
        baseline_found=found(reachable, baseline),
        total_tokens=node_tokens(case.nodes),
    )


def timed(runs: int, action: Callable[[], Any]) -> list[float]:
    """Wall times of ``runs`` calls, in milliseconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append((time.perf_counter() - start) * 1000.0)
    return times


def latency(cases: list[Case], runs: int, budget: int) -> None:
    largest = sorted(cases, key=lambda c: -len(c.nodes))
    nodes = [item for case in largest for item in case.nodes][:LATENCY_NODES]
    query = largest[0].query
    average = node_tokens(nodes) / len(nodes)
    cases_used = len({item.node.metadata["case"] for item in nodes})
    print(f"\n## Latency: {len(nodes)} nodes of ~{average:.0f} tokens from {cases_used} cases, "
          f"{runs} runs")
    encoding = TOKENIZER.encoding
    texts = [item.node.get_content(MetadataMode.LLM) for item in nodes]
    one_pass = statistics.median(timed(runs, lambda: encoding.encode_ordinary_batch(texts)))
    print(f"- baseline, one tiktoken pass over the same nodes: p50 {one_pass:.2f} ms")
    variants = {
        "headroom bm25 (default)": HeadroomNodePostprocessor(token_budget=budget),
        "headroom bm25, compress_structured=False": HeadroomNodePostprocessor(
            token_budget=budget, compress_structured=False
        ),
        "llama_index SimilarityPostprocessor": SimilarityPostprocessor(similarity_cutoff=0.3),
    }
    for name, processor in variants.items():
        first = timed(1, lambda p=processor: p.postprocess_nodes(nodes, query_str=query))[0]
        times = timed(runs, lambda p=processor: p.postprocess_nodes(nodes, query_str=query))
        p50 = statistics.median(times)
        p95 = sorted(times)[int(0.95 * (len(times) - 1))]
        print(f"- {name}: p50 {p50:.2f} ms ({p50 / one_pass:.1f}x the tiktoken pass), "
              f"p95 {p95:.2f} ms, first call {first:.2f} ms")
        if name.endswith("(default)"):
            verdict = "meets" if p50 <= LATENCY_TARGET_MS else "MISSES"
            print(f"  target p50 <= {LATENCY_TARGET_MS:.0f} ms: {verdict}")


def recall(cases: list[Case], budget: int) -> None:
    outcomes = [compare(case, budget) for case in cases]
    contested = [o for o in outcomes if o.total_tokens > budget and o.reachable]
    print(f"\n## Needle recall at the same token count (budget {budget})")
    print("| case | nodes tokens | headroom tokens | headroom found | similarity tokens | "
          "similarity found | needles |")
    print("|---|---|---|---|---|---|---|")
    for o in contested:
        print(f"| {o.case} | {o.total_tokens} | {o.ours_tokens} | {o.ours_found} | "
              f"{o.baseline_tokens} | {o.baseline_found} | {o.reachable} |")
    needles = sum(o.reachable for o in contested)
    ours = sum(o.ours_found for o in contested)
    theirs = sum(o.baseline_found for o in contested)
    ours_tokens = sum(o.ours_tokens for o in contested)
    their_tokens = sum(o.baseline_tokens for o in contested)
    print(f"\n{len(contested)} cases larger than the budget ({len(outcomes)} with a question); "
          f"{needles} needles held whole by a chunk.")
    print(f"- HeadroomNodePostprocessor: recall {ours / needles:.1%} ({ours}/{needles}), "
          f"{ours_tokens} tokens kept")
    print(f"- SimilarityPostprocessor (matched cutoff): recall {theirs / needles:.1%} "
          f"({theirs}/{needles}), {their_tokens} tokens kept")
    macro_ours = statistics.mean(o.ours_found / o.reachable for o in contested)
    macro_theirs = statistics.mean(o.baseline_found / o.reachable for o in contested)
    print(f"- mean per-case recall: headroom {macro_ours:.1%}, similarity {macro_theirs:.1%}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--budget", type=int, default=2000)
    parser.add_argument("--chunk-tokens", type=int, default=500)
    parser.add_argument("--max-nodes", type=int, default=30)
    args = parser.parse_args(argv)
    if corpus_root() is None:
        print("No corpus found: set HEADROOM_CORPUS to the corpus directory.", file=sys.stderr)
        return 1
    if not embedding_available():
        print("The retriever scores need the 'relevance' extra (sentence-transformers).",
              file=sys.stderr)
        return 1
    started = time.perf_counter()
    embed_model = SentenceTransformerEmbedding(embed_batch_size=64)
    cases = build_cases(args.chunk_tokens, args.max_nodes, embed_model)
    print(f"# LlamaIndex benchmark ({len(cases)} cases, up to {args.max_nodes} nodes each, "
          f"embedded with all-MiniLM-L6-v2 in {time.perf_counter() - started:.0f} s; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
    latency(cases, args.runs, args.budget)
    recall(cases, args.budget)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
