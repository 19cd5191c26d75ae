"""Recognise lines that report a problem: errors, warnings, exceptions, failures, bad exit codes.

These lines are what a reader of a log looks for first, so the crusher never drops them.
"""

from __future__ import annotations

import re

__all__ = ["is_problem_line"]

_PROBLEM_RE = re.compile(
    r"""
    \b(?:error|errors|err|errno|warn|warning|warnings|exception|exceptions|fail|failed|failure|failures
       |failing|fatal|critical|crit|severe|panic|panicked|emerg|emergency|alert|abort|aborted
       |denied|refused|forbidden|unauthori[sz]ed|timed?\s?out|timeout|segfault|segmentation\sfault
       |core\sdumped|killed|oom|unreachable|unavailable|corrupt(?:ed)?|invalid|cannot|can't|couldn't
       |could\snot|unable\sto|not\sfound|no\ssuch|mismatch|traceback|stack\s?trace|assert(?:ion)?(?:error)?
       |problem|halt(?:ed)?|rejected|violation|deadlock|overflow|underflow)\b
    | \b[A-Z][A-Za-z]*(?:Error|Exception|Fault|Failure)\b        # ValueError, NullPointerException
    | ^\s+at\s+[\w$.<>]+\(.*\)\s*$                                # Java stack frame
    | ^\s+File\s+".+",\s+line\s+\d+                               # Python stack frame
    | ^\s*(?:\d{2}-\d{2}\s+)?[\d:.]+\s+\d+\s+\d+\s+[EWF]\s   # logcat E/W/F level column
    | ^[EWF]/[\w.$-]+\s*\(                                   # logcat brief format E/Tag(
    | \b(?:exit(?:ed)?\s+(?:with\s+)?(?:code|status)|exit_code|returncode|return\scode)
      [\s:=]+-?[1-9]\d*\b
    | \bHTTP/\d(?:\.\d)?"?\s+[45]\d\d\b                             # HTTP 4xx/5xx in access logs
    | \bstatus(?:[\s:=]+|\scode\s)[45]\d\d\b
    | \bE_FAIL\b|\bHRESULT\s*=\s*0x8
    """,
    re.IGNORECASE | re.VERBOSE,
)


def is_problem_line(line: str) -> bool:
    """Whether ``line`` reports an error, warning, exception, failure or a non-zero status."""
    return _PROBLEM_RE.search(line) is not None
