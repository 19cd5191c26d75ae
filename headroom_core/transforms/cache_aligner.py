"""Prompt-prefix stabilisation, so provider prompt caches hit from one request to the next.

Provider caches match the request byte for byte from its start. A system prompt that says
"Today is Monday, January 6, 2025" or carries a request id changes every request, so nothing after
it is ever served from cache. The aligner replaces such values in the system prompt with stable
placeholders (``[date-1]``) and states the values once, in a context block at the start of the
last user message.

Why there: everything before the last user message (system prompt and earlier turns) is what the
next request repeats, so it must not move; the last user message is new in every request anyway.
A separate system note would not do: Anthropic hoists every system message into its ``system``
field, which precedes all messages, and a user note of its own would break Anthropic's
user/assistant alternation. A text block inside the last user message keeps both formats valid and
leaves the user's own text verbatim in its own block.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from headroom_core._textmemo import BoundedMemo
from headroom_core._volatile import find_volatile
from headroom_core.config import CacheAlignerConfig
from headroom_core.messages import content_text, last_user_index, validate_messages, with_content
from headroom_core.providers.anthropic_format import has_cache_control
from headroom_core.providers.base import Provider
from headroom_core.results import TransformResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._units import SYSTEM_ROLES
from headroom_core.transforms.base import Transform

__all__ = ["CacheAligner"]

CONTEXT_PREFIX = "[Context: "
_NOTE_PLACES = 4096  # conversations whose context block placement is remembered
_CODE_FENCE = re.compile(r"(```.*?(?:```|\Z))", re.DOTALL)
_INNER_SPACES = re.compile(r"(?<=\S)[ \t]{2,}")
_TRAILING_SPACES = re.compile(r"[ \t]+$", re.MULTILINE)
_BLANK_LINES = re.compile(r"\n{3,}")


def normalize_whitespace(text: str) -> str:
    """Collapse space runs inside lines, trailing spaces and extra blank lines; code fences and
    leading indentation stay as they are."""
    pieces = _CODE_FENCE.split(text)
    for index in range(0, len(pieces), 2):  # odd pieces are fenced code
        piece = _TRAILING_SPACES.sub("", _INNER_SPACES.sub(" ", pieces[index]))
        pieces[index] = _BLANK_LINES.sub("\n\n", piece)
    return "".join(pieces)


class CacheAligner(Transform):
    """Move volatile values out of the system prompt and mark the stable prefix for caching.

    Dates and times (ISO 8601, RFC 2822, "Monday, January 6, 2025", ...), UUIDs, request / session
    / trace ids, counters such as "request #4521" and unix timestamps next to a date word are
    replaced in the leading system messages by placeholders; one ``[Context: date-1 = ...]`` block
    at the start of the last user message keeps their values, and stays on that message in later
    requests of the conversation while the values hold (the aligner remembers where it put
    them), so a multi-turn chat repeats its earlier turns byte for byte; a request that will need
    fitting gets it on its last user message. Whitespace in the system prompt is
    normalised outside fenced code. With a provider whose ``cache_hints()["cache_control"]`` is
    True (Anthropic), the last message before the last user message gets an ephemeral
    ``cache_control`` breakpoint once the stable prefix reaches ``stable_prefix_min_tokens``,
    unless the request already holds one (the caller placed its breakpoints); other providers
    only get the stable-first ordering. Idempotent.

    ``details``: ``moved`` (``[{"placeholder", "kind", "value", "message_index"}]``),
    ``stable_prefix_hash`` (sha256 of the canonical stable prefix; ``cache_control`` marks are
    ignored) and ``stable_prefix_tokens``.

    Args:
        config: What to extract and normalise; defaults to :class:`CacheAlignerConfig`.
        provider: Decides whether ``cache_control`` breakpoints are written.

    Examples:
        >>> aligner = CacheAligner()
        >>> result = aligner.align([
        ...     {"role": "system", "content": "You help. Today is Monday, January 6, 2025."},
        ...     {"role": "user", "content": "What day is it?"},
        ... ])
        >>> result.messages[0]["content"]
        'You help. Today is [date-1].'
        >>> result.messages[1]["content"][0]["text"]
        '[Context: date-1 = Monday, January 6, 2025]'
    """

    name: ClassVar[str] = "cache_aligner"

    def __init__(
        self, config: CacheAlignerConfig | None = None, *, provider: Provider | None = None
    ) -> None:
        self.config = config or CacheAlignerConfig()
        self.provider = provider
        # (note, the conversation up to a user message) -> True: the note was shown there
        self._note_places: BoundedMemo[bool] = BoundedMemo(_NOTE_PLACES)

    def apply(
        self, messages: Sequence[dict[str, Any]], tokenizer: Tokenizer | None = None, **context: Any
    ) -> TransformResult:
        """Align ``messages`` (see :meth:`align`); ``max_tokens`` in ``context`` is what the
        request must fit without context fitting."""
        return self.align(
            messages,
            tokenizer=self.resolve_tokenizer(tokenizer, context),
            max_tokens=context.get("max_tokens"),
        )

    def align(
        self,
        messages: Sequence[dict[str, Any]],
        *,
        tokenizer: Tokenizer | None = None,
        max_tokens: int | None = None,
    ) -> TransformResult:
        """Return the aligned messages, what moved and the stable prefix's hash and size.

        ``max_tokens``: when the request is over it, context fitting will drop older turns, so
        the context block goes on the last user message, which fitting keeps.
        """
        messages = validate_messages(messages)
        tokenizer = tokenizer or get_tokenizer()
        tokens_before = tokenizer.count_messages(messages)
        if not self.config.enabled:
            return self._result(messages, messages, tokens_before, tokenizer, moved=[])

        aligned = list(messages)
        system_stop = _system_stop(aligned)
        moved: list[dict[str, Any]] = []
        numbering: Counter[str] = Counter()
        for index in range(system_stop):
            text = content_text(aligned[index])
            if text.startswith(CONTEXT_PREFIX):
                continue  # the block written by an earlier alignment
            new_text = text
            if self.config.extract_dates:
                new_text = _extract(new_text, index, numbering, moved)
            if self.config.normalize_whitespace:
                new_text = normalize_whitespace(new_text)
            if new_text != text:
                aligned[index] = with_content(aligned[index], new_text)
        if moved:
            aligned = self._add_context_block(aligned, system_stop, moved, tokenizer, max_tokens)
        if self._marks_cache(aligned, tokenizer):
            aligned = _mark_breakpoint(aligned)
        return self._result(messages, aligned, tokens_before, tokenizer, moved=moved)

    def _add_context_block(
        self,
        messages: list[dict[str, Any]],
        system_stop: int,
        moved: list[dict[str, Any]],
        tokenizer: Tokenizer,
        max_tokens: int | None,
    ) -> list[dict[str, Any]]:
        """Put the moved values in one block at the start of a user message: the one that showed
        the same block in an earlier request of this conversation, else the last one."""
        note = (
            CONTEXT_PREFIX
            + "; ".join(f"{item['placeholder']} = {item['value']}" for item in moved)
            + "]"
        )
        users = [i for i in range(system_stop, len(messages)) if messages[i].get("role") == "user"]
        if not users:
            return [
                *messages[:system_stop],
                {"role": "system", "content": note},
                *messages[system_stop:],
            ]
        places = _conversation_keys(messages, users, note)
        shown = next((i for i in users[:-1] if self._note_places.get(places[i])), None)
        if shown is not None:
            placed = _with_note(messages, shown, note)
            if max_tokens is None or tokenizer.count_messages(placed) <= max_tokens:
                return placed
        self._note_places.put(places[users[-1]], True)
        return _with_note(messages, users[-1], note)

    def _marks_cache(self, messages: list[dict[str, Any]], tokenizer: Tokenizer) -> bool:
        if self.provider is None or not self.provider.cache_hints().get("cache_control"):
            return False
        if any(has_cache_control(message) for message in messages):
            return False  # the caller placed the breakpoints (at most 4 are allowed)
        prefix = _stable_prefix(messages)
        return (
            bool(prefix)
            and _prefix_tokens(prefix, tokenizer) >= self.config.stable_prefix_min_tokens
        )

    def _result(
        self,
        original: list[dict[str, Any]],
        aligned: list[dict[str, Any]],
        tokens_before: int,
        tokenizer: Tokenizer,
        moved: list[dict[str, Any]],
    ) -> TransformResult:
        prefix = _stable_prefix(aligned)
        changed = aligned != original
        return TransformResult(
            messages=aligned,
            tokens_before=tokens_before,
            tokens_after=tokenizer.count_messages(aligned) if changed else tokens_before,
            transforms_applied=[self.name] if changed else [],
            description=f"moved {len(moved)} volatile value(s) out of the prefix"
            if moved
            else "prefix already stable",
            details={
                "moved": moved,
                "stable_prefix_hash": _prefix_hash(prefix),
                "stable_prefix_tokens": _prefix_tokens(prefix, tokenizer),
            },
        )


def _system_stop(messages: Sequence[Mapping[str, Any]]) -> int:
    index = 0
    while index < len(messages) and messages[index].get("role") in SYSTEM_ROLES:
        index += 1
    return index


def _extract(text: str, index: int, numbering: Counter[str], moved: list[dict[str, Any]]) -> str:
    """Replace volatile values in ``text`` by numbered placeholders, recording each in ``moved``."""
    spans = find_volatile(text)
    if not spans:
        return text
    pieces: list[str] = []
    cursor = 0
    for span in spans:
        numbering[span.kind] += 1
        placeholder = f"{span.kind}-{numbering[span.kind]}"
        pieces.append(text[cursor : span.start])
        pieces.append(f"[{placeholder}]")
        cursor = span.end
        moved.append(
            {
                "placeholder": placeholder,
                "kind": span.kind,
                "value": span.value,
                "message_index": index,
            }
        )
    pieces.append(text[cursor:])
    return "".join(pieces)


def _with_note(messages: list[dict[str, Any]], index: int, note: str) -> list[dict[str, Any]]:
    """``messages`` with ``note`` as the first text block of user message ``index`` (and no
    block from an earlier alignment on any other)."""
    placed = []
    for position, message in enumerate(messages):
        parts = _without_note(message.get("content")) if message.get("role") == "user" else None
        if position == index:
            message = {**message, "content": [{"type": "text", "text": note}, *(parts or [])]}
        elif parts is not None and len(parts) != len(_parts(message.get("content"))):
            message = {**message, "content": parts}
        placed.append(message)
    return placed


def _parts(content: Any) -> list[Any]:
    return [{"type": "text", "text": content}] if isinstance(content, str) else list(content or [])


def _without_note(content: Any) -> list[Any]:
    """A user message's parts without a block from an earlier alignment."""
    parts = _parts(content)
    if (
        parts
        and isinstance(parts[0], Mapping)
        and str(parts[0].get("text", "")).startswith(CONTEXT_PREFIX)
    ):
        parts = parts[1:]
    return parts


def _conversation_keys(
    messages: Sequence[Mapping[str, Any]], users: Sequence[int], note: str
) -> dict[int, tuple[str, str]]:
    """For each user message, a key of ``note`` and the conversation up to that message (its
    earlier blocks from an alignment left out): the same in every request of one conversation."""
    digest = hashlib.sha256()
    keys: dict[int, tuple[str, str]] = {}
    wanted = set(users)
    for index, message in enumerate(messages[: users[-1] + 1]):
        if message.get("role") == "user":
            message = {**message, "content": _without_note(message.get("content"))}
        canonical = json.dumps(_canonical(message), sort_keys=True, ensure_ascii=False, default=str)
        digest.update(canonical.encode("utf-8"))
        if index in wanted:
            keys[index] = (note, digest.hexdigest())
    return keys


def _stable_prefix(messages: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Messages every later request repeats: all before the last user message, else the system."""
    user_index = last_user_index(messages)
    stop = user_index if user_index is not None else _system_stop(messages)
    return [
        m
        for m in messages[:stop]
        if not (m.get("role") in SYSTEM_ROLES and content_text(m).startswith(CONTEXT_PREFIX))
    ]


def _canonical(message: Mapping[str, Any]) -> dict[str, Any]:
    """``message`` without cache marks, a lone text part folded back into a string."""
    canonical = dict(message)
    content = canonical.get("content")
    if isinstance(content, list):
        parts = [
            {k: v for k, v in part.items() if k != "cache_control"}
            if isinstance(part, Mapping)
            else part
            for part in content
        ]
        if len(parts) == 1 and isinstance(parts[0], Mapping) and set(parts[0]) == {"type", "text"}:
            canonical["content"] = parts[0]["text"]
        else:
            canonical["content"] = parts
    return canonical


def _prefix_hash(prefix: Sequence[Mapping[str, Any]]) -> str:
    payload = json.dumps(
        [_canonical(m) for m in prefix], sort_keys=True, ensure_ascii=False, default=str
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _prefix_tokens(prefix: Sequence[Mapping[str, Any]], tokenizer: Tokenizer) -> int:
    return sum(tokenizer.count_message(_canonical(m)) for m in prefix)


def _mark_breakpoint(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Put an ephemeral ``cache_control`` on the last content block of the last stable message."""
    prefix_length = len(_stable_prefix(messages))
    for index in range(prefix_length - 1, -1, -1):
        message = messages[index]
        content = message.get("content")
        if not content or message.get("tool_calls"):
            continue  # a breakpoint on text followed by tool_use blocks would not end the prefix
        parts = _parts(content)
        last = parts[-1]
        if not isinstance(last, Mapping) or last.get("cache_control"):
            return messages
        parts[-1] = {**last, "cache_control": {"type": "ephemeral"}}
        marked = dict(message, content=parts)
        return [*messages[:index], marked, *messages[index + 1 :]]
    return messages
