"""SmartCrusher benchmark: lossless saving, speed against one tiktoken pass, memory, bad input.

Run: ``python -m benchmarks.smart_crusher_bench``. Every ratio is measured against a baseline in
this process (one tiktoken encode of the same input), so the figures travel between machines.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from headroom_core.config import SmartCrusherConfig
from headroom_core.errors import TransformError
from headroom_core.relevance.terms import token_terms
from headroom_core.retrieval import InMemoryOriginalsStore
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms.smart_crusher import SmartCrusher

LEVELS = ["INFO"] * 90 + ["WARN"] * 7 + ["ERROR"] * 3
SERVICES = ["checkout", "payments", "search", "inventory", "auth", "notifications"]
MESSAGES = {
    "INFO": ["request completed", "cache hit", "user session refreshed", "order created"],
    "WARN": ["slow upstream response", "retrying upstream call"],
    "ERROR": ["upstream timeout", "database connection refused"],
}


def event_records(count: int, seed: int = 42, *, traced: bool = True) -> list[dict[str, Any]]:
    """Realistic service events: ids, timestamps, levels, services, latencies, messages.

    ``traced`` events carry what tracing adds (random hex ids, trace ids, hosts, milliseconds):
    values no lossless encoding can shorten. Plain events have sequential ids and whole seconds.
    """
    rng = random.Random(seed)
    records = []
    for i in range(count):
        level = rng.choice(LEVELS)
        clock = f"2024-06-03T{8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}"
        record: dict[str, Any] = {
            "event_id": f"evt_{rng.getrandbits(48):012x}" if traced else f"evt_{i:06d}",
            "timestamp": f"{clock}.{rng.randint(0, 999):03d}Z" if traced else f"{clock}Z",
            "level": level,
            "service": rng.choice(SERVICES),
        }
        if traced:
            record["host"] = f"ip-10-0-{rng.randint(0, 3)}-{rng.randint(2, 254)}"
            record["region"] = "eu-west-1"
            record["trace_id"] = f"{rng.getrandbits(64):016x}"
        latency = rng.lognormvariate(3.5, 0.6)
        record["latency_ms"] = round(latency, 1) if traced else int(latency)
        record["status"] = 500 if level == "ERROR" else 200
        record["message"] = rng.choice(MESSAGES[level])
        records.append(record)
    return records


def lossless_saving() -> None:
    crusher = SmartCrusher(SmartCrusherConfig(lossless_only=True))
    print("Lossless saving on 1,000 event records (o200k_base tokens):")
    for kind, traced in (("plain events", False), ("traced events", True)):
        records = event_records(1000, traced=traced)
        for label, text in (
            ("json.dumps(indent=2)", json.dumps(records, indent=2)),
            ("json.dumps()", json.dumps(records)),
            ("minified", json.dumps(records, separators=(",", ":"))),
        ):
            result = crusher.crush(text)
            saved = 100 * result.tokens_saved / result.tokens_before
            sizes = f"{result.tokens_before:7d} -> {result.tokens_after:6d}"
            print(f"  {kind:14s} {label:22s} {sizes}  saved {saved:5.1f}%")


def fresh_content(target_tokens: int, salt: int) -> str:
    """A JSON output of about ``target_tokens`` tokens nobody has counted yet (new ids)."""
    return json.dumps(event_records(target_tokens // 95, seed=salt))


def speed() -> None:
    tokenizer = Tokenizer("gpt-4o")
    tokenizer.encode("warm up")
    crushers = {
        "default (lossy over 50 rows)": SmartCrusher(),
        "lossless_only": SmartCrusher(SmartCrusherConfig(lossless_only=True)),
    }
    for crusher in crushers.values():  # import and build scorer and store once
        crusher.crush(fresh_content(5_000, 1), query="warm up", tokenizer=tokenizer)
    ratios: dict[str, list[float]] = {label: [] for label in crushers}
    encodes = []
    for salt in range(7):
        text = fresh_content(100_000, 1000 + salt)
        start = time.perf_counter()
        tokenizer.encode(text)
        encode = time.perf_counter() - start
        encodes.append(encode)
        for offset, (label, crusher) in enumerate(crushers.items()):
            other = fresh_content(100_000, 2000 + 10 * salt + offset)  # same shape, new content
            start = time.perf_counter()
            crusher.crush(other, query="database connection refused", tokenizer=tokenizer)
            ratios[label].append((time.perf_counter() - start) / encode)
    tokens = tokenizer.count_text(fresh_content(100_000, 999))
    print(f"Speed on ~{tokens:,}-token JSON, first call on fresh content, exact counts included "
          f"(one tiktoken encode: median {statistics.median(encodes) * 1000:.1f} ms):")
    for label, values in ratios.items():
        runs = ", ".join(f"{value:.2f}" for value in values)
        print(f"  {label:30s} median {statistics.median(values):.2f}x one encode  (runs: {runs})")


def fill_term_cache() -> None:
    """Fill the process-wide cache of search terms, as a long-running process has: new tokens
    then replace old ones instead of growing it."""
    for number in range(token_terms.cache_info().maxsize or 0):
        token_terms(f"warm_{number:x}")


def traced_peak(action: Callable[[], Any], prepare: Callable[[], Any] | None = None) -> int:
    """Bytes ``action`` allocates at its peak, above what was live before it ran.

    ``prepare`` runs traced, so what ``action`` frees of it (cache entries it evicts) counts.
    """
    tracemalloc.start()
    try:
        if prepare is not None:
            prepare()
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def memory() -> None:
    print("Memory peak (tracemalloc, above what was live before) while crushing ~100K tokens:")
    for salt, (label, crusher, prepare) in enumerate((
        ("lossless_only", SmartCrusher(SmartCrusherConfig(lossless_only=True)), None),
        ("default, retrieval store included", SmartCrusher(), None),
        ("  same, term cache already full", SmartCrusher(), fill_term_cache),
    )):
        crusher.crush(fresh_content(5_000, 7), query="warm up")  # vocabulary, scorer, store
        text = fresh_content(100_000, 4242 + salt)
        size = len(text.encode())

        def crush(crusher: SmartCrusher = crusher, text: str = text) -> None:
            crusher.crush(text, query="upstream timeout", tokenizer=Tokenizer("gpt-4o"))

        peak = traced_peak(crush, prepare)
        print(f"  {label:34s} {peak / 1e6:5.2f} MB = {peak / size:.2f}x the input "
              f"({size / 1e6:.2f} MB)")
    items = json.loads(text)
    dropped = items[len(items) // 20 :]  # what a default crush hands to the store
    for label, action in (
        ("(json.loads alone, for scale)", lambda: json.loads(text)),
        ("(store.put of the dropped items)", lambda: InMemoryOriginalsStore().put(dropped)),
    ):
        peak = traced_peak(action)
        print(f"  {label:34s} {peak / 1e6:5.2f} MB = {peak / size:.2f}x")


def bad_input() -> None:
    crusher = SmartCrusher()
    rng = random.Random(1)
    garbage = bytes(rng.getrandbits(8) for _ in range(10_000_000)).decode("latin-1")
    cases = {
        "10 MB binary garbage": garbage,
        "10 MB JSON-looking string": "[" + "1," * 5_000_000 + "1]",
        "3.9 MB invalid JSON": '{"a": [' + '"x", ' * 650_000,
        "10,000-deep nesting": "[" * 10_000 + "]" * 10_000,
        "900-deep objects": '{"a": ' * 900 + "1" + "}" * 900,
        "NaN/Infinity": "[" + "NaN, Infinity, " * 10_000 + "1]",
        "huge integer": "[" + "9" * 5_000 + "]",
        "1 MB random bytes as text": os.urandom(1_000_000).decode("latin-1"),
    }
    print("Bad input (result or TransformError, wall time):")
    for label, text in cases.items():
        start = time.perf_counter()
        try:
            outcome = crusher.crush(text).reasons[0]
        except TransformError as exc:
            outcome = f"TransformError: {exc.message[:60]}"
        elapsed = time.perf_counter() - start
        print(f"  {label:28s} {elapsed * 1000:8.1f} ms  {outcome[:70]}")


def corpus(directory: Path) -> None:
    """Tokens saved and needle recall on the public corpus JSON cases, when it is there."""
    cases = sorted(directory.glob("json/*.json"))
    if not cases:
        print(f"Corpus: no JSON cases under {directory} (pass --corpus DIR); skipped.")
        return
    crusher = SmartCrusher()
    before = after = found = needles = 0
    print(f"Corpus JSON cases ({len(cases)}), query = the case's question:")
    for path in cases:
        case = json.loads(path.read_text())
        start = time.perf_counter()
        result = crusher.crush(case["content"], case["query"])
        elapsed = time.perf_counter() - start
        hits = sum(needle["text"] in result.compressed for needle in case["needles"])
        before, after = before + result.tokens_before, after + result.tokens_after
        found, needles = found + hits, needles + len(case["needles"])
        saved = 100 * result.tokens_saved / result.tokens_before
        print(f"  {case['id']:26s} {result.strategy:9s} saved {saved:5.1f}%  "
              f"needles {hits}/{len(case['needles'])}  {elapsed * 1000:6.1f} ms")
    print(f"  all: saved {100 * (1 - after / before):.1f}% of {before:,} tokens, "
          f"needle recall {found}/{needles}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--corpus", type=Path, default=Path("../shared/corpus/public"))
    args = parser.parse_args()
    lossless_saving()
    speed()
    memory()
    bad_input()
    corpus(args.corpus)


if __name__ == "__main__":
    main()
