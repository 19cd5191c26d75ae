"""Atomic units and turns of a conversation, shared by the context-fitting transforms.

Fitting may only remove whole units, so that no tool call loses its results and no result loses
its call. A unit is one of:

- ``system``: one message of the leading system/developer block (the system prompt);
- ``user``: a user message;
- ``reply``: any other single message (a plain assistant reply, a later system note);
- ``tool``: an assistant message with ``tool_calls`` together with every tool message answering
  it (and anything that sits between them, so the span stays contiguous).

A turn is a user message and every unit up to the next user message; units before the first user
message form a turn of their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

from headroom_core.messages import content_text
from headroom_core.tokenizer import REPLY_PRIMING_TOKENS, Tokenizer

__all__ = [
    "Conversation",
    "Fit",
    "OmissionMarker",
    "Option",
    "Turn",
    "Unit",
    "assemble",
    "keep_within_budget",
    "split_conversation",
]

UnitKind = Literal["system", "user", "reply", "tool"]
SYSTEM_ROLES = frozenset({"system", "developer"})


class Unit(NamedTuple):
    """Messages ``start:stop`` that are kept or dropped together."""

    start: int
    stop: int
    kind: UnitKind

    @property
    def indices(self) -> range:
        """Positions of the unit's messages."""
        return range(self.start, self.stop)


@dataclass
class Turn:
    """A user message and the units that follow it, up to the next user message."""

    units: list[Unit] = field(default_factory=list)

    @property
    def start(self) -> int:
        """Position of the turn's first message."""
        return self.units[0].start

    @property
    def stop(self) -> int:
        """Position after the turn's last message."""
        return self.units[-1].stop

    @property
    def indices(self) -> range:
        """Positions of the turn's messages."""
        return range(self.start, self.stop)


@dataclass
class Conversation:
    """A request split into its system block and its turns."""

    system: list[Unit]
    turns: list[Turn]

    @property
    def system_indices(self) -> list[int]:
        """Positions of the system block's messages."""
        return [p for unit in self.system for p in unit.indices]


def split_conversation(messages: Sequence[Mapping[str, Any]]) -> Conversation:
    """Split validated messages into the system block and turns of atomic units."""
    last_answer = _last_answer_positions(messages)
    system: list[Unit] = []
    index = 0
    while index < len(messages) and messages[index].get("role") in SYSTEM_ROLES:
        system.append(Unit(index, index + 1, "system"))
        index += 1
    turns: list[Turn] = []
    current = Turn()
    while index < len(messages):
        message = messages[index]
        role = message.get("role")
        if role == "user" and current.units:
            turns.append(current)
            current = Turn()
        if role == "user":
            unit = Unit(index, index + 1, "user")
        elif role == "assistant" and message.get("tool_calls"):
            ids = [
                str(call.get("id")) for call in message["tool_calls"] if isinstance(call, Mapping)
            ]
            stop = max([index + 1, *(last_answer.get(call_id, index) + 1 for call_id in ids)])
            unit = Unit(index, stop, "tool")
        else:
            unit = Unit(index, index + 1, "reply")
        current.units.append(unit)
        index = unit.stop
    if current.units:
        turns.append(current)
    return Conversation(system=system, turns=turns)


def _last_answer_positions(messages: Sequence[Mapping[str, Any]]) -> dict[str, int]:
    """Map each tool-call id to the position of the last tool message answering it."""
    positions: dict[str, int] = {}
    for index, message in enumerate(messages):
        if message.get("role") == "tool" and message.get("tool_call_id") is not None:
            positions[str(message["tool_call_id"])] = index
    return positions


_MARKER_PREFIX = "[Earlier conversation omitted to fit the context window:"
_MARKER_NUMBERS = re.compile(r"(\d+) messages? \((\d+) whole turns?\), about ([\d,]+) tokens")


@dataclass(frozen=True)
class OmissionMarker:
    """The short system note that says what fitting dropped.

    A system message is the one note both OpenAI (any position) and Anthropic (hoisted into the
    system prompt, so user/assistant alternation is untouched) accept right after the system
    prompt. A marker left by an earlier fitting is recognised and its counts carried over, so
    fitting its own output again neither stacks notes nor forgets what was dropped before.
    """

    messages: int = 0
    turns: int = 0
    tokens: int = 0

    @staticmethod
    def is_marker(message: Mapping[str, Any]) -> bool:
        """Whether ``message`` is a marker written by a fitting transform."""
        return message.get("role") == "system" and content_text(message).startswith(_MARKER_PREFIX)

    @classmethod
    def parse(cls, message: Mapping[str, Any]) -> OmissionMarker:
        """The counts stated by an existing marker."""
        found = _MARKER_NUMBERS.search(content_text(message))
        if found is None:
            return cls()
        return cls(int(found[1]), int(found[2]), int(found[3].replace(",", "")))

    def plus(self, messages: int, turns: int, tokens: int) -> OmissionMarker:
        """These counts with more dropped material added."""
        return OmissionMarker(self.messages + messages, self.turns + turns, self.tokens + tokens)

    def message(self) -> dict[str, Any]:
        """The marker as a system message."""
        text = (
            f"{_MARKER_PREFIX} {self.messages} message{'s' if self.messages != 1 else ''} "
            f"({self.turns} whole turn{'s' if self.turns != 1 else ''}), "
            f"about {self.tokens:,} tokens.]"
        )
        return {"role": "system", "content": text}

    def cost(self, tokenizer: Tokenizer) -> int:
        """Tokens the marker message costs."""
        return tokenizer.count_message(self.message())


class Option(NamedTuple):
    """Messages a fitting may keep: ``positions``, plus ``requires`` (kept along with them)."""

    positions: Sequence[int]
    requires: Sequence[int] = ()


@dataclass
class Fit:
    """What a fitting keeps, and the marker that reports what it dropped."""

    dropped: set[int]
    marker: OmissionMarker | None
    tokens: int
    dropped_turns: int = 0
    dropped_tokens: int = 0

    def details(self, budget: int) -> dict[str, Any]:
        """What the fitting dropped, and whether the kept minimum still exceeds ``budget``."""
        return {
            "dropped_messages": len(self.dropped),
            "dropped_turns": self.dropped_turns,
            "dropped_tokens": self.dropped_tokens,
            "over_budget": self.tokens > budget,
        }


def keep_within_budget(
    messages: Sequence[Mapping[str, Any]],
    conversation: Conversation,
    budget: int,
    tokenizer: Tokenizer,
    *,
    fixed: Iterable[int],
    options: Iterable[Option],
    total: int,
    skip_misfits: bool,
    message_tokens: Sequence[int] | None = None,
) -> Fit:
    """Keep ``fixed`` positions, then ``options`` in priority order while the request fits.

    Counts only what it considers keeping, so fitting a long conversation into a small window
    costs in proportion to the window. Room for the omission marker is reserved up front. With
    ``skip_misfits`` an option too big for the room left is passed over and smaller ones are still
    tried; otherwise the first misfit ends the selection. ``total`` is the token count of the whole
    request (``tokenizer.count_messages(messages)``); ``tokens`` of the result is exact.
    ``message_tokens``, when the caller knows them, are the counts of every message.
    """
    counts = dict(enumerate(message_tokens)) if message_tokens is not None else {}

    def count(position: int) -> int:
        if position not in counts:
            counts[position] = tokenizer.count_message(messages[position])
        return counts[position]

    previous = OmissionMarker()
    old_markers = set()
    for unit in conversation.system:
        if OmissionMarker.is_marker(messages[unit.start]):
            previous = OmissionMarker.parse(messages[unit.start])
            old_markers.add(unit.start)
    kept = {position for position in fixed if position not in old_markers}
    used = REPLY_PRIMING_TOKENS + sum(count(position) for position in kept)
    reserve = previous.plus(len(messages), len(conversation.turns), total).cost(tokenizer)
    for option in options:
        fresh = [p for p in (*option.requires, *option.positions) if p not in kept]
        cost = sum(count(position) for position in fresh)
        if used + reserve + cost <= budget:
            kept.update(fresh)
            used += cost
        elif not skip_misfits:
            break
    dropped = {p for p in range(len(messages)) if p not in kept and p not in old_markers}
    if not dropped:
        return Fit(dropped=set(), marker=None, tokens=used + sum(map(count, old_markers)))
    dropped_tokens = total - used - sum(map(count, old_markers))
    turns = sum(1 for turn in conversation.turns if not any(p in kept for p in turn.indices))
    marker = previous.plus(len(dropped), turns, dropped_tokens)
    return Fit(
        dropped=dropped,
        marker=marker,
        tokens=used + marker.cost(tokenizer),
        dropped_turns=turns,
        dropped_tokens=dropped_tokens,
    )


def assemble(
    messages: Sequence[dict[str, Any]],
    conversation: Conversation,
    dropped: set[int],
    marker: OmissionMarker | None,
    frozen: int = 0,
) -> list[dict[str, Any]]:
    """Kept messages in order; ``marker`` replaces any old marker at the end of the system block,
    or after the first ``frozen`` messages when they reach further (they stay as they were)."""
    system_stop = conversation.system[-1].stop if conversation.system else 0
    split = max(system_stop, min(frozen, len(messages)))
    head = [(i, messages[i]) for i in range(split) if i not in dropped]
    if marker is not None:
        head = [(i, m) for i, m in head if i < frozen or not OmissionMarker.is_marker(m)]
        head.append((split, marker.message()))
    kept = [message for _, message in head]
    return kept + [messages[i] for i in range(split, len(messages)) if i not in dropped]
