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


def small_rows(target_tokens: int, salt: int) -> str:
    """Rows of three short fields (an id, a status, a number): the most objects per byte."""
    rng = random.Random(salt)
    return json.dumps([
        {"id": salt * 10**6 + i, "status": rng.choice(["ok", "ok", "ok", "error"]),
         "latency_ms": rng.randint(1, 500)}
        for i in range(target_tokens // 21)
    ])


def nested_rows(target_tokens: int, salt: int) -> str:
    """Rows holding a nested object, as API records do (``user``)."""
    rng = random.Random(salt)
    return json.dumps([
        {"id": f"evt-{salt}-{i:06d}", "ts": f"2024-05-01T12:{i % 60:02d}:{i % 60:02d}Z",
         "service": rng.choice(["api", "db", "auth"]),
         "level": rng.choice(["INFO", "INFO", "WARN", "ERROR"]),
         "msg": f"request {rng.randint(1, 10**6)} handled in {rng.random():.3f}s",
         "user": {"id": rng.randint(1, 999), "name": f"user{rng.randint(1, 999)}"}}
        for i in range(target_tokens // 72)
    ])


def series(target_tokens: int, salt: int) -> str:
    """A time series as pairs (``[[t, v], ...]``): arrays of plain values, not of objects."""
    rng = random.Random(salt)
    return json.dumps({"series": [[salt * 10**6 + i, rng.random()]
                                  for i in range(target_tokens // 14)]})


SHAPES: dict[str, Callable[[int, int], str]] = {
    "service events": fresh_content,
    "3-field rows": small_rows,
    "rows with a nested object": nested_rows,
    "series of pairs": series,
}


def speed() -> None:
    tokenizer = Tokenizer("gpt-4o")
    tokenizer.encode("warm up")
    crushers = {
        "default": SmartCrusher(),
        "lossless_only": SmartCrusher(SmartCrusherConfig(lossless_only=True)),
    }
    for crusher in crushers.values():  # import and build scorer and store once
        crusher.crush(fresh_content(5_000, 1), query="warm up", tokenizer=tokenizer)
    print("Speed on ~100K-token JSON, first call on fresh content, exact counts included, "
          "against one tiktoken encode of the same shape (median of 7 runs):")
    for shape, make in SHAPES.items():
        ratios: dict[str, list[float]] = {label: [] for label in crushers}
        for salt in range(7):
            text = make(100_000, 1000 + salt)
            start = time.perf_counter()
            tokenizer.encode(text)
            encode = time.perf_counter() - start
            for offset, (label, crusher) in enumerate(crushers.items()):
                other = make(100_000, 2000 + 10 * salt + offset)  # same shape, new content
                start = time.perf_counter()
                crusher.crush(other, query="database connection refused", tokenizer=tokenizer)
                ratios[label].append((time.perf_counter() - start) / encode)
        tokens = tokenizer.count_text(make(100_000, 999))
        figures = ", ".join(
            f"{label} {statistics.median(values):.2f}x" for label, values in ratios.items()
        )
        print(f"  {shape:26s} {tokens:7,} tokens: {figures}")


def traced_peak(action: Callable[[], Any]) -> int:
    """Bytes ``action`` allocates at its peak, above what was live before it ran."""
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        action()
        return tracemalloc.get_traced_memory()[1] - before
    finally:
        tracemalloc.stop()


def memory() -> None:
    print("Memory peak (tracemalloc, above what was live before) while crushing ~100K tokens, "
          "against the input's size in bytes; json.loads alone for scale:")
    crushers = {
        "default": SmartCrusher(),
        "lossless_only": SmartCrusher(SmartCrusherConfig(lossless_only=True)),
    }
    for crusher in crushers.values():
        crusher.crush(fresh_content(5_000, 7), query="warm up")  # vocabulary, scorer, store
    for number, (shape, make) in enumerate(SHAPES.items()):
        figures = []
        for offset, (label, crusher) in enumerate(crushers.items()):
            text = make(100_000, 4242 + 10 * number + offset)

            def crush(crusher: SmartCrusher = crusher, text: str = text) -> None:
                crusher.crush(text, query="upstream timeout", tokenizer=Tokenizer("gpt-4o"))

            figures.append(f"{label} {traced_peak(crush) / len(text.encode()):.2f}x")
        parse = traced_peak(lambda text=text: json.loads(text)) / len(text.encode())
        print(f"  {shape:26s} {len(text.encode()) / 1e6:.2f} MB: {', '.join(figures)} "
              f"(json.loads {parse:.2f}x)")


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
