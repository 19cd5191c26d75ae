"""Recognise lines that report a problem: errors, warnings, exceptions, failures, bad exit codes,
and severities inside codes (``ImportBailout.Error:1331``, ``ERR_CONNECTION_REFUSED``).

These lines are what a reader of a log looks for first, so the crusher never drops them. The
check has two halves so that a log's many lines cost little: :func:`has_problem_words` depends
only on a line's words and shape, so it is asked once per template; :func:`has_problem_values`
looks at the values a template masks (exit codes, HTTP statuses, HRESULTs).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = ["has_problem_values", "has_problem_words", "is_problem_line", "problem_flags"]

_PROBLEM_WORDS = frozenset((
    "error", "errors", "err", "errno", "warn", "warning", "warnings", "exception", "exceptions",
    "fail", "failed", "failure", "failures", "failing", "fatal", "critical", "crit", "severe",
    "panic", "panicked", "emerg", "emergency", "alert", "abort", "aborted", "denied", "refused",
    "forbidden", "unauthorized", "unauthorised", "timeout", "segfault", "killed", "oom",
    "unreachable", "unavailable", "corrupt", "corrupted", "invalid", "cannot", "can't",
    "couldn't", "mismatch", "traceback", "stacktrace", "assert", "assertion", "problem", "halt",
    "halted", "rejected", "violation", "deadlock", "overflow", "underflow",
))
_WORD_RE = re.compile(r"[A-Za-z']+")
# Signs of a problem besides words: phrases, exception names, severities inside codes and dotted
# names, which templates mask (``ImportBailout.Error:1331``, ``ERR_CONNECTION_REFUSED``,
# ``E1234``, errno names); one search for all of them
_SIGNS_RE = re.compile(
    r"(?i:\b(?:timed?\s?out|segmentation\sfault|core\sdumped|could\snot|unable\sto|not\sfound"
    r"|no\ssuch|stack\strace)\b)"
    r"|[a-z](?:Error|Exception|Fault|Failure)\b"
    r"|(?<=\w)\.(?i:error|errors|fatal|failure|failed|exception|critical|panic)\b"
    r"|\bERR_[A-Z0-9_]+|\b[EF]\d{3,5}\b"
    r"|\bE(?:NOENT|ACCES|PERM|CONNREFUSED|CONNRESET|TIMEDOUT|PIPE|NOSPC|NOMEM|ADDRINUSE)\b"
)
# Shapes that mark a problem, matched at the start of a line or of its template (whose values
# are masked as ``<num>``/``<time>`` and whose whitespace is collapsed).
_SHAPE_RE = re.compile(
    r"""
    \s*at\s+[\w$.<>]+\(.*\)\s*$                                   # Java stack frame
    | \s*File\s+".+",\s+line\s+(?:\d+|<num>)                      # Python stack frame
    | \s*(?:<time>|(?:\d{2}-\d{2}\s+)?[\d:.]+)\s+(?:<num>|\d+)\s+(?:<num>|\d+)\s+[EWF]\s
                                                              # logcat E/W/F level column
    | [EWF]/[\w.$-]+\s*\(                                         # logcat brief format E/Tag(
    """,
    re.VERBOSE,
)
# "no errors", "0 failures", "errors: 0": a problem word that says there is none
_NEGATED_RE = re.compile(
    r"\b(?:no|0|zero|without|never)\s+(?:errors?|warnings?|failures?|failed|exceptions?|problems?)\b"
    r"|\b(?:errors?|warnings?|failures?|failed|exceptions?)\s*[:=]\s*0\b",
    re.IGNORECASE,
)
# a template whose count of problems is a masked number: the line's own number decides
_COUNTED_RE = re.compile(
    r"<num>\s+(?:errors?|warnings?|failures?|failed|exceptions?)\b"
    r"|\b(?:errors?|warnings?|failures?|failed|exceptions?)\s*[:=]\s*<num>",
    re.IGNORECASE,
)
# what templates mask that may hold a severity: dotted names with a port, numbered codes
_MASKED_CODE_RE = re.compile(r"<addr>|\b[EF]<num>")
_MASKED_SIGNS_RE = re.compile(
    r"(?<=\w)\.(?i:error|errors|fatal|failure|failed|exception|critical|panic)\b|\b[EF]\d{3,5}\b"
)
_VALUE_TRIGGERS = ("exit", "return", "http/", "status", "hresult")
_VALUE_RE = re.compile(
    r"""
    (?:exit(?:ed)?\s+(?:with\s+)?(?:code|status)|exit_code|returncode|return\scode)
      [\s:=]+-?[1-9]\d*\b
    | HTTP/\d(?:\.\d)?"?\s+[45]\d\d\b                    # HTTP 4xx/5xx in access logs
    | status(?:[\s:=]+|\scode\s)[45]\d\d\b
    | HRESULT\s*=\s*0x8
    """,
    re.IGNORECASE | re.VERBOSE,
)


def has_problem_words(text: str) -> bool:
    """Whether ``text`` (a line or its template) holds a problem word (error, failed,
    timeout...), an exception name, a severity inside a code (``Foo.Error:1331``, ``ERR_...``),
    or the shape of a stack frame or an E/W/F logcat line. Words that say there is no problem
    ("no errors", "0 failures") do not count."""
    if _SHAPE_RE.match(text) or _SIGNS_RE.search(text):
        return True
    if not _problem_words_in(text):
        return False
    return _NEGATED_RE.search(text) is None or _problem_words_in(_NEGATED_RE.sub(" ", text))


def _problem_words_in(text: str) -> bool:
    return not _PROBLEM_WORDS.isdisjoint(word.lower() for word in _WORD_RE.findall(text))


def may_show_problem_values(text: str) -> bool:
    """Whether ``text`` (a template) names a field whose value can mark a problem (exit code,
    status...), or masks a code that may carry a severity (a dotted name, ``E1234``)."""
    lowered = text.lower()
    return any(trigger in lowered for trigger in _VALUE_TRIGGERS) or bool(
        _MASKED_CODE_RE.search(text)
    )


def has_problem_values(line: str) -> bool:
    """Whether ``line`` shows a problem through a value: a non-zero exit code, an HTTP 4xx/5xx
    status, a failing HRESULT, a severity inside a dotted name or a numbered code (values a
    template masks)."""
    lowered = line.lower()
    if any(trigger in lowered for trigger in _VALUE_TRIGGERS) and _VALUE_RE.search(line):
        return True
    return _MASKED_SIGNS_RE.search(line) is not None


def is_problem_line(line: str) -> bool:
    """Whether ``line`` reports an error, warning, exception, failure or a non-zero status."""
    return has_problem_words(line) or has_problem_values(line)


def problem_flags(template_texts: Sequence[str], lines: Sequence[str]) -> list[bool]:
    """:func:`is_problem_line` for each line, judging the words once per template."""
    verdicts: dict[str, tuple[bool, bool, bool]] = {}
    flags = []
    for text, line in zip(template_texts, lines, strict=True):
        verdict = verdicts.get(text)
        if verdict is None:
            counted = _COUNTED_RE.search(text) is not None
            words = has_problem_words(text) and not counted
            verdict = verdicts[text] = (words, counted, may_show_problem_values(text))
        words, counted, values = verdict
        flags.append(
            words
            or (counted and has_problem_words(line))
            or (values and has_problem_values(line))
        )
    return flags
