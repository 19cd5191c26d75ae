"""The whole comparison in one command: ``python -m benchmarks.run_all``.

Every public corpus case (``HEADROOM_CORPUS``, else ``../shared/corpus``) is wrapped as system,
user question, assistant tool call and tool result, then compressed by:

- the Headroom engine (``HeadroomEngine.optimize``, the path every adapter takes);
- identity (nothing removed: the recall ceiling);
- head truncation to the engine's output size (same budget);
- LangChain ``trim_messages`` (``strategy="last"``, ``allow_partial=True``, its approximate
  token counter) to the approximate size of the engine's output (same budget);
- LlamaIndex ``SimilarityPostprocessor`` over a ``VectorStoreIndex`` of the tool output cut into
  256-token nodes by ``SentenceSplitter``, embedded offline with all-MiniLM-L6-v2; only for cases
  with a question (it needs a query), keeping nodes in document order;
- the public peer ``headroom-ai`` when ``benchmarks/.peer-venv`` exists
  (``python -m benchmarks.tool_outputs_bench --setup-peer`` creates it).

Scores, as in ``tool_outputs_bench``: tool-message tokens saved (o200k_base), needle recall (needles
found verbatim anywhere in the compressed messages) and latency. Writes
``benchmarks/results/summary.md`` and ``benchmarks/results/summary.png``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks._data import case_messages, load_cases
from benchmarks.tool_outputs_bench import (
    PEER_PACKAGE,
    PEER_VENV,
    PROBLEM_NEEDLES,
    Outcome,
    PeerWorker,
    fmt,
    percentile,
    recall,
    run_identity,
    run_truncation,
    saved,
    score,
)
from headroom_core.engine import HeadroomEngine
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import Tokenizer

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ENGINE = "headroom engine"
TRIM = "LangChain trim_messages"
SIMILARITY = "LlamaIndex SimilarityPostprocessor"
SIMILARITY_CUTOFF = 0.3
NODE_TOKENS = 256
# Embedding every node on CPU costs about 0.1 s per node: cases above this size would dominate the
# run, so the similarity baseline covers the question cases up to it (the table says how many).
SIMILARITY_MAX_TOKENS = 10_000
MODEL = "gpt-4o"

Messages = list[dict[str, Any]]
Results = dict[str, dict[str, Outcome]]


def run_engine(
    engine: HeadroomEngine, case: dict[str, Any], tokenizer: Tokenizer
) -> tuple[Outcome, Messages]:
    """The engine in optimize mode, as every adapter calls it; also returns what it sends."""
    messages = case_messages(case)
    start = time.perf_counter()
    result = engine.optimize(messages, MODEL, mode="optimize")
    latency = 1000 * (time.perf_counter() - start)
    return score(case, result.messages_optimized, tokenizer, latency), result.messages_optimized


def run_trim_messages(
    case: dict[str, Any], tokenizer: Tokenizer, engine_output: list[dict[str, Any]]
) -> Outcome:
    """LangChain's ``trim_messages`` to the (approximate) size of the engine's output."""
    from langchain_core.messages import (
        convert_to_messages,
        convert_to_openai_messages,
        trim_messages,
    )
    from langchain_core.messages.utils import count_tokens_approximately

    budget = count_tokens_approximately(convert_to_messages(engine_output))
    messages = convert_to_messages(case_messages(case))
    start = time.perf_counter()
    trimmed = trim_messages(
        messages,
        max_tokens=budget,
        token_counter=count_tokens_approximately,
        strategy="last",
        include_system=True,
        allow_partial=True,
    )
    latency = 1000 * (time.perf_counter() - start)
    return score(case, convert_to_openai_messages(trimmed), tokenizer, latency)


class SimilarityBaseline:
    """LlamaIndex retrieval over the tool output, filtered by ``SimilarityPostprocessor``."""

    def __init__(self, tokenizer: Tokenizer, max_tokens: int = SIMILARITY_MAX_TOKENS) -> None:
        from llama_index.core.node_parser import SentenceSplitter
        from llama_index.core.postprocessor import SimilarityPostprocessor

        from headroom_integrations.llamaindex import SentenceTransformerEmbedding

        self._tokenizer = tokenizer
        self._max_tokens = max_tokens
        self._embed_model = SentenceTransformerEmbedding()
        self._splitter = SentenceSplitter(
            chunk_size=NODE_TOKENS, chunk_overlap=0, tokenizer=tokenizer.encode
        )
        self._postprocessor = SimilarityPostprocessor(similarity_cutoff=SIMILARITY_CUTOFF)

    def run(self, case: dict[str, Any]) -> Outcome | None:
        """None for cases without a question (similarity needs a query) or above the size cap."""
        from llama_index.core import Document, VectorStoreIndex

        if not case.get("query") or self._tokenizer.count_text(case["content"]) > self._max_tokens:
            return None
        messages = case_messages(case)
        start = time.perf_counter()
        nodes = self._splitter.get_nodes_from_documents([Document(text=case["content"])])
        order = {node.node_id: position for position, node in enumerate(nodes)}
        index = VectorStoreIndex(nodes, embed_model=self._embed_model)
        retrieved = index.as_retriever(similarity_top_k=len(nodes)).retrieve(case["query"])
        kept = self._postprocessor.postprocess_nodes(retrieved, query_str=case["query"])
        kept.sort(key=lambda scored: order[scored.node.node_id])
        text = "\n".join(scored.node.get_content() for scored in kept)
        latency = 1000 * (time.perf_counter() - start)
        messages[-1] = {**messages[-1], "content": text}
        return score(case, messages, self._tokenizer, latency)


def _warmup_case() -> dict[str, Any]:
    """A case from the package's sample conversation, so warming up touches no measured content."""
    tool_output = next(
        m["content"] for m in load_sample_conversation()["messages"] if m["role"] == "tool"
    )
    return {"id": "warmup", "kind": "json", "query": "", "content": tool_output, "needles": []}


def run_interleaved(
    cases: Sequence[dict[str, Any]], methods: dict[str, Callable[[dict[str, Any]], Outcome | None]]
) -> Results:
    """Every method on a case before the next case, so all of them see the same machine load.

    Methods run in the given order (later ones may read earlier results of the same case); a
    method returning None does not apply to that case.
    """
    results: Results = {name: {} for name in methods}
    started = time.perf_counter()
    for number, case in enumerate(cases, 1):
        sys.stderr.write(f"\rcase {number}/{len(cases)}: {case['id']}".ljust(78))
        sys.stderr.flush()
        for name, run in methods.items():
            outcome = run(case)
            if outcome is not None:
                results[name][case["id"]] = outcome
    elapsed = time.perf_counter() - started
    sys.stderr.write(f"\r{len(cases)} cases x {len(methods)} methods in {elapsed:.1f}s".ljust(78))
    sys.stderr.write("\n")
    return results


# -- report ----------------------------------------------------------------------------------------


def _row(name: str, outcomes: Sequence[Outcome]) -> list[str]:
    latencies = [o.latency_ms for o in outcomes]
    return [
        name,
        str(len(outcomes)),
        f"{sum(o.tokens_before for o in outcomes):,}",
        f"{saved(outcomes):.1f}%",
        fmt(recall(outcomes, lambda why: True)),
        fmt(recall(outcomes, PROBLEM_NEEDLES.__contains__)),
        f"{statistics.median(latencies):.1f}",
        f"{percentile(latencies, 0.95):.1f}",
    ]


def _markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def summary_markdown(
    cases: Sequence[dict[str, Any]], results: Results, similarity_max_tokens: int
) -> str:
    """The comparison: overall, on the cases every method ran, and per kind."""
    header = [
        "method",
        "cases",
        "tool tokens",
        "saved",
        "needle recall",
        "recall errors/anomalies",
        "p50 ms",
        "p95 ms",
    ]
    overall = [_row(name, list(outcomes.values())) for name, outcomes in results.items()]
    common = [c["id"] for c in cases if all(c["id"] in outcomes for outcomes in results.values())]
    shared = [_row(name, [outcomes[i] for i in common]) for name, outcomes in results.items()]
    lines = [
        "# Benchmark summary",
        "",
        f"{len(cases)} public corpus cases (real tool outputs: loghub logs, GitHub API JSON, "
        "vega datasets, git grep, source files, Markdown), each wrapped as system, user question, "
        "assistant tool call, "
        "tool result; model gpt-4o. Tokens: o200k_base, tool messages only. Needle recall: "
        "fraction of the case's needles still present verbatim in the compressed messages. "
        "Latency: per call, in ms. Head truncation and trim_messages get the engine's output size "
        f"as their budget; SimilarityPostprocessor keeps nodes with similarity >= "
        f"{SIMILARITY_CUTOFF} and runs only on the cases that have a question and at most "
        f"{similarity_max_tokens:,} tool tokens (embedding every node on CPU is slow).",
        "",
        "## All cases each method ran",
        "",
        *_markdown_table(header, overall),
        "",
        f"## The {len(common)} cases every method ran",
        "",
        *_markdown_table(header, shared),
        "",
        "## Per kind",
        "",
    ]
    kind_rows = []
    for kind in sorted({case["kind"] for case in cases}):
        ids = [case["id"] for case in cases if case["kind"] == kind]
        for name, outcomes in results.items():
            chosen = [outcomes[i] for i in ids if i in outcomes]
            if chosen:
                kind_rows.append(_row(f"{kind} / {name}", chosen))
    lines += _markdown_table(["kind / method", *header[1:]], kind_rows)
    errors = sum(o.error is not None for outcomes in results.values() for o in outcomes.values())
    if errors:
        lines += [
            "",
            f"{errors} calls failed and were scored on their input (see the per-case run).",
        ]
    return "\n".join(lines) + "\n"


def summary_plot(results: Results, path: Path) -> None:
    """Bar charts of tokens saved, needle recall and median latency per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(results)
    series = [
        ("tool tokens saved (%)", [saved(list(results[n].values())) for n in names]),
        (
            "needle recall",
            [recall(list(results[n].values()), lambda why: True) or 0.0 for n in names],
        ),
        (
            "median latency (ms, log)",
            [
                max(0.01, statistics.median(o.latency_ms for o in results[n].values()))
                for n in names
            ],
        ),
    ]
    figure, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    colors = [f"C{i}" for i in range(len(names))]
    for axis, (title, values) in zip(axes, series, strict=True):
        axis.bar(range(len(names)), values, color=colors)
        axis.set_title(title)
        labels = [f"{name}\n({len(results[name])} cases)" for name in names]
        axis.set_xticks(range(len(names)), labels, rotation=30, ha="right", fontsize=8)
        if "latency" in title:
            axis.set_yscale("log")
        for position, value in enumerate(values):
            axis.annotate(
                f"{value:.2f}" if value < 10 else f"{value:.0f}",
                (position, value),
                ha="center",
                va="bottom",
                fontsize=8,
            )
    figure.suptitle("Headroom vs baselines on the public corpus")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


# -- entry point -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Headroom versus baselines on the public corpus.")
    parser.add_argument("--no-peer", action="store_true", help="skip the headroom-ai peer")
    parser.add_argument("--no-similarity", action="store_true", help="skip the LlamaIndex baseline")
    parser.add_argument(
        "--similarity-max-tokens",
        type=int,
        default=SIMILARITY_MAX_TOKENS,
        help="largest tool output the LlamaIndex baseline embeds",
    )
    parser.add_argument("--limit", type=int, help="only the first N cases (a quick check)")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR, help="results directory")
    args = parser.parse_args(argv)

    cases = [case for case in load_cases() if case["kind"] != "conversation"][: args.limit]
    if not cases:
        sys.exit("No corpus found: set HEADROOM_CORPUS to the corpus directory.")
    tokenizer = Tokenizer(MODEL)
    engine = HeadroomEngine()
    warmup = _warmup_case()
    engine.optimize(case_messages(warmup), MODEL)

    engine_outcomes: dict[str, Outcome] = {}
    engine_outputs: dict[str, Messages] = {}  # what the engine sends: the baselines' budget

    def engine_run(case: dict[str, Any]) -> Outcome:
        outcome, engine_outputs[case["id"]] = run_engine(engine, case, tokenizer)
        engine_outcomes[case["id"]] = outcome
        return outcome

    def engine_size(case: dict[str, Any]) -> int:
        return engine_outcomes[case["id"]].tokens_after

    methods: dict[str, Callable[[dict[str, Any]], Outcome | None]] = {
        ENGINE: engine_run,
        "identity": lambda case: run_identity(case, tokenizer),
        "head truncation": lambda case: run_truncation(case, tokenizer, engine_size(case)),
        TRIM: lambda case: run_trim_messages(case, tokenizer, engine_outputs[case["id"]]),
    }
    if not args.no_similarity:
        methods[SIMILARITY] = SimilarityBaseline(tokenizer, args.similarity_max_tokens).run
    peer = None
    if args.no_peer:
        pass
    elif (PEER_VENV / "bin" / "python").exists():
        peer = PeerWorker()
        peer.run(warmup, tokenizer)
        methods[PEER_PACKAGE] = lambda case: peer.run(case, tokenizer)
    else:
        print(
            f"(peer skipped: no {PEER_VENV}; see benchmarks.tool_outputs_bench --setup-peer)",
            file=sys.stderr,
        )
    try:
        results = run_interleaved(cases, methods)
    finally:
        if peer is not None:
            peer.close()

    args.output.mkdir(parents=True, exist_ok=True)
    text = summary_markdown(cases, results, args.similarity_max_tokens)
    (args.output / "summary.md").write_text(text, encoding="utf-8")
    summary_plot(results, args.output / "summary.png")
    print(text)
    print(f"Wrote {args.output / 'summary.md'} and {args.output / 'summary.png'}")


if __name__ == "__main__":
    main()
