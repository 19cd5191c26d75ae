"""Agent runs: one task, many tool calls, replayed step by step.

Run: ``python -m benchmarks.agent_runs_bench`` (``--runs N``, ``--no-peer``; the peer needs
``benchmarks/.peer-venv``, see ``tool_outputs_bench --setup-peer``).

A run is a system prompt, one task message and one tool exchange per real output of the public
corpus (kinds interleaved, ten outputs a run; each call's arguments carry the output's question,
as an agent's arguments would), plus the sample conversation shipped with the package. Request k
is the run up to tool result k, as an agent sends it. Each method sees every step of every run,
at the model's real window (gpt-4o, 128K) and at windows of 60%, 40% and 15% of the whole run's
size (plus the 4,000-token reply buffer; compression alone fits most runs into 40%, so 15% is
where fitting has to stub):

- identity: the request as it is;
- Headroom: ``HeadroomEngine.optimize(..., model_limit=...)``, one engine per run and window, as
  an application keeps one;
- LangChain ``ContextEditingMiddleware`` (``ClearToolUsesEdit``, keep 3 and keep 1, trigger at the
  window's budget) and ``SummarizationMiddleware`` (trigger at the budget, keeping 4 messages; its
  summary model is a fake that returns one fixed line, so its recall is a lower bound), each in a
  real ``create_agent`` agent whose innermost middleware records what the model would get;
- the public peer ``headroom-ai``'s ``compress(model_limit=...)``.

Per step: tokens sent (o200k, exact), whether the request fits the budget, the cached prefix
(the tokens of the leading messages identical to the previous step's request, what a provider
prompt cache serves), billed input with cached tokens at 10% (Anthropic reads) and 50% (OpenAI),
needle recall of the newest output and, at the last step, of the whole run, and the step's time
next to compressing the newest output alone (a fresh ``ToolOutputCompressor`` on the task and
that one exchange, measured in the same process). Writes ``benchmarks/results/agent_runs.md``
and ``agent_runs.png``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks._data import corpus_root, load_cases
from headroom_core.config import HeadroomConfig
from headroom_core.engine import HeadroomEngine
from headroom_core.errors import ContextOverflowError
from headroom_core.messages import content_text
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms.tool_outputs import ToolOutputCompressor

MODEL = "gpt-4o"
REAL_WINDOW = 128_000
OUTPUT_BUFFER = 4_000
RUN_SIZE = 10
KINDS = ("json", "log", "search", "code", "text")
# 15% goes below what compression alone reaches on most runs: it makes the fitting work
WINDOWS: dict[str, float | None] = {"real": None, "60%": 0.6, "40%": 0.4, "15%": 0.15}
CACHED_RATES = (0.1, 0.5)
SYSTEM_PROMPT = (
    "You are an engineering assistant with tools. Read what the tools return and answer from it; "
    "quote ids, numbers and lines exactly."
)
RESULTS = Path(__file__).resolve().parent / "results"
Messages = list[dict[str, Any]]


@dataclass
class Run:
    """A task's whole request and, per step, where the step ends and the facts it brought."""

    name: str
    messages: Messages
    step_ends: list[int]  # request k is messages[: step_ends[k]]
    step_needles: list[list[str]]  # facts of the output that step k added

    @property
    def needles(self) -> list[str]:
        return [needle for needles in self.step_needles for needle in needles]


@dataclass
class Step:
    tokens: int
    fits: bool
    cached: int
    newest_recall: float | None
    seconds: float
    alone_seconds: float = 0.0


@dataclass
class Replay:
    """One method on one run at one window."""

    run: str
    budget: int
    steps: list[Step] = field(default_factory=list)
    run_recall: float = 0.0
    errors: list[str] = field(default_factory=list)


# -- runs ------------------------------------------------------------------------------------


def corpus_runs(limit: int | None) -> list[Run]:
    """Runs of ``RUN_SIZE`` corpus outputs each, kinds interleaved."""
    by_kind = [[c for c in load_cases(kind) if c.get("content")] for kind in KINDS]
    interleaved = [c for group in itertools.zip_longest(*by_kind) for c in group if c]
    groups = [interleaved[i : i + RUN_SIZE] for i in range(0, len(interleaved), RUN_SIZE)]
    return [_run(f"corpus-{n + 1}", group) for n, group in enumerate(groups[:limit])]


def _run(name: str, cases: Sequence[dict[str, Any]]) -> Run:
    questions = "\n".join(f"- {c['query']}" for c in cases if c.get("query"))
    messages: Messages = [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": f"Investigate these sources and answer:\n{questions}"},
    ]
    ends, needles = [], []
    for number, case in enumerate(cases):
        call_id = f"call_{number}_{case['id']}"[:40]
        arguments = json.dumps({"source": case["source"], "question": case.get("query", "")})
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": f"read_{case['kind']}", "arguments": arguments},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": case["content"]})
        ends.append(len(messages))
        needles.append([n["text"] for n in case["needles"]])
    return Run(name, messages, ends, needles)


def sample_run() -> Run:
    """The sample conversation: a step ends at every tool result and user message after the
    first; its facts count for the whole run."""
    sample = load_sample_conversation()
    messages = sample["messages"]
    ends = [
        index + 1
        for index, message in enumerate(messages)
        if index > 1 and message["role"] in ("tool", "user")
        and (index + 1 == len(messages) or messages[index + 1]["role"] != "tool")
    ]
    needles: list[list[str]] = [[] for _ in ends]
    needles[-1] = [fact["text"] for fact in sample["facts"]]
    return Run("sample-conversation", messages, ends, needles)


# -- methods ---------------------------------------------------------------------------------

Sender = Callable[[Messages], Messages]  # a request in, what reaches the model out


def identity(_: Run, __: int) -> Sender:
    return lambda messages: messages


def headroom(_: Run, limit: int) -> Sender:
    engine = HeadroomEngine(HeadroomConfig())

    def send(messages: Messages) -> Messages:
        return engine.optimize(messages, MODEL, model_limit=limit).messages_optimized

    return send


def langchain_middleware(build: Callable[[int], Any]) -> Callable[[Run, int], Sender]:
    from langchain_core.messages import convert_to_messages

    from benchmarks.langchain_bench import sent_through
    from headroom_integrations.langchain._messages import to_core_messages

    def method(_: Run, limit: int) -> Sender:
        def send(messages: Messages) -> Messages:
            middleware = build(limit - OUTPUT_BUFFER)
            return to_core_messages(sent_through(middleware, convert_to_messages(messages)))

        return send

    return method


def context_editing(keep: int) -> Callable[[Run, int], Sender]:
    from langchain.agents.middleware import ClearToolUsesEdit, ContextEditingMiddleware

    return langchain_middleware(
        lambda budget: ContextEditingMiddleware(
            edits=[ClearToolUsesEdit(trigger=budget, keep=keep)]
        )
    )


def summarization() -> Callable[[Run, int], Sender]:
    from langchain.agents.middleware import SummarizationMiddleware
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    summary = "Summary: the assistant read the tool outputs for the task."
    model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(summary)]))
    return langchain_middleware(
        lambda budget: SummarizationMiddleware(
            model, trigger=("tokens", budget), keep=("messages", 4)
        )
    )


def peer_method() -> tuple[Callable[[Run, int], Sender], Callable[[], None]] | None:
    from benchmarks.tool_outputs_bench import PEER_VENV, PeerWorker

    if not (PEER_VENV / "bin" / "python").exists():
        return None
    worker = PeerWorker()

    def method(run: Run, limit: int) -> Sender:
        def send(messages: Messages) -> Messages:
            reply = worker.compress(run.name, messages, model_limit=limit)
            if "messages" not in reply:
                raise RuntimeError(reply.get("error", "the peer failed"))
            return reply["messages"]  # type: ignore[no-any-return]

        return send

    return method, worker.close


# -- replay ------------------------------------------------------------------------------------


def replay(run: Run, method: Callable[[Run, int], Sender], limit: int, tokenizer: Tokenizer,
           alone: Sequence[float] | None = None) -> Replay:
    """Send every step of ``run`` through ``method`` at window ``limit``."""
    budget = limit - OUTPUT_BUFFER
    send = method(run, limit)
    record = Replay(run.name, budget)
    previous: Messages = []
    sent: Messages = []
    for number, end in enumerate(run.step_ends):
        request = run.messages[:end]
        started = time.perf_counter()
        try:
            sent = send(request)
        except (ContextOverflowError, RuntimeError) as exc:
            record.errors.append(f"step {number + 1}: {type(exc).__name__}: {exc}")
            sent = request
        seconds = time.perf_counter() - started
        tokens = tokenizer.count_messages(sent)
        text = _text(sent)
        needles = run.step_needles[number]
        record.steps.append(
            Step(
                tokens=tokens,
                fits=tokens <= budget,
                cached=_cached_prefix(previous, sent, tokenizer),
                newest_recall=sum(n in text for n in needles) / len(needles) if needles else None,
                seconds=seconds,
                alone_seconds=alone[number] if alone else 0.0,
            )
        )
        previous = sent
    everything = run.needles
    text = _text(sent)
    record.run_recall = sum(n in text for n in everything) / len(everything) if everything else 1.0
    return record


def newest_alone_seconds(run: Run, tokenizer: Tokenizer) -> list[float]:
    """Per step, compressing the task and only the newest exchange with a fresh compressor."""
    seconds = []
    starts = [2, *run.step_ends[:-1]]
    for start, end in zip(starts, run.step_ends, strict=True):
        alone = run.messages[:2] + run.messages[start:end]
        compressor = ToolOutputCompressor(HeadroomConfig())
        started = time.perf_counter()
        compressor.apply(alone, tokenizer)
        seconds.append(time.perf_counter() - started)
    return seconds


def _cached_prefix(previous: Messages, sent: Messages, tokenizer: Tokenizer) -> int:
    cached = 0
    for old, new in zip(previous, sent, strict=False):
        if old != new:
            break
        cached += tokenizer.count_message(new)
    return cached


def _text(messages: Messages) -> str:
    parts = []
    for message in messages:
        parts.append(content_text(message))
        for call in message.get("tool_calls") or []:
            parts.append(str((call.get("function") or {}).get("arguments", "")))
    return "\n".join(parts)


# -- report ------------------------------------------------------------------------------------


def summarise(replays: Sequence[Replay], identity_replays: Sequence[Replay]) -> dict[str, float]:
    steps = [step for replay in replays for step in replay.steps]
    base = [step for replay in identity_replays for step in replay.steps]
    sent = sum(step.tokens for step in steps)
    cached = sum(step.cached for step in steps)
    figures = {
        "tokens_share": sent / max(1, sum(step.tokens for step in base)),
        "fits": sum(step.fits for step in steps) / max(1, len(steps)),
        "cached_share": cached / max(1, sent),
        "run_recall": statistics.mean(replay.run_recall for replay in replays),
        "p50_ms": 1000 * statistics.median(step.seconds for step in steps),
        "p95_ms": 1000 * _p95([step.seconds for step in steps]),
    }
    newest = [step.newest_recall for step in steps if step.newest_recall is not None]
    figures["newest_recall"] = statistics.mean(newest) if newest else float("nan")
    for rate in CACHED_RATES:
        billed = sum(step.tokens - (1 - rate) * step.cached for step in steps)
        base_billed = sum(step.tokens - (1 - rate) * step.cached for step in base)
        figures[f"billed_{rate}"] = billed / max(1.0, base_billed)
    ratios = [step.seconds / step.alone_seconds for step in steps if step.alone_seconds > 0]
    figures["alone_ratio_p50"] = statistics.median(ratios) if ratios else float("nan")
    return figures


def _p95(values: Sequence[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] if len(values) > 1 else values[0]


def report(
    runs: Sequence[Run], results: dict[str, dict[str, list[Replay]]], tokenizer: Tokenizer
) -> str:
    lines = [
        "# Agent runs benchmark",
        "",
        f"`python -m benchmarks.agent_runs_bench`: {len(runs)} runs, "
        f"{sum(len(run.step_ends) for run in runs)} steps, "
        f"{sum(tokenizer.count_messages(run.messages) for run in runs):,} tokens in the last "
        "requests; each run is replayed step by step at each window.",
        "",
        "Columns: tokens sent (share of identity's), steps that fit the budget, cached-prefix "
        "share of what was sent, billed input (cached tokens at 10% / 50%, share of identity's "
        "billed input), needle recall of the newest output (mean over steps) and of the whole run "
        "(last step), step time p50 / p95, and the p50 of each step's time over compressing its "
        "newest output alone.",
        "",
    ]
    for window in WINDOWS:
        lines += [
            f"## Window: {window}",
            "",
            "| method | tokens sent | fits | cached share | billed @10% | billed @50% "
            "| newest recall | run recall | p50 / p95 ms | vs newest alone |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        base = results["identity"][window]
        for method, by_window in results.items():
            f = summarise(by_window[window], base)
            lines.append(
                f"| {method} | {f['tokens_share']:.1%} | {f['fits']:.0%} | {f['cached_share']:.3f} "
                f"| {f['billed_0.1']:.2f}x | {f['billed_0.5']:.2f}x | {f['newest_recall']:.3f} "
                f"| {f['run_recall']:.3f} | {f['p50_ms']:.0f} / {f['p95_ms']:.0f} "
                f"| {f['alone_ratio_p50']:.2f}x |"
            )
        errors = [
            f"{method} on {replay.run}: {error}"
            for method, by_window in results.items()
            for replay in by_window[window]
            for error in replay.errors[:1]
        ]
        if errors:
            lines += ["", "Errors (first per run):", "", *[f"- {e[:300]}" for e in errors]]
        lines.append("")
    return "\n".join(lines)


def plot(results: dict[str, dict[str, list[Replay]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for method, by_window in results.items():
        replay = max(by_window["15%"], key=lambda r: len(r.steps))
        steps = range(1, len(replay.steps) + 1)
        axes[0].plot(steps, [s.tokens for s in replay.steps], marker="o", label=method)
        real = max(by_window["real"], key=lambda r: len(r.steps))
        axes[1].plot(
            steps,
            [s.cached / max(1, s.tokens) for s in real.steps],
            marker="o",
            label=method,
        )
    axes[0].axhline(replay.budget, color="grey", linestyle="--", label="budget (15% window)")
    axes[0].set(title=f"Tokens sent per step, {replay.run}, 15% window", xlabel="step")
    axes[1].set(title="Cached-prefix share per step, real window", xlabel="step", ylim=(0, 1))
    axes[0].legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=None, help="corpus runs to replay")
    parser.add_argument("--no-peer", action="store_true", help="skip the peer")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    tokenizer = get_tokenizer(MODEL)
    runs = (corpus_runs(args.runs) if corpus_root() is not None else []) + [sample_run()]
    methods: dict[str, Callable[[Run, int], Sender]] = {
        "identity": identity,
        "Headroom": headroom,
        "ContextEditing keep=3": context_editing(3),
        "ContextEditing keep=1": context_editing(1),
        "Summarization (fake summary)": summarization(),
    }
    close: Callable[[], None] | None = None
    peer = None if args.no_peer else peer_method()
    if peer is not None:
        methods["headroom-ai 0.42.0"], close = peer
    alone = {run.name: newest_alone_seconds(run, tokenizer) for run in runs}
    results: dict[str, dict[str, list[Replay]]] = {m: {w: [] for w in WINDOWS} for m in methods}
    for run in runs:
        size = tokenizer.count_messages(run.messages)
        for window, share in WINDOWS.items():
            limit = REAL_WINDOW if share is None else int(size * share) + OUTPUT_BUFFER
            for name, method in methods.items():
                timing = alone[run.name] if name == "Headroom" else None
                results[name][window].append(replay(run, method, limit, tokenizer, timing))
            print(f"{run.name} at {window} done", file=sys.stderr)
    if close is not None:
        close()
    text = report(runs, results, tokenizer)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "agent_runs.md").write_text(text + "\n", encoding="utf-8")
    plot(results, args.out / "agent_runs.png")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
