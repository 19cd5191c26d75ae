"""Waste signals: how many tokens a request spends on content that carries nothing.

Each signal is the number of tokens a specific clean-up would save, counted with the request's
real tokenizer. Encoding is the expensive part (a 100K-token request takes hundreds of ms to
encode), so texts are transformed in full (cheap regex work) but tokens are counted exactly only
while the affected text is small; above that, the tokens saved per removed character are measured
on evenly spaced line-aligned sample windows and scaled to all removed characters. Signals from
such samples are estimates, and ``detect_waste(..., exact=True)`` counts everything instead.

Each text is measured on its own and remembered by its content, so a conversation re-sent with
one more message costs the new message only; a text sent again whole counts as repetition.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any, NamedTuple

from headroom_core._textmemo import BoundedMemo, text_key
from headroom_core._volatile import find_volatile
from headroom_core.messages import content_text
from headroom_core.results import WasteSignals
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms.cache_aligner import normalize_whitespace

__all__ = ["detect_waste"]

EXACT_CHARS = 12_000  # below this many affected characters every token is counted
SAMPLE_WINDOWS = 6
WINDOW_CHARS = 600
MIN_REPEATED_LINE_CHARS = 12
REPEATED_LINES_COUNTED = 64
HTML_SNIFF_CHARS = 4000

_JSON_WHITESPACE = re.compile(r'("(?:\\.|[^"\\\n])*")|\s+')
_HTML_HINT = re.compile(
    r"<(?:!doctype|html|head|body|div|span|p|a|table|script|style|ul|li)\b", re.I
)
_HTML_BLOCKS = re.compile(r"<(script|style)\b.*?</\1\s*>|<!--.*?-->", re.I | re.S)
_HTML_TAG = re.compile(r"</?[A-Za-z!][^<>]*>")
_SYSTEM_ROLES = frozenset({"system", "developer"})

TextEdit = Callable[[str], str]


def minify_json_text(text: str) -> str:
    """``text`` without the whitespace outside JSON strings (works line by line, so on windows)."""
    if not _has_json_spacing(text):
        return text
    return _JSON_WHITESPACE.sub(lambda match: match.group(1) or "", text)


def _has_json_spacing(text: str) -> bool:
    """Whether JSON ``text`` is pretty-printed or spaced (substring tests: fast)."""
    return "\n" in text or ": " in text or ", " in text or "\t" in text


def _has_loose_whitespace(text: str) -> bool:
    """Whether whitespace normalisation could change ``text`` (plain substring tests: fast)."""
    return "  " in text or "\t" in text or " \n" in text or "\n\n\n" in text


def _minified_length(text: str) -> int:
    """Length of ``text`` as minified JSON (the C parser when it parses, else the regex)."""
    try:
        return len(json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":")))
    except ValueError:
        return len(minify_json_text(text))


def _looks_like_html(text: str) -> bool:
    return len(_HTML_TAG.findall(text, 0, HTML_SNIFF_CHARS)) >= 3


def strip_html(text: str) -> str:
    """``text`` without scripts, styles, comments and tags."""
    return _HTML_TAG.sub("", _HTML_BLOCKS.sub("", text))


def detect_waste(
    messages: Sequence[Mapping[str, Any]],
    tokenizer: Tokenizer | None = None,
    *,
    exact: bool = False,
) -> WasteSignals:
    """Measure the waste in a request's messages.

    Args:
        messages: OpenAI-style chat messages.
        tokenizer: The request model's tokenizer (gpt-4o's by default).
        exact: Count every affected token instead of sampling large texts.

    Returns:
        :class:`~headroom_core.results.WasteSignals`: ``json_bloat_tokens`` (minifying JSON
        content), ``html_noise_tokens`` (tags, scripts, styles in HTML content),
        ``whitespace_tokens`` (collapsing whitespace outside code fences in other text),
        ``dynamic_date_tokens`` (dates, times, ids in the system prompt) and
        ``repetition_tokens`` (lines repeated after their first occurrence in a text, and
        texts that repeat an earlier message's whole text).

    Examples:
        >>> signals = detect_waste([{"role": "tool", "tool_call_id": "1",
        ...                          "content": '{\\n    "a":   1,\\n    "b":   2\\n}'}])
        >>> signals.json_bloat_tokens > 0
        True
    """
    tokenizer = tokenizer or get_tokenizer()
    json_bloat = html_noise = whitespace = repetition = 0
    seen: set[Hashable] = set()
    for message in messages:
        text = content_text(message)
        if not text:
            continue
        key = text_key(text)
        if key in seen:  # the same text sent again: all of it repeats
            repetition += tokenizer.count_text(text)
            continue
        seen.add(key)
        waste = _text_waste(text, tokenizer, exact)
        json_bloat += waste.json_bloat
        html_noise += waste.html_noise
        whitespace += waste.whitespace
        repetition += waste.repetition
    return WasteSignals(
        json_bloat_tokens=json_bloat,
        html_noise_tokens=html_noise,
        whitespace_tokens=whitespace,
        dynamic_date_tokens=_dynamic_tokens(messages, tokenizer),
        repetition_tokens=repetition,
    )


class _TextWaste(NamedTuple):
    json_bloat: int
    html_noise: int
    whitespace: int
    repetition: int


# Per text: a conversation is re-sent every turn, so its earlier texts are measured once.
_TEXT_WASTE: BoundedMemo[_TextWaste] = BoundedMemo(maxsize=4096)


def _text_waste(text: str, tokenizer: Tokenizer, exact: bool) -> _TextWaste:
    """The waste in one text, remembered by the text, the counter and ``exact``."""
    key = (text_key(text), tokenizer.counting_key, exact)
    found = _TEXT_WASTE.get(key)
    if found is not None:
        return found
    limit = None if exact else EXACT_CHARS
    json_bloat = html_noise = whitespace = 0
    stripped = text.strip()
    if stripped[:1] in "{[" and stripped[-1:] in "}]":
        if _has_json_spacing(text):
            json_bloat = _tokens_saved(
                text, minify_json_text, tokenizer, limit, length_after=_minified_length
            )
    elif _HTML_HINT.search(text, 0, HTML_SNIFF_CHARS) and _looks_like_html(text):
        html_noise = _tokens_saved(text, strip_html, tokenizer, limit)
    elif _has_loose_whitespace(text):
        whitespace = _tokens_saved(text, normalize_whitespace, tokenizer, limit)
    waste = _TextWaste(json_bloat, html_noise, whitespace, _repetition_tokens(text, tokenizer))
    _TEXT_WASTE.put(key, waste)
    return waste


def _tokens_saved(
    text: str,
    transform: TextEdit,
    tokenizer: Tokenizer,
    limit: int | None,
    *,
    length_after: Callable[[str], int] | None = None,
) -> int:
    """Tokens ``transform`` removes from ``text``: exact when small, else sampled and scaled.

    ``length_after`` gives the text's length after the transform faster than running it.
    """
    if limit is None or len(text) <= limit:
        return max(0, tokenizer.count_text(text) - tokenizer.count_text(transform(text)))
    measure = length_after or (lambda text: len(transform(text)))
    removed_chars = len(text) - measure(text)
    sample_saved = sample_removed = 0
    for window in _windows(text):
        cleaned = transform(window)
        sample_saved += tokenizer.count_text(window) - tokenizer.count_text(cleaned)
        sample_removed += len(window) - len(cleaned)
    if sample_removed <= 0 or removed_chars <= 0:
        return 0
    return max(0, round(removed_chars * sample_saved / sample_removed))


def _windows(text: str) -> list[str]:
    """SAMPLE_WINDOWS windows spread evenly over ``text``, line-aligned where a line break is
    near (a text of few long lines, such as minified JSON, is cut at fixed sizes)."""
    step = len(text) / SAMPLE_WINDOWS
    windows: list[str] = []
    for k in range(SAMPLE_WINDOWS):
        middle = int(step * (k + 0.5))
        start = text.rfind("\n", max(0, middle - WINDOW_CHARS), middle) + 1 or middle
        end = text.find("\n", start + WINDOW_CHARS, start + 2 * WINDOW_CHARS)
        windows.append(text[start : end if end != -1 else start + 2 * WINDOW_CHARS])
    return windows


def _dynamic_tokens(messages: Sequence[Mapping[str, Any]], tokenizer: Tokenizer) -> int:
    """Tokens of volatile values (dates, times, ids, counters) in the leading system messages."""
    total = 0
    for message in messages:
        if message.get("role") not in _SYSTEM_ROLES:
            break
        total += sum(
            tokenizer.count_text(span.value) for span in find_volatile(content_text(message))
        )
    return total


def _repetition_tokens(text: str, tokenizer: Tokenizer) -> int:
    """Tokens of lines that repeat an earlier line of ``text``; the most repeated lines are
    counted exactly, the rest at the tokens-per-character rate measured on them."""
    occurrences = Counter(
        line for line in map(str.strip, text.splitlines()) if len(line) >= MIN_REPEATED_LINE_CHARS
    )
    repeats = [(line, count - 1) for line, count in occurrences.most_common() if count > 1]
    if not repeats:
        return 0
    counted = repeats[:REPEATED_LINES_COUNTED]
    tokens = sum(tokenizer.count_text(line) * extra for line, extra in counted)
    rest_chars = sum(len(line) * extra for line, extra in repeats[REPEATED_LINES_COUNTED:])
    if rest_chars:
        counted_chars = sum(len(line) * extra for line, extra in counted)
        tokens += round(rest_chars * tokens / counted_chars)
    return tokens
