"""Tool-output benchmark: ours against identity, head truncation and the public peer, per case.

Run: ``python -m benchmarks.tool_outputs_bench`` (``--setup-peer`` first creates the peer's venv in
``benchmarks/.peer-venv`` with ``headroom-ai==0.42.0``; without it the peer column is skipped).

Every public corpus case is wrapped as system, user question, assistant tool call, tool result.
Per case and per kind it reports tool-message tokens saved (o200k_base), needle recall (needles
found verbatim anywhere in the compressed messages; error/anomaly needles apart from
query/first/last ones) and first-call latency: each case's content is new to the process, and
``compress()`` builds fresh objects, so no result cache flatters it. For code and text it also
reports structure: unmarked gaps and open code fences. Results go to
``benchmarks/results/tool_outputs.md``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._data import case_messages, load_cases, publish
from benchmarks._structure import open_fence, unmarked_gaps
from headroom_core import compress
from headroom_core.messages import content_text
from headroom_core.tokenizer import Tokenizer

BENCH_DIR = Path(__file__).resolve().parent
PEER_VENV = BENCH_DIR / ".peer-venv"
PEER_PACKAGE = "headroom-ai==0.42.0"
RESULTS = BENCH_DIR / "results" / "tool_outputs.md"
KINDS = ("json", "log", "search", "code", "text", "conversation")
PROBLEM_NEEDLES = frozenset({"error", "anomaly"})
STRUCTURED_KINDS = frozenset({"code", "text"})  # shown with a marker at every gap
# tiktoken's download address for o200k_base: its cache file is named by this URL's SHA-1.
O200K_URL = "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"

Messages = list[dict[str, Any]]


@dataclass
class Outcome:
    """One compressor on one case."""

    tokens_before: int
    tokens_after: int
    found: dict[str, list[bool]] = field(default_factory=dict)
    latency_ms: float = 0.0
    encode_ms: float = 0.0
    error: str | None = None
    gaps: int = 0  # code and text: shown lines adjacent here, not in the original
    open_fence: bool = False


def tool_text(messages: Messages) -> str:
    """The text of the tool results in ``messages``."""
    return "\n".join(content_text(m) for m in messages if m.get("role") == "tool")


def all_text(messages: Messages) -> str:
    """Everything a model would read: every message's text and tool-call arguments."""
    parts = []
    for message in messages:
        parts.append(content_text(message))
        for call in message.get("tool_calls") or []:
            parts.append(str((call.get("function") or {}).get("arguments", "")))
    return "\n".join(parts)


def score(
    case: dict[str, Any], messages: Messages, tokenizer: Tokenizer, latency_ms: float
) -> Outcome:
    """Tokens and needle recall of ``messages`` as the compressed form of ``case``."""
    text = all_text(messages)
    found: dict[str, list[bool]] = {}
    for needle in case["needles"]:
        found.setdefault(needle["why"], []).append(needle["text"] in text)
    before = tokenizer.count_text(tool_text(case_messages(case)))
    shown = tool_text(messages)
    outcome = Outcome(before, tokenizer.count_text(shown), found, latency_ms)
    if case["kind"] in STRUCTURED_KINDS:
        outcome.gaps = unmarked_gaps(case["content"], shown)
        outcome.open_fence = open_fence(shown)
    return outcome


def yardstick(
    case: dict[str, Any], tokenizer: Tokenizer, run: Callable[[dict[str, Any], Tokenizer], Outcome]
) -> Outcome:
    """``run`` on ``case``, with one uncached tiktoken pass over the same content timed just
    before it: the ratio of the two hardly depends on the machine's load."""
    start = time.perf_counter()
    tokenizer.encoding.encode_ordinary(case["content"])
    encode = 1000 * (time.perf_counter() - start)
    outcome = run(case, tokenizer)
    outcome.encode_ms = encode
    return outcome


def run_ours(case: dict[str, Any], tokenizer: Tokenizer) -> Outcome:
    messages = case_messages(case)
    start = time.perf_counter()
    result = compress(messages, model="gpt-4o")
    latency = 1000 * (time.perf_counter() - start)
    return score(case, result.messages, tokenizer, latency)


def run_identity(case: dict[str, Any], tokenizer: Tokenizer) -> Outcome:
    return score(case, case_messages(case), tokenizer, 0.0)


def run_truncation(case: dict[str, Any], tokenizer: Tokenizer, size: int) -> Outcome:
    """Keep the first ``size`` tokens of the tool output."""
    messages = case_messages(case)
    start = time.perf_counter()
    tokens = tokenizer.encode(messages[-1]["content"])
    messages[-1] = {**messages[-1], "content": tokenizer.encoding.decode(tokens[:size])}
    latency = 1000 * (time.perf_counter() - start)
    return score(case, messages, tokenizer, latency)


def setup_peer() -> None:
    """Create the peer's venv and give tiktoken there the vocabulary this package ships."""
    if not (PEER_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(PEER_VENV)], check=True)
    subprocess.run([str(PEER_VENV / "bin" / "pip"), "install", "-q", PEER_PACKAGE], check=True)
    peer_tiktoken_cache()


def peer_tiktoken_cache() -> Path:
    """A tiktoken cache for the peer (offline, it could not fetch o200k_base and would guess)."""
    cache = PEER_VENV / "tiktoken-cache"
    target = cache / hashlib.sha1(O200K_URL.encode()).hexdigest()
    if not target.exists():
        import headroom_core

        shipped = Path(headroom_core.__file__).parent / "data" / "o200k_base.tiktoken.gz"
        cache.mkdir(parents=True, exist_ok=True)
        target.write_bytes(gzip.decompress(shipped.read_bytes()))
    return cache


class PeerWorker:
    """The peer's ``compress()`` in its own venv, fed one case at a time over a pipe."""

    def __init__(self) -> None:
        env = dict(
            os.environ,
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            TIKTOKEN_CACHE_DIR=str(peer_tiktoken_cache()),
        )
        self.process = subprocess.Popen(
            [str(PEER_VENV / "bin" / "python"), str(BENCH_DIR / "_peer_worker.py")],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            text=True, env=env,
        )

    def compress(
        self, request_id: str, messages: list[dict[str, Any]], model_limit: int | None = None
    ) -> dict[str, Any]:
        """The peer's reply: ``messages`` (or ``error``) and ``latency_ms``."""
        assert self.process.stdin and self.process.stdout
        request = {"id": request_id, "messages": messages, "model_limit": model_limit}
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())  # type: ignore[no-any-return]

    def run(self, case: dict[str, Any], tokenizer: Tokenizer) -> Outcome:
        reply = self.compress(case["id"], case_messages(case))
        if "messages" not in reply:
            outcome = score(case, case_messages(case), tokenizer, reply["latency_ms"])
            outcome.error = reply.get("error")
            return outcome
        return score(case, reply["messages"], tokenizer, reply["latency_ms"])

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def _warmup_json_case() -> dict[str, Any]:
    """A small JSON case of its own, to warm up what only JSON outputs use."""
    rows = [{"id": i, "state": "failed" if i == 7 else "done", "ms": 10 + i} for i in range(120)]
    return {"id": "warmup-json", "kind": "json", "query": "which job failed?",
            "content": json.dumps(rows), "needles": []}


def _warmup_case() -> dict[str, Any]:
    """A small case of its own, so the warm-up shares no content with the measured cases."""
    lines = [f"2024-01-01 00:00:{i:02d} INFO worker-{i % 3} heartbeat seq={i}" for i in range(60)]
    return {"id": "warmup", "kind": "log", "query": "", "content": "\n".join(lines), "needles": []}


def line_crusher_costs(cases: Sequence[dict[str, Any]], tokenizer: Tokenizer) -> str:
    """Time and memory of crushing the largest log, against one tiktoken pass over it."""
    from headroom_core.transforms.line_crusher import LineCrusher

    case = max((c for c in cases if c["kind"] == "log"), key=lambda c: len(c["content"]))
    ratios = []
    for run in range(5):  # fresh content each run, so no count cache helps
        text = f"run {run} of the line crusher benchmark\n{case['content']}"
        start = time.perf_counter()
        tokenizer.encoding.encode_ordinary(text)
        encode = time.perf_counter() - start
        start = time.perf_counter()
        LineCrusher().crush(text, case["query"], tokenizer=tokenizer)
        ratios.append((time.perf_counter() - start) / encode)
    text = f"memory run\n{case['content']}"
    tracemalloc.start()
    LineCrusher().crush(text, case["query"], tokenizer=tokenizer)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    size = len(text.encode("utf-8"))
    return (
        f"Line crusher on the largest log ({case['id']}, {size:,} bytes, "
        f"{tokenizer.count_text(case['content']):,} tokens), counts included: "
        f"{statistics.median(ratios):.2f}x one tiktoken pass (median of 5 fresh runs); "
        f"memory peak {peak / size:.2f}x the input size.\n"
    )


def memory_peaks(cases: Sequence[dict[str, Any]]) -> str:
    """Peak memory of ``compress()`` on each case (tracemalloc, above what was live before, so
    caches that grow count), against the size of the tool output in bytes; a separate pass,
    since tracing slows everything down."""
    peaks: dict[str, float] = {}
    for warmup in (_warmup_case(), _warmup_json_case()):  # the originals store, compiled patterns
        compress(case_messages(warmup), model="gpt-4o")
    for case in cases:
        messages = case_messages(case)
        size = len(case["content"].encode("utf-8"))
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        compress(messages, model="gpt-4o")
        peaks[case["id"]] = (tracemalloc.get_traced_memory()[1] - before) / size
        tracemalloc.stop()
    out = [
        "## Memory peak of compress(), times the tool output's size",
        "",
        "| kind | cases | median | max | cases over 5x (size) |",
        "|---|---|---|---|---|",
    ]
    for kind in [*KINDS, "all"]:
        chosen = [c for c in cases if kind in ("all", c["kind"])]
        if not chosen:
            continue
        ratios = [peaks[c["id"]] for c in chosen]
        over = ", ".join(
            f"{c['id']} {peaks[c['id']]:.1f}x ({len(c['content'].encode()) // 1000} KB)"
            for c in sorted(chosen, key=lambda c: -peaks[c["id"]]) if peaks[c["id"]] > 5
        )
        out.append(f"| {kind} | {len(chosen)} | {statistics.median(ratios):.2f}x "
                   f"| {max(ratios):.2f}x | {over or '-'} |")
    return "\n".join(out) + "\n"


# -- report ---------------------------------------------------------------------------------


def recall(outcomes: Sequence[Outcome], whys: Callable[[str], bool]) -> float | None:
    hits = [hit for o in outcomes for why, found in o.found.items() if whys(why) for hit in found]
    return sum(hits) / len(hits) if hits else None


def saved(outcomes: Sequence[Outcome]) -> float:
    before = sum(o.tokens_before for o in outcomes)
    return 100 * (before - sum(o.tokens_after for o in outcomes)) / before if before else 0.0


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else 0.0


def fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def summary_row(name: str, outcomes: Sequence[Outcome]) -> str:
    latencies = [o.latency_ms for o in outcomes]
    timed = [o.latency_ms / o.encode_ms for o in outcomes if o.encode_ms]
    passes = f"{statistics.median(timed):.1f}" if timed else "-"
    tokens = sum(o.tokens_before for o in outcomes)
    return (
        f"| {name} | {len(outcomes)} | {tokens:,} | {saved(outcomes):.1f}% "
        f"| {fmt(recall(outcomes, lambda why: True))} "
        f"| {fmt(recall(outcomes, PROBLEM_NEEDLES.__contains__))} "
        f"| {fmt(recall(outcomes, lambda why: why not in PROBLEM_NEEDLES))} "
        f"| {statistics.median(latencies):.1f} | {percentile(latencies, 0.95):.1f} | {passes} |"
    )


def report(cases: Sequence[dict[str, Any]], results: dict[str, dict[str, Outcome]]) -> str:
    names = list(results)
    out = [
        "# Tool-output compression benchmark",
        "",
        f"{len(cases)} public corpus cases, each wrapped as system, user question, tool call, tool "
        "result. Tokens: o200k_base, tool messages only. Recall: needles found verbatim in the "
        "compressed messages (problem = error/anomaly needles; other = query/first/last). Latency: "
        "first call on each content, in ms, and as a multiple of one tiktoken pass over the same "
        "content measured just before (the load-independent figure).",
        "",
        "## Per kind",
        "",
        "| compressor / kind | cases | tool tokens | saved | recall | recall problem "
        "| recall other | p50 ms | p95 ms | p50 / tiktoken pass |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    kinds = [kind for kind in KINDS if any(case["kind"] == kind for case in cases)]
    for name in names:
        for kind in [*kinds, "all"]:
            chosen = [results[name][c["id"]] for c in cases if kind in ("all", c["kind"])]
            if chosen:
                out.append(summary_row(f"{name} / {kind}", chosen))
    structured = [c for c in cases if c["kind"] in STRUCTURED_KINDS]
    if structured:
        out += [
            "",
            "## Structure of code and text outputs",
            "",
            "A line of an output that is not in the original counts as a marker; lines shown "
            "next to each other without a marker between them must be next to each other in the "
            "original, and code fences must close.",
            "",
            "| compressor | cases | cases with unmarked gaps | unmarked gaps | open fences |",
            "|---|---|---|---|---|",
        ]
        for name in names:
            chosen = [results[name][c["id"]] for c in structured]
            out.append(
                f"| {name} | {len(chosen)} | {sum(1 for o in chosen if o.gaps)} "
                f"| {sum(o.gaps for o in chosen)} | {sum(o.open_fence for o in chosen)} |"
            )
    out += [
        "",
        "## Per case (saved % / recall / latency ms)",
        "",
        "| case | kind | tokens | " + " | ".join(names) + " |",
        "|---|---|---|" + "---|" * len(names),
    ]
    for case in cases:
        cells = []
        for name in names:
            outcome = results[name].get(case["id"])
            if outcome is None:
                cells.append("-")
                continue
            pct = saved([outcome])
            found = fmt(recall([outcome], lambda why: True))
            error = " (error)" if outcome.error else ""
            cells.append(f"{pct:.1f}% / {found} / {outcome.latency_ms:.0f}{error}")
        tokens = results["ours"][case["id"]].tokens_before
        out.append(f"| {case['id']} | {case['kind']} | {tokens:,} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--setup-peer", action="store_true", help=f"create {PEER_VENV.name} first")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer")
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write the table")
    args = parser.parse_args(argv)
    cases = load_cases()
    if not cases:
        sys.exit("No corpus found: set HEADROOM_CORPUS to the corpus directory.")
    if args.setup_peer:
        setup_peer()
    tokenizer = Tokenizer("gpt-4o")
    peer = None
    if not args.no_peer:
        if (PEER_VENV / "bin" / "python").exists():
            peer = PeerWorker()
            peer.run(_warmup_case(), tokenizer)
        else:
            print(f"(peer skipped: no {PEER_VENV}; run with --setup-peer)", file=sys.stderr)
    run_ours(_warmup_case(), tokenizer)  # imports, vocabulary, compiled patterns
    # Each compressor runs through all cases back to back, as a service would, one after the other.
    ours = {case["id"]: yardstick(case, tokenizer, run_ours) for case in cases}
    results: dict[str, dict[str, Outcome]] = {
        "ours": ours,
        "identity": {case["id"]: run_identity(case, tokenizer) for case in cases},
        "head truncation": {
            case["id"]: run_truncation(case, tokenizer, ours[case["id"]].tokens_after)
            for case in cases
        },
    }
    if peer is not None:
        results[PEER_PACKAGE] = {case["id"]: yardstick(case, tokenizer, peer.run) for case in cases}
        peer.close()

    text = "\n".join(
        [report(cases, results), memory_peaks(cases), line_crusher_costs(cases, tokenizer)]
    )
    publish(text, args.output)


if __name__ == "__main__":
    main()
