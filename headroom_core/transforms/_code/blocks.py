"""Definitions in source code and the lines each one spans.

Python is read with :mod:`ast` (exact extents, decorators, docstrings). Other languages are read by
shape: a definition line (``def``, ``class``, ``function``, ``func``, ``fn``, ``struct``, a
C-like ``type name(args) {`` header, ...) owns the following lines that are indented deeper, plus
closing lines (``}``, ``)``, ``end``) at its own indent. On formatted code that is the block.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

__all__ = [
    "Block",
    "definition_name",
    "find_blocks",
    "indent_of",
    "outside_docstrings",
    "top_level_constants",
]

_KEYWORD_DEF_RE = re.compile(
    r"""
    ^\s*
    (?:(?:export|default|public|private|protected|internal|static|final|abstract|sealed|partial
        |async|unsafe|extern(?:\s+"C")?|const|override|virtual|inline|open|data|pub(?:\([\w:]+\))?
        |declare|readonly)\s+)*
    (?:def|class|module|function|func|fn|interface|struct|enum|trait|impl|mod|union|record
        |protocol|extension|object|namespace|type)\b\*?
    \s*(?:\([^)]*\)\s*)?                      # Go receiver: func (r *Repo) Name
    (?:<[^>]*>\s*)?                            # Rust impl<T>
    ([A-Za-z_$][\w$]*(?:::[A-Za-z_$][\w$]*)*)
    """,
    re.VERBOSE,
)
# ``name = function (...)``, ``const name = (...) =>``, ``name: function (...)``
_ASSIGNED_FUNCTION_RE = re.compile(
    r"""^\s*(?:(?:export|const|let|var|static|async|public|private|readonly)\s+)*
    ([A-Za-z_$][\w$.]*)\s*[:=]\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|[\w$]+\s*=>)""",
    re.VERBOSE,
)
# A C-like header: ``[modifiers] type name(params)`` ending in ``{``, ``)``, ``,``, or ``(``.
_CALL_HEADER_RE = re.compile(
    r"""^\s*(?:[\w$<>\[\],.*&:~?]+\s+)*?[*&]*([A-Za-z_$~][\w$]*(?:::~?[\w$]+)*)\s*\(
    (?:[^;]*\)\s*(?:[\w\s:<>,.&*=@\[\]()-]*)?\{?|[^;)]*[,(]?)\s*$""",
    re.VERBOSE,
)
# Words that start statements, never definitions.
_STATEMENT_WORDS_TEXT = (
    "if else elif for foreach while do switch case catch try return throw new delete "
    "sizeof typeof await yield with match when and or not in is print assert lambda super "
    "this self synchronized using lock unless until goto break continue raise except finally "
    "del defer go select pass"
)
_STATEMENT_WORDS = frozenset(_STATEMENT_WORDS_TEXT.split())
_NOT_A_NAME = _STATEMENT_WORDS | {"function"}
_TRAILING_COMMENT_RE = re.compile(r"\s*(?://.*|/\*.*?\*/\s*)$")
_OPERATOR_RE = re.compile(r"[!=<>]=|&&|\|\||\?\?")
_ANNOTATION_RE = re.compile(r"^\s*(?:@[\w$.]+|#\[|\[[A-Z]\w*[(\]])")
_CLOSER_RE = re.compile(r"^\s*(?:[)\]}]|end\b|\{\s*$)")
_UPPER_CONSTANT_RE = re.compile(
    r"^(?:(?:export|const|static|final|pub|public)\s+)*[A-Z][A-Z0-9_]+\s*(?::[^=]+)?="
)
_MAX_SIGNATURE_LINES = 30
_COMMENT_LINE_RE = re.compile(r"^\s*(?:///?|/\*\*?|\*(?!/)|\*/|#(?![!\[]|include|define|if|endif))")
# A comment line with words in it (not just ``/**`` or ``*``).
_COMMENT_TEXT_RE = re.compile(r"^\s*(?:///?|/\*\*?|\*|#)\s*[\w@]")


@dataclass(frozen=True)
class Block:
    """One definition: its name and 0-based line span.

    ``start`` is the first line of the comment documenting it from above (Javadoc, JSDoc, Go and
    Rust doc comments), else of its decorators/annotations; ``decorated`` the first decorator or
    annotation line, else the header; ``header`` the definition line; ``signature_end`` the last
    line of its signature; ``end`` its last line (inclusive); ``doc`` the summary line of its
    docstring or doc comment, when it has one.
    """

    name: str
    start: int
    decorated: int
    header: int
    signature_end: int
    end: int
    doc: int | None = None

    @property
    def size(self) -> int:
        """Lines from the first comment or decorator line to the end."""
        return self.end - self.start + 1


def indent_of(line: str) -> int | None:
    """Leading whitespace width (tabs count 8); None for a blank line."""
    stripped = line.lstrip(" \t")
    if not stripped.strip():
        return None
    return len(line[: len(line) - len(stripped)].expandtabs(8))


def find_blocks(lines: list[str], *, python: bool) -> list[Block]:
    """Every definition in ``lines``, in document order."""
    if python:
        blocks = _python_blocks(lines)
        if blocks is not None:
            return blocks
    return _shaped_blocks(lines)


def top_level_constants(lines: list[str]) -> list[int]:
    """Lines assigning an UPPER_CASE name at the left margin."""
    return [index for index, line in enumerate(lines) if _UPPER_CONSTANT_RE.match(line)]


def _python_blocks(lines: list[str]) -> list[Block] | None:
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    blocks = []
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            continue
        header = node.lineno - 1
        start = min([header] + [d.lineno - 1 for d in node.decorator_list])
        first = node.body[0]
        signature_end = max(header, first.lineno - 2)
        while signature_end > header and not lines[signature_end].strip():
            signature_end -= 1  # blank lines before the body belong to it
        doc = None
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            doc = first.lineno - 1
            if lines[doc].strip() in ('"""', "'''", 'r"""', "r'''") and doc + 1 < len(lines):
                doc += 1  # the summary starts on the next line
        end = (node.end_lineno or node.lineno) - 1
        blocks.append(Block(node.name, start, start, header, min(signature_end, end), end, doc))
    return sorted(blocks, key=lambda block: block.header)


def _shaped_blocks(lines: list[str]) -> list[Block]:
    blocks = []
    indents = [indent_of(line) for line in lines]
    comments = _block_comment_lines(lines)
    for index, line in enumerate(lines):
        name = None if index in comments else definition_name(line)
        if name is None:
            continue
        signature_end = _signature_end(lines, index)
        if signature_end + 1 < len(lines) and lines[signature_end + 1].strip() == "{":
            signature_end += 1  # a brace on its own line opens the body
        end = _block_end(lines, indents, index, signature_end)
        decorated = index
        while decorated > 0 and _ANNOTATION_RE.match(lines[decorated - 1]):
            decorated -= 1
        start, doc = _doc_comment_above(lines, decorated)
        blocks.append(Block(name, start, decorated, index, signature_end, end, doc))
    return blocks


def definition_name(line: str) -> str | None:
    """The name a definition line defines; None when the line defines nothing."""
    stripped = line.strip()
    if not stripped or stripped.startswith(("//", "#", "*", "/*", "--", "'", '"', "<")):
        return None
    first_word = re.split(r"[^\w$]", stripped, maxsplit=1)[0]
    if first_word in _STATEMENT_WORDS:
        return None
    match = _KEYWORD_DEF_RE.match(line)
    if match and _TRAILING_COMMENT_RE.sub("", stripped).endswith(";"):
        return None  # a declaration (``struct s *p = ...;``), not a block
    match = match or _ASSIGNED_FUNCTION_RE.match(line)
    if not match:
        match = _CALL_HEADER_RE.match(line)
        if match and _is_call(line):
            return None
    if not match:
        return None
    name = match.group(1).rsplit(".", 1)[-1].rsplit("::", 1)[-1]
    return None if name in _NOT_A_NAME else name


_DOCSTRING_OPEN_RE = re.compile(r"""^\s*[rRbBuU]{0,2}(\"\"\"|\'\'\')""")


def outside_docstrings(lines: list[str], span: range) -> list[int]:
    """The lines of ``span`` that are not inside a string opening its line (a docstring): the
    code with its comments."""
    found: list[int] = []
    closing: str | None = None  # the quotes that end the docstring we are in
    for index in span:
        line = lines[index]
        if closing is not None:
            if closing in line:
                closing = None
            continue
        opened = _DOCSTRING_OPEN_RE.match(line)
        if opened:
            quotes = opened.group(1)
            if quotes not in line[opened.end() :]:
                closing = quotes
            continue
        found.append(index)
    return found


def _block_comment_lines(lines: list[str]) -> set[int]:
    """Lines inside ``/* ... */`` comments (their prose can look like definitions)."""
    inside: set[int] = set()
    open_comment = False
    for index, line in enumerate(lines):
        if open_comment:
            inside.add(index)
            open_comment = "*/" not in line
            continue
        start = line.find("/*")
        if start >= 0 and "*/" not in line[start + 2 :]:
            open_comment = True
            if not line[:start].strip():
                inside.add(index)
    return inside


def _is_call(line: str) -> bool:
    """Whether a ``name(...)`` line is a statement (a call, not a definition header)."""
    stripped = _TRAILING_COMMENT_RE.sub("", _strip_strings(line.strip()))
    head = stripped.split("(", 1)[0]
    if "=" in head or any(word.endswith(":") and not word.endswith("::") for word in head.split()):
        return True  # an assignment or an object field holding a call's value
    if _OPERATOR_RE.search(stripped) or stripped.endswith(";"):
        return True  # a condition or a statement
    return len(head.split()) < 2 and not stripped.endswith("{")  # ``foo(a, b)``: no return type


def _doc_comment_above(lines: list[str], decorated: int) -> tuple[int, int | None]:
    """Where the comment right above a definition starts, and its summary line (or None)."""
    start = decorated
    while start > 0 and _COMMENT_LINE_RE.match(lines[start - 1]):
        start -= 1
    if start == decorated:
        return decorated, None
    summary = next((i for i in range(start, decorated) if _COMMENT_TEXT_RE.search(lines[i])), start)
    return start, summary


def _signature_end(lines: list[str], header: int) -> int:
    """The last line of a signature: where its brackets balance again."""
    depth = 0
    last = min(len(lines), header + _MAX_SIGNATURE_LINES)
    for index in range(header, last):
        code = _strip_strings(lines[index])
        depth += code.count("(") + code.count("[") - code.count(")") - code.count("]")
        if depth <= 0:
            return index
    return header


def _block_end(lines: list[str], indents: list[int | None], header: int, sig_end: int) -> int:
    """The last line owned by the definition at ``header``: deeper lines and closers."""
    own = indents[header] or 0
    end = sig_end
    for index in range(sig_end + 1, len(lines)):
        indent = indents[index]
        if indent is None:
            continue
        if indent > own:
            end = index
        elif indent == own and _CLOSER_RE.match(lines[index]):
            end = index
            if lines[index].strip().startswith("end") or lines[index].strip() in ("}", "};"):
                break
        else:
            break
    return end


_STRING_RE = re.compile(r""""(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'""")


def _strip_strings(line: str) -> str:
    return _STRING_RE.sub('""', line)
