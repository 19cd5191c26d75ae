"""SmartCrusher benchmark: lossless saving, speed against one tiktoken pass, memory, bad input.

Run: ``python -m benchmarks.smart_crusher_bench``. Every ratio is measured against a baseline in
this process (one tiktoken encode of the same input), so the figures travel between machines.
"""

from __future__ import annotations

import json
import os
import random
import statistics
import time
import tracemalloc
from collections.abc import Callable
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


def event_records(count: int, seed: int = 42) -> list[dict[str, Any]]:
    """Realistic service events: ids, timestamps, levels, services, latencies, messages."""
    rng = random.Random(seed)
    records = []
    for i in range(count):
        level = rng.choice(LEVELS)
        records.append(
            {
                "event_id": f"evt_{rng.getrandbits(48):012x}",
                "timestamp": f"2024-06-03T{8 + i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}."
                f"{rng.randint(0, 999):03d}Z",
                "level": level,
                "service": rng.choice(SERVICES),
                "host": f"ip-10-0-{rng.randint(0, 3)}-{rng.randint(2, 254)}",
                "region": "eu-west-1",
                "trace_id": f"{rng.getrandbits(64):016x}",
                "latency_ms": round(rng.lognormvariate(3.5, 0.6), 1),
                "status": 500 if level == "ERROR" else 200,
                "message": rng.choice(MESSAGES[level]),
            }
        )
    return records


def best_of(runs: int, action: Callable[[], Any]) -> float:
    """Median wall time of ``runs`` calls, in seconds."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def lossless_saving() -> None:
    records = event_records(1000)
    crusher = SmartCrusher(SmartCrusherConfig(lossless_only=True))
    print("Lossless saving on 1,000 event records (o200k_base tokens):")
    for label, text in (
        ("json.dumps(indent=2)", json.dumps(records, indent=2)),
        ("json.dumps()", json.dumps(records)),
        ("minified", json.dumps(records, separators=(",", ":"))),
    ):
        result = crusher.crush(text)
        saved = 100 * result.tokens_saved / result.tokens_before
        sizes = f"{result.tokens_before:7d} -> {result.tokens_after:6d}"
        print(f"  {label:22s} {sizes}  saved {saved:5.1f}%")


def fresh_content(target_tokens: int, salt: int) -> str:
    """A JSON output of about ``target_tokens`` tokens nobody has counted yet (new ids)."""
    return json.dumps(event_records(target_tokens // 95, seed=salt))


def speed() -> None:
    tokenizer = Tokenizer("gpt-4o")
    tokenizer.encode("warm up")
    crusher = SmartCrusher(SmartCrusherConfig(lossless_only=True))
    lossy = SmartCrusher()
    ratios, lossy_ratios, sizes = [], [], []
    for salt in range(5):
        text = fresh_content(100_000, 1000 + salt)
        other = fresh_content(100_000, 2000 + salt)  # same shape, different content
        encode = best_of(1, lambda t=text: tokenizer.encode(t))
        start = time.perf_counter()
        result = crusher.crush(other, tokenizer=Tokenizer("gpt-4o"))
        ratios.append((time.perf_counter() - start) / encode)
        third = fresh_content(100_000, 3000 + salt)
        start = time.perf_counter()
        lossy.crush(third, query="database connection refused", tokenizer=Tokenizer("gpt-4o"))
        lossy_ratios.append((time.perf_counter() - start) / encode)
        sizes.append((result.tokens_before, encode))
    tokens, encode = sizes[0]
    print(f"Speed on ~{tokens:,}-token JSON, first call on fresh content (tiktoken encode "
          f"{encode * 1000:.1f} ms):")
    print(f"  lossless crush / one encode: median {statistics.median(ratios):.2f}x "
          f"(runs: {', '.join(f'{r:.2f}' for r in ratios)})")
    print(f"  lossy crush (query)  / one encode: median {statistics.median(lossy_ratios):.2f}x")


def memory() -> None:
    text = fresh_content(100_000, 4242)
    crusher = SmartCrusher()
    tracemalloc.start()
    crusher.crush(text, query="upstream timeout", tokenizer=Tokenizer("gpt-4o"))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    size = len(text.encode())
    print(f"Memory peak (tracemalloc) on a {size / 1e6:.2f} MB input: {peak / 1e6:.2f} MB "
          f"= {peak / size:.2f}x the input")


def bad_input() -> None:
    crusher = SmartCrusher()
    rng = random.Random(1)
    garbage = bytes(rng.getrandbits(8) for _ in range(10_000_000)).decode("latin-1")
    cases = {
        "10 MB binary garbage": garbage,
        "10 MB JSON-looking string": "[" + "1," * 5_000_000 + "1]",
        "3.9 MB invalid JSON": '{"a": [' + '"x", ' * 650_000,
        "10,000-deep nesting": "[" * 10_000 + "]" * 10_000,
        "NaN/Infinity": "[" + "NaN, Infinity, " * 10_000 + "1]",
        "os.urandom 1 MB as text": os.urandom(1_000_000).decode("latin-1"),
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


def main() -> None:
    lossless_saving()
    speed()
    memory()
    bad_input()


if __name__ == "__main__":
    main()
