"""Token-counting benchmark: our counter against one raw tiktoken pass, in the same process.

Run: ``python -m benchmarks.tokenizer_bench``.

(a) Counting a ~100K-token JSON tool output with ``Tokenizer.count_text`` against
    ``len(encoding.encode_ordinary(text))`` on the same text. Every round uses a fresh text (a
    varying prefix), so the count cache cannot help. Target: at most 1.3x.
(b) Recounting a 200-message conversation after appending one message against counting that one
    message alone. Target: at most 2x.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from benchmarks._data import load_cases
from headroom_core.tokenizer import Tokenizer

ROUNDS = 15
TARGET_TOKENS = 100_000


def median_seconds(action: Callable[[int], Any], rounds: int = ROUNDS) -> float:
    """Median wall time of ``action(round)`` over ``rounds`` calls, after one warm-up call."""
    action(-1)
    times = []
    for index in range(rounds):
        start = time.perf_counter()
        action(index)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def json_tool_output(tokenizer: Tokenizer, target: int = TARGET_TOKENS) -> str:
    """Real JSON tool outputs from the corpus (else generated records), ``target`` tokens long."""
    cases = [case for case in load_cases("json") if case.get("content")]
    if cases:
        records = []
        for case in cases:
            parsed = json.loads(case["content"])
            records.extend(parsed if isinstance(parsed, list) else [parsed])
    else:
        rng = random.Random(7)
        records = [
            {"id": n, "user": f"user_{rng.getrandbits(32):08x}", "latency_ms": rng.random() * 900}
            for n in range(2000)
        ]
    text = json.dumps(records, indent=2)
    while tokenizer.count_text(text) < target:
        text = text + "\n" + text
    return tokenizer.encoding.decode(tokenizer.encode(text)[:target])


def conversation(size: int, run: str) -> list[dict[str, Any]]:
    """A tool-using conversation of ``size`` messages with realistic lengths."""
    rng = random.Random(size)
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are a careful SRE agent."}]
    while len(messages) < size:
        turn = len(messages)
        messages.append({"role": "user", "content": f"{run} check service {turn} " * 8})
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": f"call_{turn}",
                        "type": "function",
                        "function": {"name": "get_logs", "arguments": json.dumps({"turn": turn})},
                    }
                ],
            }
        )
        lines = [f"{run} INFO request {turn}-{n} took {rng.randint(1, 900)}ms" for n in range(20)]
        output = "\n".join(lines)
        messages.append({"role": "tool", "tool_call_id": f"call_{turn}", "content": output})
    return messages[:size]


def bench_text() -> tuple[float, float, int]:
    """Our count and a raw encode of fresh copies of the same text, interleaved."""
    tokenizer = Tokenizer("gpt-4o")
    encoding = tokenizer.encoding
    body = json_tool_output(tokenizer)
    ours, raw = [], []
    for round_ in range(-1, ROUNDS):
        for times, action in (
            (ours, tokenizer.count_text),
            (raw, lambda text: len(encoding.encode_ordinary(text))),
        ):
            text = f"{round_}-{time.perf_counter_ns()}\n{body}"
            start = time.perf_counter()
            action(text)
            if round_ >= 0:
                times.append(time.perf_counter() - start)
    return statistics.median(ours), statistics.median(raw), tokenizer.count_text(body)


def bench_recount(lines: int) -> tuple[float, float, int]:
    """A 200-message conversation counted again after one new message (a tool output of
    ``lines`` log lines) is appended, against counting that message alone."""
    tokenizer = Tokenizer("gpt-4o")
    history = conversation(200, run=f"{time.perf_counter_ns()}")
    tokenizer.count_messages(history)

    def tool_output(n: int) -> dict[str, Any]:
        rows = [
            f"{n}-{time.perf_counter_ns()} WARN retry {i} of upstream call" for i in range(lines)
        ]
        return {"role": "tool", "tool_call_id": "call_1", "content": "\n".join(rows)}

    recount = median_seconds(lambda n: tokenizer.count_messages([*history, tool_output(n)]), 101)
    alone = median_seconds(lambda n: tokenizer.count_message(tool_output(n)), 101)
    return recount, alone, tokenizer.count_message(tool_output(0))


def main() -> None:
    ours, raw, tokens = bench_text()
    rows = [(f"(a) count {tokens:,}-token JSON", ours, raw, "raw tiktoken encode", 1.3)]
    for lines in (20, 80):
        recount, alone, new_tokens = bench_recount(lines)
        name = f"(b) recount 200 msgs + 1 of {new_tokens} tok"
        rows.append((name, recount, alone, "count 1 message", 2.0))
    print(f"{'case':44} {'ours ms':>9} {'baseline ms':>12} {'ratio':>6} {'target':>7}  baseline")
    for name, measured, baseline, what, target in rows:
        ratio = measured / baseline
        verdict = "ok" if ratio <= target else "MISSED"
        print(
            f"{name:44} {measured * 1e3:9.3f} {baseline * 1e3:12.3f} {ratio:6.2f} "
            f"{'<=' + str(target):>7}  {what} [{verdict}]"
        )


if __name__ == "__main__":
    main()
