"""Large outputs: a 3 MB log and a 2.5 MB JSON array (and 10 MB of each) built from the corpus.

Run: ``python -m benchmarks.large_outputs_bench`` (``--no-peer``). The log is the public corpus's
full logs joined and repeated; the JSON array is a public JSON case's rows repeated. Reported:
tokens kept, time against one tiktoken pass over the same text (median of 3, each on fresh
content so no cache helps), the memory peak against the text's size (tracemalloc, a separate
run), and whether every problem line's template still shows a line. The peer (``headroom-ai``
``compress()``, in its own venv) runs on the 3 MB and 2.5 MB inputs. Writes
``benchmarks/results/large_outputs.md``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from benchmarks._data import case_messages, load_cases, publish
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms._lines.severity import is_problem_line
from headroom_core.transforms._lines.templates import templates_of
from headroom_core.transforms.router import ContentRouter

RESULTS = Path(__file__).resolve().parent / "results" / "large_outputs.md"
JSON_CASE = "gh-issues-6cacef"


def build_log(size: int) -> str:
    text = "\n".join(c["content"] for c in load_cases("log") if c["id"].endswith("-full"))
    while len(text) < size:
        text += "\n" + text
    return text[: text.rfind("\n", 0, size)]


def build_json(size: int) -> str:
    case = next(c for c in load_cases("json") if c["id"] == JSON_CASE)
    rows = json.loads(case["content"])
    array: list[object] = []
    while len(json.dumps(array)) < size:
        array += rows
    return json.dumps(array)


def problems_kept(text: str, compressed: str) -> str:
    """How many problem templates still show one of their lines."""
    lines = list(dict.fromkeys(text.split("\n")))
    if len(lines) < 2:
        return "-"
    by_template: dict[str, set[str]] = {}
    for line, template in zip(lines, templates_of(lines).texts, strict=True):
        if is_problem_line(line):
            by_template.setdefault(template, set()).add(line)
    shown = {line.split("  [")[0] for line in compressed.split("\n")}
    kept = sum(1 for found in by_template.values() if found & shown)
    return f"{kept} / {len(by_template)}"


def measure(name: str, text: str) -> str:
    tokenizer = get_tokenizer("gpt-4o")
    ratios, seconds = [], []
    for run in range(3):
        fresh = _fresh(text, run)
        start = time.perf_counter()
        tokens = len(tokenizer.encoding.encode_ordinary(fresh))
        encode = time.perf_counter() - start
        start = time.perf_counter()
        result = ContentRouter(store=None).route(fresh, query="which errors?", tokenizer=tokenizer)
        elapsed = time.perf_counter() - start
        ratios.append(elapsed / encode)
        seconds.append(elapsed)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    ContentRouter(store=None).route(_fresh(text, 3), tokenizer=tokenizer)
    peak = (tracemalloc.get_traced_memory()[1] - before) / len(text.encode())
    tracemalloc.stop()
    return (
        f"| {name} | {len(text) / 1e6:.1f} MB | {tokens:,} | {result.tokens_after:,} "
        f"({result.tokens_after / tokens:.1%}) | {statistics.median(seconds):.2f} s "
        f"| {statistics.median(ratios):.2f}x | {peak:.1f}x "
        f"| {problems_kept(text, result.compressed)} |"
    )


def _fresh(text: str, run: int) -> str:
    """``text`` made new to every cache, still of its kind (a JSON array stays one)."""
    if text.startswith("["):
        return f'[{{"run": {run}}}, {text[1:]}'
    return f"run {run}\n{text}"


def peer_row(name: str, text: str) -> str:
    from benchmarks.tool_outputs_bench import PEER_PACKAGE, PEER_VENV, PeerWorker

    if not (PEER_VENV / "bin" / "python").exists():
        return f"| {PEER_PACKAGE} {name} | (no {PEER_VENV.name}) |"
    tokenizer = get_tokenizer("gpt-4o")
    worker = PeerWorker()
    case = {"id": name, "kind": "log", "query": "which errors?", "content": text}
    reply = worker.compress(name, case_messages(case))
    worker.close()
    tool = next(m for m in reversed(reply.get("messages") or []) if m.get("role") == "tool")
    content = tool["content"] if isinstance(tool["content"], str) else json.dumps(tool["content"])
    before, after = tokenizer.count_text(text), tokenizer.count_text(content)
    return (
        f"| {PEER_PACKAGE} {name} | {len(text) / 1e6:.1f} MB | {before:,} | {after:,} "
        f"({after / before:.1%}) | {reply['latency_ms'] / 1000:.2f} s | - | - | - |"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-peer", action="store_true", help="skip the peer")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not load_cases("log"):
        sys.exit("No corpus found: set HEADROOM_CORPUS to the corpus directory.")
    inputs = {
        "log": build_log(3_000_000),
        "JSON array": build_json(2_500_000),
        "log 10 MB": build_log(10_000_000),
        "JSON array 10 MB": build_json(10_000_000),
    }
    lines = [
        "# Large outputs benchmark",
        "",
        "`python -m benchmarks.large_outputs_bench`: the public full logs joined and repeated, "
        f"and the rows of `{JSON_CASE}` repeated. Time: median of 3 fresh runs of "
        "`ContentRouter.route`, and its ratio to one tiktoken pass over the same text; memory: "
        "tracemalloc peak over the text's size; problems: problem templates that still show a "
        "line.",
        "",
        "| input | size | tokens | kept | time | vs one tiktoken pass | memory | problems |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [measure(name, text) for name, text in inputs.items()]
    if not args.no_peer:
        lines += [peer_row(name, inputs[name]) for name in ("log", "JSON array")]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
