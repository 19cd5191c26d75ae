"""Plain-text rendering of the engine's results for the ``headroom`` command."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from headroom_core.messages import content_text

if TYPE_CHECKING:
    from headroom_core.results import SimulationResult
    from headroom_core.tokenizer import Tokenizer

Messages = Sequence[Mapping[str, Any]]

# Rows of the per-kind table, in reading order: (label, roles counted under it).
MESSAGE_KINDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("system prompt", ("system", "developer")),
    ("user turns", ("user",)),
    ("assistant turns", ("assistant",)),
    ("tool results", ("tool", "function")),
)


def kind_table(messages: Messages, result: SimulationResult, tokenizer: Tokenizer) -> str:
    """Tokens per kind of message before and after, the total and the input cost."""
    before = _tokens_by_kind(messages, tokenizer)
    after = _tokens_by_kind(result.messages_optimized, tokenizer)
    rows = [
        (label, f"{before[label]:,}", f"{after[label]:,}", _percent(before[label], after[label]))
        for label, _roles in MESSAGE_KINDS
        if before[label] or after[label]
    ]
    framing_before = result.tokens_before - sum(before.values())
    framing_after = result.tokens_after - sum(after.values())
    if framing_before or framing_after:
        rows.append(("request framing", f"{framing_before:,}", f"{framing_after:,}", ""))
    rows.append(
        (
            "total",
            f"{result.tokens_before:,}",
            f"{result.tokens_after:,}",
            f"{result.savings_percent:.1f}%",
        )
    )
    cost_before, cost_after = result.estimated_cost_before_usd, result.estimated_cost_after_usd
    rows.append(("input cost", _usd(cost_before), _usd(cost_after), ""))
    return table(("message kind", "tokens before", "tokens after", "saved"), rows)


def tool_table(original: Messages, optimized: Messages, tokenizer: Tokenizer) -> str:
    """Tokens of each tool result before and after, matched by tool-call id."""
    after = {m.get("tool_call_id"): m for m in optimized if m.get("role") == "tool"}
    rows = []
    for message in original:
        call_id = message.get("tool_call_id")
        if message.get("role") != "tool" or call_id not in after:
            continue
        before = tokenizer.count_message(message)
        now = tokenizer.count_message(after[call_id])
        label = f"{call_id} {message.get('name', '')}".strip()
        rows.append((label, f"{before:,}", f"{now:,}", _percent(before, now)))
    return table(("tool call", "tokens before", "tokens after", "saved"), rows)


def plan_table(result: SimulationResult) -> str:
    """The headline numbers of a plan: tokens and cost before and after."""
    rows = [
        ("tokens before", f"{result.tokens_before:,}"),
        ("tokens after", f"{result.tokens_after:,}"),
        ("tokens saved", f"{result.tokens_saved:,} ({result.savings_percent:.1f}%)"),
        ("cost before", _usd(result.estimated_cost_before_usd)),
        ("cost after", _usd(result.estimated_cost_after_usd)),
    ]
    return table(("", "value"), rows)


def waste_table(result: SimulationResult) -> str:
    """Tokens the original request wastes, by cause."""
    waste = result.waste_signals.to_dict()
    return table(("signal", "tokens"), [(name, f"{tokens:,}") for name, tokens in waste.items()])


def savings(result: SimulationResult) -> str:
    """Where the savings came from: tokens saved per transform."""
    if result.failed:
        return f"Optimization failed, the original messages are sent: {result.error}\n"
    ranked = sorted(result.transform_savings.items(), key=lambda item: -item[1])
    if not ranked:
        return "No transform changed the request: nothing here was worth compressing.\n"
    rows = [
        (name, f"{saved:,}", _percent_of(saved, result.tokens_before)) for name, saved in ranked
    ]
    text = "Where the savings came from:\n" + table(
        ("transform", "tokens saved", "of request"), rows
    )
    if result.transform_savings.get("cache_aligner", 0) < 0:
        text += (
            "  (cache_aligner moved volatile values such as today's date out of the system\n"
            "  prompt, so the prompt prefix stays identical across requests and provider\n"
            "  caches hit; that costs a few tokens.)\n"
        )
    return text


def facts(wanted: Sequence[Mapping[str, str]], optimized: Messages) -> str:
    """Whether each fact the last question needs is still verbatim in the optimized request."""
    if not wanted:
        return ""
    text = "\n".join(content_text(message) for message in optimized)
    kept = [fact["text"] in text for fact in wanted]
    lines = [
        f"\nFacts the last question needs, still verbatim after optimization: "
        f"{sum(kept)}/{len(wanted)}"
    ]
    for fact, present in zip(wanted, kept, strict=True):
        lines.append(f"  {'kept' if present else 'LOST'}  {fact['text']}  ({fact['why']})")
    return "\n".join(lines) + "\n"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain-text table: first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        first = str(cells[0]).ljust(widths[0])
        rest = (str(cell).rjust(width) for cell, width in zip(cells[1:], widths[1:], strict=True))
        return "  " + "  ".join([first, *rest]).rstrip() + "\n"

    rule = "  " + "  ".join("-" * width for width in widths) + "\n"
    return line(headers) + rule + "".join(line(row) for row in rows)


def _tokens_by_kind(messages: Messages, tokenizer: Tokenizer) -> dict[str, int]:
    totals = dict.fromkeys((label for label, _ in MESSAGE_KINDS), 0)
    for message in messages:
        for label, roles in MESSAGE_KINDS:
            if message.get("role") in roles:
                totals[label] += tokenizer.count_message(message)
    return totals


def _percent(before: int, after: int) -> str:
    return f"{100.0 * (before - after) / before:.1f}%" if before else ""


def _percent_of(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.1f}%" if whole else ""


def _usd(value: float | None) -> str:
    return "unknown" if value is None else f"${value:.4f}"
