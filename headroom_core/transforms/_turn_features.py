"""What importance fitting needs to know about each turn, remembered across requests.

A chat is re-sent every turn with one more exchange at the end, so nearly every turn of a request
was seen before. Each turn's features (token counts, identifier-like terms, droppable pieces with
their text and error flag) are remembered by the turn's content: a re-fit computes them only for
new turns. A turn is keyed by a hash of its contents, so no text is kept for the key, and the
memo is bounded; a remembered piece keeps only the head of its text that relevance is judged on.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from headroom_core._textmemo import BoundedMemo, text_memo
from headroom_core.messages import content_text, tool_call_arguments
from headroom_core.tokenizer import Tokenizer
from headroom_core.transforms._units import Turn
from headroom_core.transforms.toin import salient_terms

__all__ = ["RELEVANCE_CHARS", "Piece", "TurnFeatures", "turn_features"]

RELEVANCE_CHARS = 20_000  # relevance is judged on the head of very long pieces (bounds the cost)
_ERROR = re.compile(
    r"\b(?:error|errors|exception|traceback|failed|failure|fatal|panic|denied|refused"
    r"|timed? ?out)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Piece:
    """A droppable piece of a turn: its own messages (user message, replies), or one tool
    exchange, which ``requires`` the turn's own messages: results never stand without their
    question. Positions are relative to the turn's first message."""

    positions: tuple[int, ...]
    requires: tuple[int, ...]
    kind: str
    relevance_text: str
    tool_names: tuple[str, ...]
    has_error: bool  # flagged as an error result, or error words in its text
    terms: frozenset[str]  # identifier-like terms of its messages
    later_terms: frozenset[str]  # those of the turn's messages after its last one


@dataclass(frozen=True)
class TurnFeatures:
    """Per message of a turn its token count; the turn's identifier-like terms; its pieces."""

    tokens: tuple[int, ...]
    terms: frozenset[str]
    pieces: tuple[Piece, ...]
    call_ids: frozenset[str]  # ids of the tool calls its messages make


# Per turn about 20 KB for a turn with a tool result of a few thousand tokens; pieces keep at most
# RELEVANCE_CHARS of text each.
_MEMO: BoundedMemo[TurnFeatures] = BoundedMemo(maxsize=1024)


def turn_features(
    messages: Sequence[Mapping[str, Any]],
    turn: Turn,
    tokenizer: Tokenizer,
    names: Mapping[str, tuple[str, str]] | None = None,
) -> TurnFeatures:
    """The features of ``turn`` of ``messages``, remembered by the turn's content.

    Tool names and arguments come from the turn's own calls, or from ``names`` (call id ->
    (name, arguments)) when given; features computed from ``names`` are not remembered.
    """
    key = _turn_key(messages, turn, tokenizer) if names is None else None
    found = _MEMO.get(key) if key is not None else None
    if found is not None:
        return found
    turn_messages = messages[turn.start : turn.stop]
    own_calls = tool_call_arguments(turn_messages)
    calls = own_calls if names is None else names
    features = _compute(turn_messages, turn, tokenizer, calls, frozenset(own_calls))
    if key is not None:
        _MEMO.put(key, features)
    return features


def _turn_key(messages: Sequence[Mapping[str, Any]], turn: Turn, tokenizer: Tokenizer) -> Hashable:
    """Everything the features depend on.

    A turn's units follow from its messages alone (a tool exchange never spans two turns), so
    its messages' contents and how the counter counts are all it takes.
    """
    contents = tuple(map(_content_key, messages[turn.start : turn.stop]))
    # only the hash is kept, as for long texts: no text stays alive, and a lookup does not hash
    # and compare the nested contents again
    return tokenizer.counting_key, len(contents), hash(contents)


def _content_key(message: Mapping[str, Any]) -> tuple[Hashable, ...]:
    """A message's fields and values, any value other than text by its type and repr."""
    values = [
        value if type(value) is str or value is None else (type(value), repr(value))
        for value in message.values()
    ]
    return tuple(message), tuple(values)


def _compute(
    messages: Sequence[Mapping[str, Any]],
    turn: Turn,
    tokenizer: Tokenizer,
    names: Mapping[str, tuple[str, str]],
    call_ids: frozenset[str],
) -> TurnFeatures:
    terms = tuple(salient_terms(_searchable_text(message)) for message in messages)
    start = turn.start
    own = [unit for unit in turn.units if unit.kind != "tool"]
    skeleton = tuple(p - start for unit in own for p in unit.indices)
    pieces: list[Piece] = []
    if skeleton:  # a turn can be tool exchanges only (calls made before any user message)
        kind = "user" if any(unit.kind == "user" for unit in own) else "reply"
        text = "\n".join(content_text(messages[p]) for p in skeleton)
        pieces.append(_piece(skeleton, (), kind, text, (), False, terms))
    for unit in turn.units:
        if unit.kind != "tool":
            continue
        texts, tools, is_error = [], [], False
        positions = tuple(p - start for p in unit.indices)
        for position in positions:
            message = messages[position]
            texts.append(content_text(message))
            for call in message.get("tool_calls") or []:
                tool, arguments = names.get(str(call.get("id")), ("", ""))
                tools.append(tool)
                texts.append(arguments)
            is_error = is_error or bool(message.get("is_error"))
        pieces.append(
            _piece(positions, skeleton, "tool", "\n".join(texts), tuple(tools), is_error, terms)
        )
    return TurnFeatures(
        tokens=tuple(map(tokenizer.count_message, messages)),
        terms=frozenset().union(*terms),
        pieces=tuple(pieces),
        call_ids=call_ids,
    )


def _piece(
    positions: tuple[int, ...],
    requires: tuple[int, ...],
    kind: str,
    text: str,
    tool_names: tuple[str, ...],
    is_error: bool,
    terms: Sequence[frozenset[str]],
) -> Piece:
    return Piece(
        positions=positions,
        requires=requires,
        kind=kind,
        relevance_text=text[:RELEVANCE_CHARS],
        tool_names=tool_names,
        has_error=is_error or _has_error(text),
        terms=frozenset().union(*(terms[p] for p in positions)),
        later_terms=frozenset().union(*terms[positions[-1] + 1 :]),
    )


@text_memo(maxsize=4096)
def _has_error(text: str) -> bool:
    return bool(_ERROR.search(text))


def _searchable_text(message: Mapping[str, Any]) -> str:
    """A message's text with the arguments of its tool calls."""
    text = content_text(message)
    for call in message.get("tool_calls") or []:
        arguments = (call.get("function") or {}).get("arguments")
        if isinstance(arguments, str):
            text += "\n" + arguments
    return text
