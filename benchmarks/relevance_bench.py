"""Relevance and retrieval benchmark, with baselines measured in the same process.

Run: ``python -m benchmarks.relevance_bench``.

- BM25 over 2,000 short real log lines against the floor of any keyword scorer: one regex
  tokenisation pass over the same lines. Target: a few milliseconds.
- Embedding scoring of 200 lines (when the ``relevance`` extra is installed), first call after load.
- Originals stores: put and get of 50 dropped JSON items, in memory and in a SQLite file.
"""

from __future__ import annotations

import json
import random
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks._data import load_cases
from headroom_core.relevance import BM25Scorer, EmbeddingScorer, embedding_available
from headroom_core.retrieval import InMemoryOriginalsStore, SQLOriginalsStore

WORD = re.compile(r"\w+")


def median_ms(action: Callable[[], Any], rounds: int = 21) -> float:
    """Median wall time of ``action`` in milliseconds, after one warm-up call."""
    action()
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def log_lines(count: int) -> tuple[list[str], str]:
    """``count`` real log lines and a question about them (generated lines without the corpus)."""
    for case in load_cases("log"):
        lines = [line for line in case["content"].splitlines() if line.strip()]
        if len(lines) >= count and case.get("query"):
            return lines[:count], case["query"]
    rng = random.Random(3)
    levels = ["INFO"] * 8 + ["WARN", "ERROR"]
    lines = [
        f"2024-06-03 10:{n // 60 % 60:02d}:{n % 60:02d} {rng.choice(levels)} "
        f"worker-{rng.randint(1, 9)} request_id=req_{rng.getrandbits(32):08x} "
        f"took {rng.randint(1, 900)}ms"
        for n in range(count)
    ]
    return lines, "which requests on worker-7 failed with ERROR?"


def main() -> None:
    lines, query = log_lines(2000)
    scorer = BM25Scorer()
    bm25 = median_ms(lambda: scorer.score_items(lines, query))
    floor = median_ms(lambda: [WORD.findall(line) for line in lines])
    rows = [("BM25, 2,000 log lines", bm25, f"{bm25 / floor:.1f}x one regex tokenisation pass")]
    if embedding_available():
        embedder = EmbeddingScorer()
        embedder.score_items(lines[:2], query)  # load the model once
        first = lines[200:400]
        start = time.perf_counter()
        embedder.score_items(first, query)
        embedding = (time.perf_counter() - start) * 1e3
        rows.append(("embedding, 200 lines, first call", embedding, "model loaded beforehand"))
    items = [{"id": n, "status": "ok", "latency_ms": n * 3.5, "host": f"h{n}"} for n in range(50)]
    memory = InMemoryOriginalsStore()
    with tempfile.TemporaryDirectory() as folder:
        sql = SQLOriginalsStore(f"sqlite:///{Path(folder) / 'originals.db'}")
        for name, store in (("in-memory", memory), ("SQLite file", sql)):
            fresh = iter(range(10**9))
            put = median_ms(lambda store=store, fresh=fresh: store.put([*items, next(fresh)]))
            key = store.put(items)
            get = median_ms(lambda store=store, key=key: store.get(key))
            rows.append((f"{name} store put, 50 items", put, ""))
            rows.append((f"{name} store get, 50 items", get, ""))
        sql.close()
    print(f"{'case':36} {'ms':>9}  note")
    for name, value, note in rows:
        print(f"{name:36} {value:9.3f}  {note}")
    print(f"(query: {json.dumps(query)})")


if __name__ == "__main__":
    main()
