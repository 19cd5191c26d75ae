"""SmartCrusher: compress JSON tool outputs, losslessly first, lossily only when still too big.

Lossless: minified JSON where arrays of objects become compact tables (see
:mod:`headroom_core.transforms._json.encoding`); every value keeps its exact text.

Lossy (only when still too big, see :mod:`~headroom_core.transforms._json.document`): rows are
chosen by :mod:`~headroom_core.transforms._json.selection` (errors, anomalies, first/last, query
matches, an even sample); a one-line marker says how many rows were left out, their value ranges
and, unless retrieval is off (``store=None``), the key under which the dropped items can be
fetched back (``headroom_retrieve``). Very long strings keep their head, tail and the lines that
name the query or an error.

Budget: ``token_budget`` (argument, else the config) caps the output; without one, tables longer
than ``max_items_after_crush`` rows are reduced to about that many rows plus every error and
anomaly.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from headroom_core.config import SmartCrusherConfig
from headroom_core.errors import HeadroomError, TransformError
from headroom_core.messages import content_text, last_user_query, tool_call_arguments, with_content
from headroom_core.relevance import create_scorer
from headroom_core.results import CrushResult, TransformResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._counting import BackgroundCount
from headroom_core.transforms._json.document import DocumentCrush
from headroom_core.transforms._json.encoding import is_compact_output
from headroom_core.transforms._json.parse import NotJson, parse_json_text
from headroom_core.transforms._oversized import MAX_CRUSH_CHARS
from headroom_core.transforms._store_choice import DEFAULT_STORE, StoreChoice, resolve_store
from headroom_core.transforms.base import Transform

if TYPE_CHECKING:
    from headroom_core.retrieval import OriginalsStore

__all__ = ["CrushResult", "SmartCrusher"]

logger = logging.getLogger(__name__)

MAX_INPUT_CHARS = MAX_CRUSH_CHARS
"""Larger inputs are refused (TransformError); the content router cuts them instead."""

MAX_PASSTHROUGH_CHARS = 131_072
"""Larger inputs that are not JSON are refused (TransformError) instead of passed through: the
pass-through result needs their token count, and counting binary garbage is slow."""


class SmartCrusher(Transform):
    """Compress JSON tool outputs so what the question needs survives.

    Args:
        config: Thresholds and budget; defaults to :class:`SmartCrusherConfig`.
        scorer: A relevance scorer (``score_items(items, query)``); BM25 by default.
        store: Where dropped items go (an :class:`~headroom_core.retrieval.OriginalsStore`);
            the process-wide originals store by default. None turns retrieval off: nothing is
            stored and markers name no key (they still say what was left out). When the store
            fails, the marker simply has no retrieval key.

    Examples:
        >>> crusher = SmartCrusher()
        >>> jobs = [{"id": f"job-{i}", "state": "done"} for i in range(200)]
        >>> jobs[70]["state"] = "failed"
        >>> result = crusher.crush(jobs, query="which job failed?")
        >>> result.strategy, len(result.kept_indices), 70 in result.kept_indices
        ('lossy', 50, True)
        >>> "job-70|failed" in result.compressed
        True
    """

    name = "smart_crusher"

    def __init__(
        self,
        config: SmartCrusherConfig | None = None,
        *,
        scorer: Any | None = None,
        store: StoreChoice = DEFAULT_STORE,
    ) -> None:
        self.config = config if config is not None else SmartCrusherConfig()
        self._scorer = scorer
        self._store = store

    # -- one output -------------------------------------------------------------------------

    def crush(
        self,
        data: Any = None,
        query: str = "",
        *,
        tokenizer: Tokenizer | None = None,
        token_budget: int | None = None,
        tool_name: str | None = None,
    ) -> CrushResult:
        """Compress one tool output.

        Args:
            data: A JSON string (or UTF-8 bytes) or already-parsed JSON (dicts, lists, scalars).
            query: What the user asked; rows matching it survive lossy selection.
            tokenizer: Counts tokens before and after (gpt-4o's when omitted).
            token_budget: Target size in tokens; overrides ``config.token_budget``.
            tool_name: The tool that produced the output, stored with dropped items.

        Returns:
            A :class:`CrushResult`; ``strategy`` is ``"passthrough"`` (with the reason),
            ``"lossless"`` or ``"lossy"``.

        Raises:
            TransformError: The input is bytes that are not UTF-8, parsed data that is not JSON,
                larger than :data:`MAX_INPUT_CHARS`, or not JSON and larger than
                :data:`MAX_PASSTHROUGH_CHARS`.
        """
        tokenizer = tokenizer if tokenizer is not None else get_tokenizer("gpt-4o")
        text = self._text(data)
        # The count of the original runs while the text is parsed and crushed; only for text
        # shaped like a whole object or array, so garbage that will be refused is not counted.
        counting = BackgroundCount(tokenizer, text) if _json_shaped(text) else None
        value, exact_floats, reason = self._parse(text, data)
        if value is None:
            if len(text) > MAX_PASSTHROUGH_CHARS:
                raise TransformError(
                    f"SmartCrusher cannot crush this output ({reason}) and it is too large "
                    f"({len(text)} characters) to pass through with an exact count.",
                    details={"reason": reason, "size": len(text), "limit": MAX_PASSTHROUGH_CHARS},
                )
            return self._passthrough(text, data, counting or BackgroundCount(tokenizer, text),
                                     reason)
        if len(text) < self.config.min_tokens_to_crush:  # a token is at least one character
            return self._passthrough(text, data, counting or BackgroundCount(tokenizer, text),
                                     "below min_tokens_to_crush")
        counting = counting or BackgroundCount(tokenizer, text)
        budget = token_budget if token_budget is not None else self.config.token_budget
        try:
            crush = DocumentCrush(
                value, config=self.config, query=query, exact_floats=exact_floats,
                scorer=self.scorer, store=self.store, tool_name=tool_name,
            )
            del value  # handed over: the tables hold what is needed
            outcome = crush.run(tokenizer, budget)
            tokens_before = counting.result()
            if tokens_before < self.config.min_tokens_to_crush:
                return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                                   [f"{tokens_before} tokens, below min_tokens_to_crush"])
        except RecursionError:
            tokens_before = counting.result()
            return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                               ["JSON nested too deeply to encode"])
        except HeadroomError:
            raise
        except Exception as exc:  # e.g. a custom scorer that fails: callers expect our errors
            raise TransformError(
                f"SmartCrusher failed on this output: {exc!r}",
                details={"error": type(exc).__name__, "size": len(text)},
            ) from exc
        if outcome.tokens >= tokens_before:
            return CrushResult(text, data, tokens_before, tokens_before, "passthrough",
                               ["compact form is not smaller"])
        return CrushResult(
            outcome.text, data, tokens_before, outcome.tokens, outcome.strategy, outcome.reasons,
            outcome.kept, outcome.dropped, outcome.key,
        )

    @staticmethod
    def _passthrough(text: str, data: Any, counting: BackgroundCount, reason: str) -> CrushResult:
        return CrushResult.unchanged(text, counting.result(), reason, original=data)

    @staticmethod
    def _text(data: Any) -> str:
        """The text of any input: bytes decoded, parsed data dumped as JSON."""
        if isinstance(data, (bytes, bytearray)):
            try:
                data = bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                raise TransformError(
                    "SmartCrusher got bytes that are not UTF-8 text.",
                    details={"position": exc.start, "size": len(data)},
                ) from None
        if not isinstance(data, str):
            return _dump_parsed(data)
        if len(data) > MAX_INPUT_CHARS:
            raise TransformError(
                f"Tool output of {len(data)} characters exceeds the SmartCrusher limit of "
                f"{MAX_INPUT_CHARS}; send it through a truncating step first.",
                details={"size": len(data), "limit": MAX_INPUT_CHARS},
            )
        return data

    @staticmethod
    def _parse(text: str, data: Any) -> tuple[Any, bool, str]:
        """``(parsed value or None, exact_floats, reason)`` of the input's text."""
        if isinstance(data, (str, bytes, bytearray)):
            if is_compact_output(text):
                return None, False, "already in compact form"
        elif not isinstance(data, (dict, list)):
            return None, False, "a JSON scalar has nothing to crush"
        # Parsed data is read back from its text: plain JSON types and string keys, however the
        # caller built it.
        try:
            value, exact_floats = parse_json_text(text)
        except NotJson as exc:  # for parsed data: NaN or Infinity in it
            return None, False, str(exc)
        return value, exact_floats, ""

    # -- messages ---------------------------------------------------------------------------

    def apply(
        self,
        messages: Sequence[dict[str, Any]],
        tokenizer: Tokenizer | None = None,
        **context: Any,
    ) -> TransformResult:
        """Crush the JSON content of every tool message.

        The query is ``context["query"]``, else the last user message; the arguments of the tool
        call that produced an output are added to it. Outputs that cannot be crushed stay as they
        are (with a warning when the input was bad).
        """
        tokenizer = self.resolve_tokenizer(tokenizer, context)
        base_query = context.get("query") or last_user_query(messages)
        calls = tool_call_arguments(messages)
        out: list[dict[str, Any]] = []
        warnings: list[str] = []
        strategies: dict[str, int] = {}
        keys: list[str] = []
        crushed = 0
        for index, message in enumerate(messages):
            if message.get("role") != "tool" or message.get("content") is None:
                out.append(message)
                continue
            tool_name, arguments = calls.get(str(message.get("tool_call_id")), ("", ""))
            try:
                result = self.crush(
                    content_text(message), f"{base_query} {arguments}".strip(),
                    tokenizer=tokenizer, tool_name=tool_name or message.get("name"),
                )
            except TransformError as exc:
                warnings.append(f"message {index}: {exc.message}")
                out.append(message)
                continue
            if not result.changed:
                out.append(message)
                continue
            out.append(with_content(message, result.compressed))
            crushed += 1
            strategies[result.strategy] = strategies.get(result.strategy, 0) + result.tokens_saved
            if result.retrieval_key:
                keys.append(result.retrieval_key)
        before = tokenizer.count_messages(messages)
        after = tokenizer.count_messages(out) if strategies else before
        return TransformResult(
            messages=out,
            tokens_before=before,
            tokens_after=after,
            transforms_applied=[self.name] if strategies else [],
            description=f"crushed {crushed} tool outputs",
            details={"by_strategy": strategies, "retrieval_keys": keys},
            warnings=warnings,
        )

    # -- collaborators ----------------------------------------------------------------------

    def scorer(self) -> Any:
        """The relevance scorer (BM25 unless one was given), created on first use."""
        if self._scorer is None:
            self._scorer = create_scorer("bm25")
        return self._scorer

    def store(self) -> OriginalsStore | None:
        """The originals store for dropped items (the process-wide one unless one was given),
        None when retrieval is off."""
        if self._store is DEFAULT_STORE:
            self._store = resolve_store(DEFAULT_STORE)
        return self._store


def _json_shaped(text: str) -> bool:
    """Whether ``text`` starts and ends like a JSON object or array (ignoring whitespace)."""
    start, end = 0, len(text) - 1
    while start <= end and text[start] in _WHITESPACE:
        start += 1
    while end > start and text[end] in _WHITESPACE:
        end -= 1
    return start < end and text[start] + text[end] in ("[]", "{}")


_WHITESPACE = " \t\r\n"


def _dump_parsed(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise TransformError(f"SmartCrusher got data that is not JSON: {exc}.") from None
    except RecursionError:
        raise TransformError("SmartCrusher got data nested too deeply to encode.") from None
