"""ContentRouter: tell what a tool output is and send it to the crusher that understands it.

JSON goes to :class:`~headroom_core.transforms.smart_crusher.SmartCrusher`; logs and search
results go to :class:`~headroom_core.transforms.line_crusher.LineCrusher`; Markdown and other
prose go to :class:`~headroom_core.transforms.document.DocumentCrusher` (by sections); large
source code
goes to :class:`~headroom_core.transforms.code_outline.CodeOutliner`, which keeps every line it
shows verbatim (``line_crusher.code_mode="passthrough"`` leaves code untouched; smaller code
always passes through).
"""

from __future__ import annotations

import ast
import dataclasses
import json
import re
from collections.abc import Mapping
from itertools import pairwise
from typing import TYPE_CHECKING, Any, Literal

from headroom_core.config import HeadroomConfig
from headroom_core.results import CrushResult
from headroom_core.tokenizer import Tokenizer, get_tokenizer
from headroom_core.transforms._code.numbering import strip_line_numbers
from headroom_core.transforms._crush_memo import CrushMemo
from headroom_core.transforms._json.encoding import is_compact_output
from headroom_core.transforms._lines.prose import FENCE_RE, MARKDOWN_BLOCK_RE, PROSE_LINE_RE
from headroom_core.transforms._lines.search import is_search_output
from headroom_core.transforms._oversized import MAX_CRUSH_CHARS, cut_oversized
from headroom_core.transforms._store_choice import DEFAULT_STORE, StoreChoice, resolve_store
from headroom_core.transforms._text import looks_binary, require_text
from headroom_core.transforms.code_outline import CodeOutliner
from headroom_core.transforms.document import DocumentCrusher
from headroom_core.transforms.line_crusher import LineCrusher
from headroom_core.transforms.smart_crusher import SmartCrusher

if TYPE_CHECKING:
    from headroom_core.relevance import RelevanceScorer
    from headroom_core.retrieval import OriginalsStore

__all__ = ["ContentKind", "ContentRouter"]

ContentKind = Literal["json", "log", "search", "code", "text"]

_SAMPLE_LINES = 200
_PYTHON_HINT_RE = re.compile(r"^(?:def|class|import|from\s+\S+\s+import)\b", re.MULTILINE)
_SAMPLE_CHARS = 32_768
_LOG_SHARE = 0.5
_CODE_SHARE = 0.3
_PROSE_SHARE = 0.5
_LISTING_BLANK_SHARE = 0.05
_ATX_HEADING_RE = re.compile(r"^\#{1,6}\s+\S")
_UNDERLINE_RE = re.compile(r"^\s*([=\-~^*+#])\1{2,}\s*$")

_LOG_LINE_RE = re.compile(
    r"""
    ^\W{0,3}(?:\d{2,4}[-/.]\d{1,2}(?:[-/.]\d{1,4})?[ T_:]+)?\d{1,2}:\d{2}:\d{2}   # date? time
    | ^\W{0,3}(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun|Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b
    | ^\d{6,}\s                                                   # epoch / packed date
    | \b(?:TRACE|DEBUG|INFO|NOTICE|WARN|WARNING|ERROR|FATAL|CRITICAL|SEVERE)\b
    | ^[VDIWEF]/[\w.$-]+\s*\(                                                   # logcat brief
    """,
    re.VERBOSE,
)
_CODE_LINE_RE = re.compile(
    r"""
    ^\s*(?:def|class|import|from\s+\S+\s+import|function|const|let|var|export|return|if|elif|else
        |for|while|try|except|catch|finally|with|async|await|public|private|protected|static
        |package|func|fn|impl|struct|enum|interface|type|using|namespace
        |raise|throw|yield|pass|break|continue|self|this)\b
    | ^\#\s*(?:include|define|undef|if|ifdef|ifndef|elif|else|endif|pragma|error)\b  # preprocessor
    | [{};]\s*$                                               # opens or ends a block / statement
    | ^\s*[}\])]
    | ^\s*(?://|/\*|\*/|@\w+|\"\"\"|\'\'\')                  # comments, decorators, docstrings
    | ^\s*[\w.\[\]'"]+\s*(?:[-+*/%|&^]|<<|>>|//|\*\*)?=(?!=)\s*\S  # assignment
    | ^\s+(?:\#|\*\s|.*[:,(\[]\s*$|\S.*[\w\])]\(.*\)\s*$)       # indented comment, call, open line
    """,
    re.VERBOSE,
)


class ContentRouter:
    """Detect the kind of a tool output and crush it with the matching crusher.

    Args:
        config: The Headroom config; its ``smart_crusher``, ``line_crusher``, ``relevance`` and
            ``retrieval`` sections are used.
        scorer: Relevance scorer shared by both crushers (from ``config.relevance`` by default).
        store: Originals store for dropped items; by default the process-wide store for
            ``config.retrieval``. None, or ``config.retrieval.enabled`` False, turns retrieval
            off: nothing is stored and markers name no key.

    Examples:
        >>> router = ContentRouter()
        >>> router.detect('[{"id": 1}, {"id": 2}]')
        'json'
        >>> router.detect("2024-05-01 12:00:01 ERROR disk full")
        'log'
    """

    def __init__(
        self,
        config: HeadroomConfig | None = None,
        *,
        scorer: RelevanceScorer | None = None,
        store: StoreChoice = DEFAULT_STORE,
    ) -> None:
        self.config = config or HeadroomConfig()
        self._scorer = scorer
        self._store = store
        self._crushers: dict[tuple[str, int | None], Any] = {}
        self.remembered = CrushMemo(self)
        """:meth:`route` with outcomes remembered by content, query and settings: what agent
        loops use, since each step re-sends every earlier output."""

    @property
    def scorer(self) -> RelevanceScorer:
        """The relevance scorer both crushers use."""
        if self._scorer is None:
            from headroom_core.relevance import create_scorer

            self._scorer = create_scorer(config=self.config.relevance)
        return self._scorer

    @property
    def store(self) -> OriginalsStore | None:
        """The store receiving dropped items; None when retrieval is off."""
        if self._store is DEFAULT_STORE or not self.config.retrieval.enabled:
            self._store = resolve_store(self._store, self.config.retrieval)
        return self._store

    def detect(self, text: str) -> ContentKind:
        """The kind of ``text``, from cheap checks on a sample of it.

        JSON must parse (or be SmartCrusher's compact form of JSON); search results are mostly
        ``path:line:text``; logs are mostly lines with timestamps or levels, or a listing (no
        heading, hardly a blank line, mostly not prose); code has syntax on
        many lines (or parses as Python); anything else is text. Markdown whose code, if any, sits
        inside fenced blocks, between paragraphs, headings and lists, is text even when most of
        its lines are examples: its answer lives in the prose, which a code outline would elide.
        """
        text = require_text(text, "ContentRouter.detect")
        stripped = text.lstrip()
        if is_compact_output(text) or (stripped[:1] in ("{", "[") and _parses_as_json(stripped)):
            return "json"
        pieces = _sample_pieces(text)
        lines = _filled(pieces)
        if not lines:
            return "text"
        if is_search_output(lines):
            return "search"
        if _share(lines, _LOG_LINE_RE) >= _LOG_SHARE:
            return "log"
        listing = strip_line_numbers(lines)
        if listing is not None:  # ``cat -n`` style: judge the code after the numbers
            lines = [line for line in listing[0] if line.strip()]
            text = "\n".join(listing[0])
            pieces = _sample_pieces(text)
        if not lines:
            return "text"
        if _share(lines, _CODE_LINE_RE) >= _CODE_SHARE and (
            listing is not None or not _is_prose(text, pieces)
        ):
            return "code"
        if _is_python(text):
            return "code"
        return "log" if _is_line_listing(text, pieces, lines) else "text"

    def route(
        self,
        text: str,
        *,
        query: str = "",
        tokenizer: Tokenizer | None = None,
        tool_name: str | None = None,
        profile: Mapping[str, Any] | None = None,
        token_budget: int | None = None,
    ) -> CrushResult:
        """Crush ``text`` with the crusher for its kind.

        Args:
            text: The tool output.
            query: What the user asked (plus the tool call's arguments).
            tokenizer: Counts tokens; gpt-4o's by default.
            tool_name: The tool that produced the output.
            profile: Per-tool settings: ``{"skip_compression": True}`` passes the output through,
                ``{"max_items": N}`` caps the kept items or lines.
            token_budget: Target size in tokens for this output.

        Returns:
            The crush result; ``strategy`` names the crusher that ran or is ``"passthrough"``, and
            ``reasons`` starts with the detected kind.

        Raises:
            TransformError: ``text`` is not a string, or a crusher refused it.
        """
        tokenizer = tokenizer or get_tokenizer()
        profile = profile or {}
        text = require_text(text, "ContentRouter.route")
        if profile.get("skip_compression"):
            return _passthrough(text, tokenizer, "tool profile sets skip_compression")
        if len(text) > MAX_CRUSH_CHARS:  # cut before any parsing or counting of the whole
            return cut_oversized(text, tokenizer=tokenizer, store=self.store, tool_name=tool_name)
        if looks_binary(text):
            return _passthrough(text, tokenizer, "binary content")
        kind = self.detect(text)
        max_items = profile.get("max_items")
        section = "smart_crusher" if kind == "json" else "line_crusher"
        if not getattr(self.config, section).enabled:
            return _passthrough(text, tokenizer, f"{section} is disabled")
        lines_config = self.config.line_crusher
        if kind == "code" and not lines_config.compress_code:
            if lines_config.code_mode == "passthrough":
                return _passthrough(
                    text, tokenizer, "code passes through (line_crusher.code_mode is 'passthrough')"
                )
            result = self._code_outliner().outline(
                text, query, tokenizer=tokenizer, tool_name=tool_name, token_budget=token_budget
            )
            return dataclasses.replace(result, reasons=[f"detected {kind}", *result.reasons])
        if kind == "json":
            result = self._smart_crusher(max_items).crush(
                text, query, tokenizer=tokenizer, token_budget=token_budget, tool_name=tool_name
            )
            crusher_name = SmartCrusher.name
        elif kind == "text":
            result = self._document_crusher().crush(
                text, query, tokenizer=tokenizer, token_budget=token_budget, tool_name=tool_name
            )
            crusher_name = DocumentCrusher.name
        else:
            result = self._line_crusher().crush(
                text,
                query,
                tokenizer=tokenizer,
                token_budget=token_budget,
                max_lines=max_items,
                tool_name=tool_name,
            )
            crusher_name = LineCrusher.name
        if not result.changed:
            return dataclasses.replace(result, reasons=[f"detected {kind}", *result.reasons])
        mode = [result.strategy] if result.strategy != crusher_name else []
        return dataclasses.replace(
            result, strategy=crusher_name, reasons=[f"detected {kind}", *mode, *result.reasons]
        )

    def crush_lines(
        self,
        text: str,
        *,
        query: str = "",
        tokenizer: Tokenizer | None = None,
        tool_name: str | None = None,
        token_budget: int | None = None,
    ) -> CrushResult:
        """Crush ``text`` line by line, whatever its kind: the rows of a table, a log.

        What fitting uses when a kind's own crusher cannot go below its must-keep items: the
        lines kept are verbatim lines of ``text`` and the marker says how many were left out.
        """
        return self._line_crusher().crush(
            text, query, tokenizer=tokenizer, token_budget=token_budget, tool_name=tool_name
        )

    def _smart_crusher(self, max_items: int | None) -> SmartCrusher:
        key = ("json", max_items)
        crusher = self._crushers.get(key)
        if crusher is None:
            config = self.config.smart_crusher
            if max_items is not None:
                config = config.model_copy(update={"max_items_after_crush": max(1, int(max_items))})
            crusher = SmartCrusher(config, scorer=self.scorer, store=self.store)
            self._crushers[key] = crusher
        return crusher

    def _code_outliner(self) -> CodeOutliner:
        key = ("code", None)
        outliner = self._crushers.get(key)
        if outliner is None:
            outliner = CodeOutliner(self.config.line_crusher, store=self.store)
            self._crushers[key] = outliner
        return outliner

    def _document_crusher(self) -> DocumentCrusher:
        key = ("document", None)
        crusher = self._crushers.get(key)
        if crusher is None:
            config = self.config.line_crusher
            crusher = DocumentCrusher(config, scorer=self.scorer, store=self.store)
            self._crushers[key] = crusher
        return crusher

    def _line_crusher(self) -> LineCrusher:
        key = ("lines", None)
        crusher = self._crushers.get(key)
        if crusher is None:
            crusher = LineCrusher(self.config.line_crusher, scorer=self.scorer, store=self.store)
            self._crushers[key] = crusher
        return crusher


def _sample_pieces(text: str) -> list[tuple[int, list[str]]]:
    """Lines from the start and the middle of ``text`` (headers are not typical), each run with
    the offset in ``text`` where it starts."""
    half = _SAMPLE_CHARS // 2
    pieces = [(0, text[:half])]
    if len(text) > _SAMPLE_CHARS:
        middle = len(text) // 2
        piece = text[middle : middle + half]
        skip = piece.find("\n") + 1  # start at a whole line
        pieces.append((middle + skip, piece[skip:]))
    return [(start, piece.split("\n")[: _SAMPLE_LINES // 2]) for start, piece in pieces]


def _filled(pieces: list[tuple[int, list[str]]]) -> list[str]:
    """The non-empty lines of the sampled ``pieces``."""
    return [line for _, lines in pieces for line in lines if line.strip()]


def _is_prose(text: str, pieces: list[tuple[int, list[str]]]) -> bool:
    """Whether ``text`` is Markdown-like prose whose code, if any, sits inside fenced blocks:
    outside the fences, most sampled lines are prose (headings, list items, quotes, tables,
    words) and too few look like code to call the whole code. A Markdown block's own
    punctuation (a nested list of ``[links](#anchors)``) is not code.

    The caller still asks whether such text parses as Python, so a module whose docstrings
    hold fenced examples stays code.
    """
    outside = []
    for start, lines in pieces:
        fenced = len(FENCE_RE.findall(text, 0, start)) % 2 == 1
        for line in lines:
            if FENCE_RE.match(line):
                fenced = not fenced
            elif not fenced and line.strip():
                outside.append(line)
    if not outside:
        return False
    # in a C-style comment block, `` * text`` continues the comment: it is no list item
    comments = any(line.lstrip().startswith("/*") for line in outside)
    prose = code = 0
    for line in outside:
        block = bool(MARKDOWN_BLOCK_RE.match(line)) and not (
            comments and line.lstrip().startswith("*")
        )
        prose += block or bool(PROSE_LINE_RE.match(line))
        code += not block and bool(_CODE_LINE_RE.search(line))
    return prose >= _PROSE_SHARE * len(outside) and code < _CODE_SHARE * len(outside)


def _is_line_listing(text: str, pieces: list[tuple[int, list[str]]], lines: list[str]) -> bool:
    """Whether ``text`` is a listing rather than a document: no heading, no fence, hardly a
    blank line, and most sampled lines are not prose (a directory listing, ``find``, ``pip
    list``, a compiler's messages). Each line is an item there, so it goes to the line crusher,
    which keeps lines; records set apart by blank lines (``git log``) stay a document, whose
    paragraphs keep each record's first line."""
    if FENCE_RE.search(text) or _has_headings(lines):
        return False
    raw = [line for _, piece in pieces for line in piece]
    blank = sum(1 for line in raw if not line.strip())
    listing = blank <= 1 + _LISTING_BLANK_SHARE * len(raw)  # a trailing newline is no gap
    return listing and _share(lines, PROSE_LINE_RE) < _PROSE_SHARE


def _has_headings(lines: list[str]) -> bool:
    """Whether ``lines`` hold a Markdown ``#`` heading or a title underlined to its length
    (Markdown's and reStructuredText's ``Title`` over ``=====``)."""
    if any(_ATX_HEADING_RE.match(line) for line in lines):
        return True
    return any(
        _UNDERLINE_RE.match(line)
        and not _UNDERLINE_RE.match(above)
        and above.strip()
        and abs(len(line.strip()) - len(above.strip())) <= 2
        for above, line in pairwise(lines)
    )


def _is_python(text: str) -> bool:
    """Whether ``text`` is a Python module (catches docstring-heavy sources; prose fails to
    parse within its first lines, so this is cheap when the answer is no)."""
    if not _PYTHON_HINT_RE.search(text):
        return False
    try:
        ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    return True


def _parses_as_json(text: str) -> bool:
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


def _share(lines: list[str], pattern: re.Pattern[str]) -> float:
    return sum(1 for line in lines if pattern.search(line)) / len(lines)


def _passthrough(text: str, tokenizer: Tokenizer, reason: str) -> CrushResult:
    return CrushResult.unchanged(text, tokenizer.count_text(text), reason)
