"""LangChain benchmark: wrapper overhead, and HeadroomMiddleware against LangChain's own middleware.

Run: ``python -m benchmarks.langchain_bench`` (``--calls``, ``--transcripts``, ``--max-chars``).

1. Overhead: ``HeadroomChatModel(inner).invoke`` against ``inner.invoke`` on a short request with
   nothing to compress; ``inner`` is LangChain's ``GenericFakeChatModel`` so only the wrapper's
   own cost is measured. Both run interleaved in this process; the figure is the difference of
   the medians (target: at most 1 ms).
2. Agent transcripts: corpus cases (real JSON, log and code-search tool outputs) are chained
   into agent conversations of three tool calls each. Each transcript goes through
   ``create_agent`` with one middleware under test; an innermost middleware records what would
   reach the model and answers in its place. Reported: tokens sent (o200k, exact) and needle
   recall (the share of the cases' verbatim facts still present in what was sent).
   ``ContextEditingMiddleware`` clears all but the latest tool result once the transcript passes
   the trigger; ``SummarizationMiddleware`` summarises with a fake model that always returns the
   same one-line summary (no LLM is available offline), so its recall is a lower bound for the
   facts a real summary might repeat. Without the corpus, the sample conversation shipped with
   the package is the only transcript.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import (
    AgentMiddleware,
    ClearToolUsesEdit,
    ContextEditingMiddleware,
    ModelRequest,
    ModelResponse,
    SummarizationMiddleware,
)
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages

from benchmarks._data import case_messages, corpus_root, load_cases
from headroom_core.messages import content_text
from headroom_core.samples import load_sample_conversation
from headroom_core.tokenizer import count_tokens_messages
from headroom_integrations.langchain import HeadroomChatModel, HeadroomMiddleware
from headroom_integrations.langchain._messages import to_core_messages

TRIGGER_TOKENS = 8_000
FIXED_SUMMARY = "Summary: the user asked about tool outputs; the assistant read them."


@dataclass
class Transcript:
    name: str
    messages: list[BaseMessage]
    needles: list[str]


@dataclass
class Sent:
    tokens: int
    recall: float
    seconds: float


# -- 1. overhead --------------------------------------------------------------------------------


def overhead(calls: int) -> dict[str, float]:
    """Median invoke time of the bare fake model and of the wrapper around it, in ms."""
    messages = convert_to_messages(
        [("system", "You are a helpful assistant."), ("human", "What is the capital of France?")]
    )
    inner = GenericFakeChatModel(messages=itertools.cycle([AIMessage("Paris.")]))
    wrapper = HeadroomChatModel(inner)
    for model in (inner, wrapper):  # warm caches, tokenizer and engine
        for _ in range(50):
            model.invoke(messages)
    bare: list[float] = []
    wrapped: list[float] = []
    for _ in range(calls):
        for model, times in ((inner, bare), (wrapper, wrapped)):
            started = time.perf_counter()
            model.invoke(messages)
            times.append((time.perf_counter() - started) * 1000)
    bare_p50, wrapped_p50 = statistics.median(bare), statistics.median(wrapped)
    return {
        "inner_p50_ms": bare_p50,
        "wrapper_p50_ms": wrapped_p50,
        "overhead_p50_ms": wrapped_p50 - bare_p50,
        "wrapper_p95_ms": statistics.quantiles(wrapped, n=20)[-1],
    }


# -- 2. agent transcripts ---------------------------------------------------------------------


def transcripts(limit: int, max_chars: int) -> list[Transcript]:
    """Agent conversations of three corpus cases each (kinds interleaved), or the sample."""
    if corpus_root() is None:
        sample = load_sample_conversation()["messages"]
        return [Transcript("sample-conversation", convert_to_messages(sample), [])]
    by_kind = [
        [c for c in load_cases(kind) if len(c["content"]) <= max_chars and c["needles"]]
        for kind in ("json", "log", "search")
    ]
    interleaved = [c for group in itertools.zip_longest(*by_kind) for c in group if c]
    groups = [interleaved[i : i + 3] for i in range(0, len(interleaved) - 2, 3)][:limit]
    return [_transcript(group) for group in groups]


def _transcript(cases: Sequence[dict[str, Any]]) -> Transcript:
    messages: list[dict[str, Any]] = []
    for index, case in enumerate(cases):
        turn = case_messages(case, tool_name=f"read_{case['kind']}")
        messages.extend(turn if index == 0 else turn[1:])
        if index < len(cases) - 1:
            messages.append({"role": "assistant", "content": "Noted; reading the next source."})
    needles = [n["text"] for case in cases for n in case["needles"]]
    return Transcript("+".join(c["id"] for c in cases), convert_to_messages(messages), needles)


class Recorder(AgentMiddleware):
    """Innermost middleware: records the request the model would get and answers in its place."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[BaseMessage] = []

    def wrap_model_call(
        self, request: ModelRequest, handler: Callable[[ModelRequest], ModelResponse]
    ) -> ModelResponse:
        system = [request.system_message] if request.system_message else []
        self.sent = [*system, *request.messages]
        return ModelResponse(result=[AIMessage("ok")])


def _candidates() -> dict[str, Callable[[], AgentMiddleware | None]]:
    summary_model = GenericFakeChatModel(messages=itertools.cycle([AIMessage(FIXED_SUMMARY)]))
    return {
        "no middleware": lambda: None,
        "HeadroomMiddleware": HeadroomMiddleware,
        "ContextEditingMiddleware": lambda: ContextEditingMiddleware(
            edits=[ClearToolUsesEdit(trigger=TRIGGER_TOKENS, keep=1)]
        ),
        "SummarizationMiddleware": lambda: SummarizationMiddleware(
            summary_model, trigger=("tokens", TRIGGER_TOKENS), keep=("messages", 4)
        ),
    }


def sent_through(
    middleware: AgentMiddleware | None, messages: Sequence[BaseMessage]
) -> list[BaseMessage]:
    """What a ``create_agent`` agent with ``middleware`` would send its model for ``messages``."""
    recorder = Recorder()
    chain = [middleware, recorder] if middleware is not None else [recorder]
    model = GenericFakeChatModel(messages=itertools.cycle([AIMessage("unused")]))
    create_agent(model, [], middleware=chain).invoke({"messages": list(messages)})
    return recorder.sent


def run_agent(middleware: AgentMiddleware | None, transcript: Transcript) -> Sent:
    started = time.perf_counter()
    sent = sent_through(middleware, transcript.messages)
    seconds = time.perf_counter() - started
    text = "\n".join(content_text(m) for m in to_core_messages(sent))
    kept = sum(needle in text for needle in transcript.needles)
    recall = kept / len(transcript.needles) if transcript.needles else 1.0
    tokens = count_tokens_messages(to_core_messages(sent), model="gpt-4o")
    return Sent(tokens, recall, seconds)


def compare(selected: list[Transcript]) -> dict[str, list[Sent]]:
    results: dict[str, list[Sent]] = {}
    for name, build in _candidates().items():
        results[name] = [run_agent(build(), transcript) for transcript in selected]
    return results


# -- report -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000, help="invokes per model for overhead")
    parser.add_argument("--transcripts", type=int, default=8, help="agent transcripts to compare")
    parser.add_argument("--max-chars", type=int, default=100_000, help="largest tool output used")
    args = parser.parse_args(argv)

    cost = overhead(args.calls)
    print("## HeadroomChatModel overhead, nothing to compress\n")
    print(f"calls per model: {args.calls} (interleaved; inner = GenericFakeChatModel)\n")
    print("| inner p50 ms | wrapper p50 ms | overhead p50 ms | wrapper p95 ms |")
    print("|---:|---:|---:|---:|")
    print(
        f"| {cost['inner_p50_ms']:.3f} | {cost['wrapper_p50_ms']:.3f} | "
        f"{cost['overhead_p50_ms']:.3f} | {cost['wrapper_p95_ms']:.3f} |\n"
    )

    selected = transcripts(args.transcripts, args.max_chars)
    results = compare(selected)
    baseline = results["no middleware"]
    print(f"## Agent transcripts ({len(selected)}, three tool results each)\n")
    print(f"trigger for LangChain's middleware: {TRIGGER_TOKENS} tokens; summary model is fake\n")
    if not any(transcript.needles for transcript in selected):
        print("no corpus found: the sample conversation has no needles, recall is not measured\n")
    print("| middleware | tokens sent | vs none | needle recall | s per transcript |")
    print("|---|---:|---:|---:|---:|")
    for name, sent in results.items():
        tokens = sum(s.tokens for s in sent)
        ratio = tokens / max(1, sum(s.tokens for s in baseline))
        recall = statistics.mean(s.recall for s in sent)
        seconds = statistics.mean(s.seconds for s in sent)
        print(f"| {name} | {tokens} | {ratio:.1%} | {recall:.1%} | {seconds:.3f} |")
    print("\nper transcript (tokens sent / recall):\n")
    print("| transcript | " + " | ".join(results) + " |")
    print("|---|" + "---:|" * len(results))
    for index, transcript in enumerate(selected):
        cells = [f"{r[index].tokens} / {r[index].recall:.0%}" for r in results.values()]
        print(f"| {transcript.name} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
