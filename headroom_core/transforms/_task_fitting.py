"""Fitting one agent task: its older tool exchanges give way step by step, in stable batches.

An agent's task is one user message followed by many tool exchanges, so "keep the last turns"
keeps the whole run. Here the task's exchanges are the units: the newest ``keep`` stay as they
were compressed, the others are taken down a level at a time, least important first, until the
request fits with room to spare:

1. ``HARDER``: the output is crushed again from its original with a small token budget;
2. ``STUB``: the output is replaced by a stub that keeps the ``tool_call_id``, names the tool,
   says what size and kind of output was there, repeats its problem lines and gives the key
   under which the whole output can be fetched back;
3. ``BARE``: the stub's call also loses the assistant's text (its tool calls stay).

Every message keeps its place, so tool calls and results stay paired for OpenAI and Anthropic.
Levels are remembered per exchange (by the task, the exchange's content and the budget), so the
next step of the same run sends the same text for every older exchange and takes the next ones
down only when it must: the prompt prefix changes rarely and provider caches keep hitting.
Each batch goes below the budget by a reserve of a few steps' worth of room for that reason.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from headroom_core._textmemo import BoundedMemo, text_key
from headroom_core.messages import content_text, tool_call_arguments, with_content
from headroom_core.retrieval import is_retrievable
from headroom_core.tokenizer import REPLY_PRIMING_TOKENS, Tokenizer
from headroom_core.transforms._lines.severity import is_problem_line
from headroom_core.transforms.tool_outputs import argument_terms

if TYPE_CHECKING:
    from headroom_core.transforms.router import ContentRouter

__all__ = ["BARE", "HARDER", "NORMAL", "STUB", "Exchange", "TaskFit", "TaskFitter"]

NORMAL, HARDER, STUB, BARE = 0, 1, 2, 3
LEVEL_NAMES = {HARDER: "crushed_harder", STUB: "stubbed", BARE: "bare"}

HARDER_SHARE = 0.25  # a harder crush aims at this share of the output's normal size
MIN_HARDER_TOKENS = 120  # outputs this small are stubbed, not crushed again
RESERVE_STEPS = 3  # a batch leaves room for about this many more exchanges of the current size
RESERVE_SHARE = 0.35  # but never more than this share of the budget
MAX_PROBLEM_LINES = 8
MAX_PROBLEM_CHARS = 1_500
MAX_ARGUMENT_CHARS = 160
MESSAGE_OVERHEAD_TOKENS = 8  # what a message costs beyond its text
_TABULAR_KINDS = frozenset({"json", "log", "search"})
_STUB_PREFIX = "[Output of "
_STUB_MIDDLE = " left out to fit the context window: "


@dataclass(frozen=True)
class Exchange:
    """One tool exchange of the task: the assistant's call and the results answering it."""

    call: int
    results: tuple[int, ...]

    @property
    def positions(self) -> tuple[int, ...]:
        """Positions of all its messages."""
        return (self.call, *self.results)


@dataclass(frozen=True)
class Lowered:
    """What an exchange was sent as at a lower level: its messages' contents and their keys."""

    level: int
    contents: tuple[Any, ...]  # per message of the exchange
    keys: tuple[str | None, ...]  # per result


@dataclass
class TaskFit:
    """The fitted messages and what it took."""

    messages: list[dict[str, Any]]
    tokens: int
    levels: dict[str, int] = field(default_factory=dict)  # exchanges per level name
    retrieval_keys: list[str] = field(default_factory=list)
    reserve: int = 0
    changed: list[int] = field(default_factory=list)  # positions whose message was rewritten


class TaskFitter:
    """Take a task's older tool exchanges down, level by level, until the request fits.

    Args:
        router: Crushes outputs harder (through its memory of outcomes) and stores whole
            outputs for stubs in its originals store; no key is given when it has none.
        memory: Where each lowered exchange is remembered between steps (bounded).
    """

    def __init__(self, router: ContentRouter, memory: BoundedMemo[Lowered]) -> None:
        self._router = router
        self._memory = memory

    def fit(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        candidates: Sequence[Exchange],
        kept: Sequence[Exchange],
        budget: int,
        tokenizer: Tokenizer,
        query: str,
        task_key: Hashable,
        originals: Mapping[str, str],
    ) -> TaskFit:
        """Fit ``messages`` into ``budget`` by lowering ``candidates`` (least important first).

        ``kept`` are the newest exchanges (oldest first): they are lowered only as a last resort,
        and the newest one is never stubbed, only crushed to the room left when nothing else
        makes the request fit. ``originals`` maps tool-call ids to the outputs as the
        caller sent them (crushing harder starts from there, not from the compressed text).
        """
        run = _Run(self._router, messages, tokenizer, query, originals)
        exchanges = [*candidates, *kept]
        keys = {exchange: self._key(run, exchange, task_key, budget) for exchange in exchanges}
        for exchange in exchanges:  # what earlier steps of this run sent is sent again
            remembered = self._memory.get(keys[exchange])
            if remembered is not None:
                run.restore(exchange, remembered)
        reserve = _reserve(run, kept, budget)
        if run.total > budget:
            _lower_until(run, candidates, (HARDER, STUB, BARE), budget - reserve)
            # the last resorts: the kept exchanges, then the newest output to the room left
            _lower_until(run, kept[:-1], (HARDER, STUB), budget)
            if kept and run.total > budget:
                run.crush_to_fit(kept[-1], budget)
        for exchange in exchanges:
            if run.level_of(exchange) > NORMAL:
                self._memory.put(keys[exchange], run.snapshot(exchange))
        return TaskFit(
            messages=run.messages,
            tokens=run.total,
            levels=run.level_counts(),
            retrieval_keys=run.keys,
            reserve=reserve,
            changed=sorted(run.changed),
        )

    @staticmethod
    def _key(run: _Run, exchange: Exchange, task_key: Hashable, budget: int) -> Hashable:
        contents = tuple(text_key(content_text(run.messages[p])) for p in exchange.positions)
        return task_key, budget, run.call_ids(exchange), contents


def _lower_until(
    run: _Run, exchanges: Sequence[Exchange], levels: Sequence[int], target: int
) -> None:
    """Take ``exchanges`` down one level at a time, in order, until the request fits ``target``."""
    for level in levels:
        for exchange in exchanges:
            if run.total <= target:
                return
            run.lower(exchange, level)


def _reserve(run: _Run, kept: Sequence[Exchange], budget: int) -> int:
    """Room a batch leaves for the next steps: a few exchanges the size of the kept ones (the
    newest counts as the mean when it is bigger: it says most about the next)."""
    if not kept:
        return 0
    sizes = [sum(run.counts[p] for p in exchange.positions) for exchange in kept]
    step = max(sum(sizes) // len(sizes), sizes[-1])
    return min(int(budget * RESERVE_SHARE), RESERVE_STEPS * step)


class _Run:
    """The messages being fitted, their token counts and each exchange's level."""

    def __init__(
        self,
        router: ContentRouter,
        messages: Sequence[Mapping[str, Any]],
        tokenizer: Tokenizer,
        query: str,
        originals: Mapping[str, str],
    ) -> None:
        self.router = router
        self.messages = [dict(message) for message in messages]
        self.tokenizer = tokenizer
        self.query = query
        self.originals = originals
        self.counts = [tokenizer.count_message(message) for message in self.messages]
        self.total = REPLY_PRIMING_TOKENS + sum(self.counts)
        self._normal = [content_text(message) for message in self.messages]
        self._levels: dict[Exchange, int] = {}
        self._keys: dict[int, str] = {}  # retrieval key of each lowered result
        self.changed: set[int] = set()
        self._calls = tool_call_arguments(self.messages)

    def level_of(self, exchange: Exchange) -> int:
        return self._levels.get(exchange, NORMAL)

    def level_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for level in self._levels.values():
            if level > NORMAL:
                counts[LEVEL_NAMES[level]] = counts.get(LEVEL_NAMES[level], 0) + 1
        return counts

    @property
    def keys(self) -> list[str]:
        """Retrieval keys the lowered results show, in message order."""
        return [self._keys[p] for p in sorted(self._keys)]

    def restore(self, exchange: Exchange, lowered: Lowered) -> None:
        """Send ``exchange`` as an earlier step did, if its stored outputs are still there
        (otherwise it is lowered again, which stores them anew)."""
        keys = [key for key in lowered.keys if key is not None]
        store = self.router.store
        if keys and (store is None or not all(is_retrievable(store, key) for key in keys)):
            self.lower(exchange, lowered.level)
            return
        for position, content in zip(exchange.positions, lowered.contents, strict=True):
            if content != self.messages[position].get("content"):
                self._replace(position, {**self.messages[position], "content": content})
        for position, key in zip(exchange.results, lowered.keys, strict=True):
            if key is not None:
                self._keys[position] = key
        self._levels[exchange] = lowered.level

    def snapshot(self, exchange: Exchange) -> Lowered:
        """``exchange`` as it is now sent, to send it again at later steps."""
        return Lowered(
            level=self.level_of(exchange),
            contents=tuple(self.messages[p].get("content") for p in exchange.positions),
            keys=tuple(self._keys.get(p) for p in exchange.results),
        )

    def call_ids(self, exchange: Exchange) -> tuple[str, ...]:
        return tuple(str(self.messages[p].get("tool_call_id")) for p in exchange.results)

    def lower(self, exchange: Exchange, level: int) -> None:
        """Take ``exchange`` down to ``level`` (never back up); stubs already in place (a fitted
        request fitted again) count as stubs."""
        if exchange not in self._levels and all(
            is_stub(self._normal[p]) for p in exchange.results
        ):
            self._levels[exchange] = STUB
        current = self.level_of(exchange)
        if level <= current:
            return
        for position in exchange.results:
            if level == HARDER:
                self._crush_harder(position)
            elif current < STUB:
                self._replace(position, self._stub(position))
        if level == BARE and self.messages[exchange.call].get("content"):
            self._replace(exchange.call, {**self.messages[exchange.call], "content": None})
        self._levels[exchange] = level

    def _replace(self, position: int, message: dict[str, Any]) -> None:
        count = self.tokenizer.count_message(message)
        self.total += count - self.counts[position]
        self.counts[position] = count
        self.messages[position] = message
        self.changed.add(position)

    def _output(self, position: int) -> tuple[str, str, str]:
        """The tool's name, its call's arguments and the output as the caller sent it."""
        message = self.messages[position]
        call_id = str(message.get("tool_call_id"))
        name, arguments = self._calls.get(call_id, ("", ""))
        name = name or str(message.get("name") or "tool")
        return name, arguments, self.originals.get(call_id, content_text(message))

    def crush_to_fit(self, exchange: Exchange, budget: int) -> None:
        """Crush the results of ``exchange`` harder, to what room ``budget`` leaves them."""
        for position in exchange.results:
            room = budget - (self.total - self.counts[position])
            if room < self.counts[position]:
                self._crush_harder(position, max(1, room - MESSAGE_OVERHEAD_TOKENS))
        self._levels[exchange] = max(HARDER, self.level_of(exchange))

    def _crush_harder(self, position: int, target: int | None = None) -> None:
        """Crush a result again from its original, to ``target`` tokens (by default a share of
        its normal size); a table whose must-keep rows exceed that is then cut line by line."""
        message = self.messages[position]
        now = self.tokenizer.count_text(self._normal[position])
        if target is None:
            if now <= MIN_HARDER_TOKENS:
                return
            target = max(MIN_HARDER_TOKENS, int(now * HARDER_SHARE))
        name, arguments, original = self._output(position)
        query = " ".join(part for part in (self.query, name, argument_terms(arguments)) if part)
        tokenizer = self.tokenizer
        crushed = self.router.remembered.route(
            original, query=query, tokenizer=tokenizer, tool_name=name, token_budget=target
        )
        if crushed.tokens_after > target and self.router.detect(original) in _TABULAR_KINDS:
            by_line = self.router.crush_lines(
                crushed.compressed if crushed.changed else original,
                query=query,
                tokenizer=tokenizer,
                tool_name=name,
                token_budget=target,
            )
            if by_line.changed and by_line.tokens_after < crushed.tokens_after:
                crushed = by_line
        if crushed.changed and crushed.tokens_after < now:
            self._replace(position, with_content(message, crushed.compressed))
            if crushed.retrieval_key:
                self._keys[position] = crushed.retrieval_key

    def _stub(self, position: int) -> dict[str, Any]:
        """The stub message; its problem lines come from the output as normally compressed, so
        the stub reads the same whichever level the exchange was at before."""
        name, arguments, original = self._output(position)
        key = self._store(original, name)
        if key is not None:
            self._keys[position] = key
        stub = describe_stub(
            tool_name=name,
            arguments=arguments,
            tokens=self.tokenizer.count_text(original),
            kind=self.router.detect(original) if original.strip() else "text",
            lines=original.count("\n") + 1,
            problem_lines=problem_lines(self._normal[position]),
            retrieval_key=key,
        )
        return {**self.messages[position], "content": stub}

    def _store(self, original: str, tool_name: str) -> str | None:
        store = self.router.store
        if store is None:
            return None
        return store.put(original.split("\n"), tool_name=tool_name, kind="lines")


def describe_stub(
    *,
    tool_name: str,
    arguments: str,
    tokens: int,
    kind: str,
    lines: int,
    problem_lines: Sequence[str],
    retrieval_key: str | None,
) -> str:
    """The text that stands in for a tool output left out to fit the window.

    Examples:
        >>> print(describe_stub(tool_name="read_log", arguments='{"path": "app.log"}',
        ...     tokens=5120, kind="log", lines=800, problem_lines=["E42 disk full"],
        ...     retrieval_key=None))
        [Output of read_log({"path": "app.log"}) left out to fit the context window: 5,120 tokens
        of log, 800 lines. Its problem lines:
        E42 disk full
        ]
    """
    shown_arguments = arguments if len(arguments) <= MAX_ARGUMENT_CHARS else (
        arguments[:MAX_ARGUMENT_CHARS] + "…"
    )
    text = (
        f"{_STUB_PREFIX}{tool_name}({shown_arguments}){_STUB_MIDDLE}"
        f"{tokens:,} tokens of {kind}, {lines:,} line{'s' if lines != 1 else ''}."
    )
    if problem_lines:
        text += " Its problem lines:\n" + "\n".join(problem_lines) + "\n"
    if retrieval_key is not None:
        text += f' To read it again call headroom_retrieve with key "{retrieval_key}".'
    return text + "]"


def is_stub(text: str) -> bool:
    """Whether ``text`` is a stub written by :func:`describe_stub`."""
    return text.startswith(_STUB_PREFIX) and _STUB_MIDDLE in text.partition("\n")[0]


def problem_lines(text: str) -> list[str]:
    """The distinct problem lines of ``text`` (errors, warnings, failures), within a small cap;
    a last line says how many more there were."""
    found: list[str] = []
    seen: set[str] = set()
    size = 0
    more = 0
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped in seen or not is_problem_line(stripped):
            continue
        seen.add(stripped)
        if len(found) < MAX_PROBLEM_LINES and size + len(stripped) <= MAX_PROBLEM_CHARS:
            found.append(stripped)
            size += len(stripped)
        else:
            more += 1
    if more:
        found.append(f"[and {more} more problem line{'s' if more != 1 else ''}]")
    return found
