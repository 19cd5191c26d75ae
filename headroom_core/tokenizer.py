"""Token counting: exact for OpenAI models (tiktoken, offline), a marked estimate for the rest.

Message counts follow OpenAI's published chat accounting: 3 tokens per message, every string
field encoded, 1 more for a ``name``, 3 to prime the reply; tool definitions use the published
function-accounting constants. Counts are cached by content, so recounting a growing conversation
only encodes what is new.
"""

from __future__ import annotations

import contextlib
import copy
import json
import threading
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import tiktoken

from headroom_core._catalog import find_model
from headroom_core._token_cuts import safe_cut
from headroom_core._vocab import get_encoding

__all__ = ["Tokenizer", "count_tokens_messages", "count_tokens_text", "get_tokenizer"]

Message = Mapping[str, Any]

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING_TOKENS = 3
IMAGE_PART_TOKENS = 85  # an image at "low" detail; high detail depends on its size
TOOL_CALL_OVERHEAD = 3
# Conversations remembered per counter: a request before and after optimisation, and a few more.
MEMOS_PER_TOKENIZER = 4
# Larger conversations are not remembered (their copy would cost more memory than it saves time).
MEMO_MAX_BYTES = 16 * 2**20
# Texts longer than this are cached under (length, hash) so the caches never hold big outputs.
LONG_TEXT = 1024
# Huge texts are counted in pieces of about this many characters (one buffer of ids each).
# Not smaller: a count on a worker thread waits for the interpreter lock between pieces.
PIECE_CHARS = 1 << 20

# Ratio of a provider's own token count to o200k_base's on English prose and JSON.
# Claude's tokenizer is denser than o200k; Gemini's is close to it. Used only where no exact
# count exists, and such counters say so (``is_exact`` is False).
ESTIMATE_FACTORS = {"anthropic": 1.15, "google": 1.05}


class _BoundedCache:
    """A dict bounded by entry count; the oldest insertions go first. Thread-safe enough for
    counters: a lost race only costs a recount."""

    __slots__ = ("_data", "_limit")

    def __init__(self, limit: int) -> None:
        self._data: dict[Any, int] = {}
        self._limit = limit

    def get(self, key: Any) -> int | None:
        return self._data.get(key)

    def put(self, key: Any, value: int) -> None:
        data = self._data
        if len(data) >= self._limit:
            with contextlib.suppress(StopIteration, KeyError, RuntimeError):
                del data[next(iter(data))]
        data[key] = value


_caches_lock = threading.Lock()
_text_caches: dict[str, _BoundedCache] = {}
_message_caches: dict[str, _BoundedCache] = {}


def _cache(registry: dict[str, _BoundedCache], encoding: str, limit: int) -> _BoundedCache:
    cache = registry.get(encoding)
    if cache is None:
        with _caches_lock:
            cache = registry.setdefault(encoding, _BoundedCache(limit))
    return cache


class Tokenizer:
    """Count tokens for one model.

    Args:
        model: Model name; OpenAI models get exact counts, Claude and Gemini an estimate.
        encoding: Force a tiktoken encoding (``o200k_base`` or ``cl100k_base``).

    Examples:
        >>> Tokenizer("gpt-4o").count_text("Hello, world!")
        4
    """

    def __init__(self, model: str = "gpt-4o", *, encoding: str | None = None) -> None:
        self.model = model
        info = find_model(model)
        provider = info.provider if info is not None else None
        if encoding is None:
            encoding = (info.encoding if info is not None else None) or "o200k_base"
        self.encoding_name = encoding
        self.is_exact = provider == "openai" or (provider is None and _looks_openai(model))
        self.estimate_factor = 1.0 if self.is_exact else ESTIMATE_FACTORS.get(provider or "", 1.0)
        self._encoding: tiktoken.Encoding | None = None
        self._text_cache = _cache(_text_caches, encoding, 4096)
        self._message_cache = _cache(_message_caches, encoding, 50_000)
        self._function_init = 10 if encoding == "cl100k_base" else 7
        self._memos: tuple[_ConversationMemo, ...] = ()

    def __repr__(self) -> str:
        return (
            f"Tokenizer(model={self.model!r}, encoding={self.encoding_name!r}, "
            f"is_exact={self.is_exact})"
        )

    @property
    def counting_key(self) -> tuple[Any, ...]:
        """What this counter's counts depend on: memos of counted work key on it."""
        return (type(self), self.encoding_name, self.estimate_factor)

    @property
    def encoding(self) -> tiktoken.Encoding:
        """The tiktoken encoder (loaded offline on first use, shared per process)."""
        if self._encoding is None:
            self._encoding = get_encoding(self.encoding_name)
        return self._encoding

    def _scale(self, count: int) -> int:
        return count if self.estimate_factor == 1.0 else round(count * self.estimate_factor)

    def _encode_len(self, text: str) -> int:
        if len(text) < 64:
            return len(self.encoding.encode_ordinary(text))
        key = _text_key(text)
        cached = self._text_cache.get(key)
        if cached is None:
            if len(text) < LONG_TEXT:
                cached = len(self.encoding.encode_ordinary(text))
            else:
                cached = self._count_long(text)
            self._text_cache.put(key, cached)
        return cached

    def _count_long(self, text: str) -> int:
        """Tokens of a long text: counted into numpy buffers (4 bytes a token, not a list of
        int objects), a piece at a time where the count splits exactly (see ``safe_cut``)."""
        encode = self.encoding.encode_to_numpy
        total, start = 0, 0
        while len(text) - start > 2 * PIECE_CHARS:
            cut = safe_cut(text, start + PIECE_CHARS, start + 2 * PIECE_CHARS)
            if cut is None:
                break
            total += len(encode(text[start:cut], disallowed_special=()))
            start = cut
        return total + len(encode(text[start:] if start else text, disallowed_special=()))

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (special tokens are treated as plain text)."""
        return self.encoding.encode_ordinary(text)

    def count_text(self, text: str) -> int:
        """Tokens in ``text`` (special-token strings count as plain text)."""
        if not text:
            return 0
        return self._scale(self._encode_len(text))

    def count_message(self, message: Message) -> int:
        """Tokens one chat message costs, its per-message overhead included."""
        key = _message_key(message)
        cached = self._message_cache.get(key) if key is not None else None
        if cached is None:
            cached = self._count_message_uncached(message)
            if key is not None:
                self._message_cache.put(key, cached)
        return self._scale(cached)

    def count_messages(
        self, messages: Iterable[Message], tools: Sequence[Mapping[str, Any]] | None = None
    ) -> int:
        """Tokens a chat request costs: every message, reply priming and any tool definitions.

        A conversation that only grew since the last call is recounted by comparing its earlier
        messages with a private copy of them, then counting just the new ones.
        """
        messages = messages if isinstance(messages, list) else list(messages)
        memos = self._memos
        memo = max((m for m in memos if m.covers(messages)), key=len, default=None)
        total, start = (memo.total, len(memo)) if memo is not None else (REPLY_PRIMING_TOKENS, 0)
        new = messages[start:]
        count = self.count_message
        for message in new:
            total += count(message)
        grown = _ConversationMemo.extend(memo, new, total) if new else None
        if grown is not None:
            used = () if memo is None else (memo,)
            rest = (m for m in memos if m is not memo)
            self._memos = (grown, *used, *rest)[:MEMOS_PER_TOKENIZER]
        if tools:
            total += self.count_tools(tools)
        return total

    def count_tools(self, tools: Sequence[Mapping[str, Any]]) -> int:
        """Tokens of OpenAI function-tool definitions, by the published accounting."""
        total = 0
        for tool in tools:
            function = tool.get("function", tool)
            total += self._function_init
            description = str(function.get("description", "")).removesuffix(".")
            total += self._encode_len(f"{function.get('name', '')}:{description}")
            properties = (function.get("parameters") or {}).get("properties") or {}
            if properties:
                total += 3
                for key, spec in properties.items():
                    total += 3
                    spec = spec if isinstance(spec, Mapping) else {}
                    if "enum" in spec:
                        total -= 3
                        for item in spec["enum"]:
                            total += 3 + self._encode_len(str(item))
                    prop_description = str(spec.get("description", "")).removesuffix(".")
                    total += self._encode_len(f"{key}:{spec.get('type', '')}:{prop_description}")
        return self._scale(total + 12) if tools else 0

    def _count_message_uncached(self, message: Message) -> int:
        total = TOKENS_PER_MESSAGE
        for key, value in message.items():
            if value is None:
                continue
            if isinstance(value, str):
                total += self._encode_len(value)
                if key == "name":
                    total += TOKENS_PER_NAME
            elif key == "content":
                total += self._count_parts(value)
            elif key == "tool_calls":
                total += self._count_tool_calls(value)
            elif key == "function_call" and isinstance(value, Mapping):
                total += self._count_tool_calls([{"function": value}])
        return total

    def _count_parts(self, parts: Any) -> int:
        total = 0
        for part in parts if isinstance(parts, list) else [parts]:
            if isinstance(part, str):
                total += self._encode_len(part)
            elif isinstance(part, Mapping):
                kind = part.get("type")
                if kind == "text" or "text" in part:
                    total += self._encode_len(str(part.get("text", "")))
                elif kind in ("image_url", "image", "input_image"):
                    total += IMAGE_PART_TOKENS
                else:
                    total += self._encode_len(json.dumps(part, ensure_ascii=False, default=str))
        return total

    def _count_tool_calls(self, calls: Any) -> int:
        total = 0
        for call in calls or []:
            if not isinstance(call, Mapping):
                continue
            function = call.get("function") or {}
            arguments = function.get("arguments", "")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False, default=str)
            total += TOOL_CALL_OVERHEAD + self._encode_len(str(function.get("name", "")))
            total += self._encode_len(arguments)
        return total


class _ConversationMemo:
    """A conversation counted before: a private copy of its messages and their total.

    The copy has its own dicts and lists, so a message changed in place since the last count no
    longer compares equal and is counted again; strings and numbers are immutable and shared,
    so remembering a conversation costs its containers, not a second copy of its text.
    """

    __slots__ = ("nbytes", "snapshot", "total")

    def __init__(self, snapshot: list[Any], total: int, nbytes: int) -> None:
        self.snapshot = snapshot
        self.total = total
        self.nbytes = nbytes

    def __len__(self) -> int:
        return len(self.snapshot)

    def covers(self, messages: list[Any]) -> bool:
        """Whether ``messages`` starts with exactly the remembered conversation."""
        size = len(self.snapshot)
        if size == 0 or size > len(messages) or self.snapshot[-1] != messages[size - 1]:
            return False  # the cheap test first: branches differ at their last message
        return self.snapshot == messages[:size]

    @classmethod
    def extend(
        cls, memo: _ConversationMemo | None, new: list[Any], total: int
    ) -> _ConversationMemo | None:
        """The memo grown by ``new`` messages (None when they cannot be copied or are too big)."""
        copier = _StructureCopy()
        try:
            copied = copier.copy(new)
        except Exception:  # any object may sit in a message; such requests are just not memoised
            return None
        nbytes = copier.nbytes + (memo.nbytes if memo is not None else 0)
        if nbytes > MEMO_MAX_BYTES:
            return None
        return cls(memo.snapshot + copied if memo is not None else copied, total, nbytes)


class _StructureCopy:
    """Copies the dicts, lists and tuples of a value and shares its immutable leaves, adding up
    the text those leaves hold (``nbytes``); other objects are deep-copied."""

    __slots__ = ("nbytes",)

    _SHARED = (str, int, float, bool, type(None))

    def __init__(self) -> None:
        self.nbytes = 0

    def copy(self, value: Any) -> Any:
        kind = type(value)
        if kind is str:
            self.nbytes += len(value)
            return value
        if kind in self._SHARED:
            return value
        if kind is dict:
            return {key: self.copy(item) for key, item in value.items()}
        if kind is list:
            return [self.copy(item) for item in value]
        if kind is tuple:
            return tuple(self.copy(item) for item in value)
        self.nbytes += 256  # a size for objects whose text is not measured
        return copy.deepcopy(value)


def _text_key(text: str) -> Any:
    """Cache key of a text: itself when short, else its length and hash (nothing big is kept)."""
    return text if len(text) < LONG_TEXT else (len(text), hash(text))


def _looks_openai(model: str) -> bool:
    name = model.lower().rsplit("/", 1)[-1]
    return name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt", "text-embedding", "ft:gpt"))


def _message_key(message: Message) -> tuple[Any, ...] | None:
    """A hashable key of everything that changes a message's count, or None if not cacheable."""
    parts = []
    for key, value in message.items():
        if value is None:
            continue
        if not isinstance(value, str):
            try:
                value = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
            except (TypeError, ValueError):
                return None
            key = f"{key}:json"
        parts.append((key, _text_key(value)))
    return tuple(parts)


_tokenizers: dict[tuple[str, str | None], Tokenizer] = {}


def get_tokenizer(model: str = "gpt-4o", encoding: str | None = None) -> Tokenizer:
    """The shared :class:`Tokenizer` for ``model`` (one per model per process)."""
    key = (model, encoding)
    tokenizer = _tokenizers.get(key)
    if tokenizer is None:
        tokenizer = _tokenizers.setdefault(key, Tokenizer(model, encoding=encoding))
    return tokenizer


def count_tokens_text(text: str, model: str = "gpt-4o") -> int:
    """Tokens in ``text`` for ``model``."""
    return get_tokenizer(model).count_text(text)


def count_tokens_messages(
    messages: Iterable[Message],
    model: str = "gpt-4o",
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> int:
    """Tokens a chat request with ``messages`` (and ``tools``) costs for ``model``."""
    return get_tokenizer(model).count_messages(messages, tools=tools)
