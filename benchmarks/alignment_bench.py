"""Alignment benchmark: the cost of mapping the engine's output back onto the originals.

Run: ``python -m benchmarks.alignment_bench`` (``--rounds``).

Every adapter tags the request with :func:`headroom_core.alignment.tag_origins` and aligns the
engine's output with :func:`headroom_core.alignment.align_origins`. Measured on the sample agent
conversation shipped with the package (~38K tokens, real tool outputs), once compressed only and
once also fitted into a quarter of its size, against two figures from the same process:

- the engine's ``optimize`` call on the same request (alignment should be a rounding error);
- one ``json.dumps`` pass over the original and optimized messages, the least any alignment
  that compares message texts has to do (target: tagging + aligning at most 0.5x of it).
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from benchmarks.relevance_bench import median_ms
from headroom_core.alignment import align_origins, tag_origins
from headroom_core.engine import HeadroomEngine
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import count_tokens_messages

TARGET_RATIO = 0.5


def row(
    engine: HeadroomEngine, sample: dict[str, Any], label: str, limit: int | None, rounds: int
) -> str:
    """One table row: what the engine did to the request and what aligning it costs."""
    messages, model = sample["messages"], sample["model"]
    optimized = engine.optimize(tag_origins(messages), model, model_limit=limit).messages_optimized
    aligned = align_origins(optimized, messages)
    kept = sum(a.origin is not None and not a.content_changed for a in aligned)
    rewritten = sum(a.origin is not None and a.content_changed for a in aligned)
    inserted = sum(a.origin is None for a in aligned)
    align = median_ms(lambda: align_origins(optimized, tag_origins(messages)), rounds)
    whole = median_ms(
        lambda: engine.optimize(tag_origins(messages), model, model_limit=limit),
        max(3, rounds // 20),
    )
    json_pass = median_ms(
        lambda: [json.dumps(m, sort_keys=True) for m in (*messages, *optimized)], rounds
    )
    ratio = align / json_pass
    verdict = "meets" if ratio <= TARGET_RATIO else "misses"
    return (
        f"| {label} | {len(optimized)} | {kept} | {rewritten} | {inserted} | {align:.3f} | "
        f"{whole:.1f} | {json_pass:.3f} | {ratio:.2f}x ({verdict} <= {TARGET_RATIO}x) |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=200, help="timed calls per figure")
    args = parser.parse_args()

    sample = load_sample_conversation()
    tokens = count_tokens_messages(sample["messages"])
    engine = HeadroomEngine()
    print(
        f"# Alignment benchmark ({len(sample['messages'])} messages, {tokens} tokens, "
        f"{args.rounds} rounds)"
    )
    print()
    print(
        "| request | out | kept as is | rewritten | inserted | tag+align ms | optimize ms "
        "| json pass ms | vs json pass |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for label, limit in (("compressed", None), ("compressed + fitted to 1/4", tokens // 4)):
        print(row(engine, sample, label, limit, args.rounds))


if __name__ == "__main__":
    main()
