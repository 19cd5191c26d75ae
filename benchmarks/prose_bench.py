"""Prose benchmark: tokens saved and needle recall on real documents, through compress().

Run: ``python -m benchmarks.prose_bench``.

Each case is a real document (READMEs with fenced examples, licence texts, package
descriptions with changelogs, an API-changes note) from ``tests/data/prose``, read back as a
``read_file`` tool result after a user question about it. The needles were chosen from the
document before any compression ran: the lines of the sentence that answers, plus the
document's first and last non-blank lines. A needle counts when a kept line starts with it (a
kept line may carry a note such as ``[x2 similar lines]``).
A peer that passes prose through saves 0% at recall 1.00; ours must keep recall 1.00.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path
from typing import Any

from headroom_core import compress
from headroom_core.messages import content_text
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms import ContentRouter

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "prose"


def messages_for(name: str, query: str, document: str) -> list[dict[str, Any]]:
    """The case as a request: system, the question, the read_file call, the document."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "read_file", "arguments": json.dumps({"path": name})},
    }
    return [
        {"role": "system", "content": "You answer questions about documents."},
        {"role": "user", "content": query},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": document},
    ]


def main() -> None:
    tokenizer = get_tokenizer("gpt-4o")
    router = ContentRouter()
    cases = json.loads((DATA / "cases.json").read_text(encoding="utf-8"))
    rows = []
    for name, case in cases.items():
        document = (DATA / name).read_text(encoding="utf-8")
        filled = [line for line in document.split("\n") if line.strip()]
        needles = (*case["needles"], filled[0], filled[-1])
        start = time.perf_counter()
        result = compress(messages_for(name, case["query"], document), model="gpt-4o")
        latency = 1000 * (time.perf_counter() - start)
        output = content_text(result.messages[-1])
        kept = output.split("\n")
        lost = [needle for needle in needles if not any(line.startswith(needle) for line in kept)]
        before, after = tokenizer.count_text(document), tokenizer.count_text(output)
        recall = 1 - len(lost) / len(needles)
        rows.append((name, router.detect(document), before, after, recall, latency, lost))
    print("| document | detected | tokens | after | saved | recall | ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for name, kind, before, after, recall, latency, _ in rows:
        print(
            f"| {name} | {kind} | {before} | {after} | {1 - after / before:.1%} | {recall:.2f} "
            f"| {latency:.0f} |"
        )
    total_before = sum(row[2] for row in rows)
    total_after = sum(row[3] for row in rows)
    print(
        f"\nall: {total_before} -> {total_after} tokens, saved {1 - total_after / total_before:.1%}"
        f"; needle recall {statistics.mean(row[4] for row in rows):.2f}"
        " (passing prose through: saved 0.0%, recall 1.00)"
    )
    for name, *_, lost in rows:
        if lost:
            print(f"{name} lost: {lost}")


if __name__ == "__main__":
    main()
