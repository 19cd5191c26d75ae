"""Code-outline benchmark: tokens saved and needle recall on real source files, through compress().

Run: ``python -m benchmarks.code_outline_bench``.

Each case is a real source file of the installed Python (stdlib, langchain-core) or of npm / zlib
when present, read back as a ``read_file`` tool result after a user question about one function,
class or constant. The needles were chosen from the file before any outline was made: the
definition line, the line that answers the question (its return, error or constant), and the
file's first and last non-blank lines. Next to ours: head truncation to the same number of tokens.
Cases whose file is missing are skipped, saying so.
"""

from __future__ import annotations

import importlib.util
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from headroom_core import compress
from headroom_core.messages import content_text
from headroom_core.tokenizer import get_tokenizer


@dataclass(frozen=True)
class Case:
    """A question about one file and the verbatim lines its answer needs."""

    name: str
    location: str  # "module:<dotted name>" or a file path
    query: str
    needles: tuple[str, ...]


CASES = (
    Case(
        "json.decoder",
        "module:json.decoder",
        "What does py_scanstring return, and what error does it raise for an invalid escape?",
        (
            "def py_scanstring(s, end, strict=True,",
            "    return ''.join(chunks), end",
            '                msg = "Invalid \\\\escape: {0!r}".format(esc)',
        ),
    ),
    Case(
        "http.client",
        "module:http.client",
        "How does HTTPResponse._read_status read the status line, and what is _MAXLINE?",
        (
            "    def _read_status(self):",
            '            raise LineTooLong("status line")',
            "_MAXLINE = 65536",
        ),
    ),
    Case(
        "inspect",
        "module:inspect",
        "What does getmembers return and how does it use the predicate?",
        (
            "def getmembers(object, predicate=None):",
            "    return _getmembers(object, predicate, getattr)",
        ),
    ),
    Case(
        "argparse",
        "module:argparse",
        "What does ArgumentParser.parse_known_args return?",
        (
            "    def parse_known_args(self, args=None, namespace=None):",
            "        return namespace, args",
        ),
    ),
    Case(
        "langchain_core.messages.utils",
        "module:langchain_core.messages.utils",
        "Which strategies does trim_messages accept, and what happens with an unknown one?",
        (
            "def trim_messages(",
            '    msg = f"Unrecognized {strategy=}. Supported strategies are '
            "'last' and 'first'.\"  # type: ignore[unreachable]",
        ),
    ),
    Case(
        "subprocess",
        "module:subprocess",
        "What does subprocess.run return?",
        (
            "def run(*popenargs,",
            "    return CompletedProcess(process.args, retcode, stdout, stderr)",
        ),
    ),
    Case(
        "pathlib",
        "module:pathlib",
        "How does Path.mkdir handle parents and exist_ok?",
        (
            "    def mkdir(self, mode=0o777, parents=False, exist_ok=False):",
            "            if not exist_ok or not self.is_dir():",
        ),
    ),
    Case(
        "collections",
        "module:collections",
        "What does namedtuple do when rename is true?",
        (
            "def namedtuple(typename, field_names, *, rename=False, defaults=None, module=None):",
            "    if rename:",
        ),
    ),
    Case(
        "postcss-selector-parser parser.js",
        "/usr/lib/node_modules/npm/node_modules/postcss-selector-parser/dist/parser.js",
        "How does Parser.prototype.parentheses report unbalanced parentheses?",
        (
            "    Parser.prototype.parentheses = function () {",
            '            return this.expected("closing parenthesis", '
            "this.currToken[tokenize_1.FIELDS.START_POS]);",
        ),
    ),
    Case(
        "zlib gun.c",
        "/usr/share/doc/zlib1g-dev/examples/gun.c",
        "In lunpipe, what error is returned for an invalid lzw code?",
        (
            "local int lunpipe(unsigned have, z_const unsigned char *next, struct ind *indp,",
            '        strm->msg = (char *)"invalid lzw code";',
        ),
    ),
)


def source_of(location: str) -> str | None:
    """The file's text, or None when it is not installed here."""
    if location.startswith("module:"):
        spec = importlib.util.find_spec(location.removeprefix("module:"))
        path = Path(spec.origin) if spec and spec.origin else None
    else:
        path = Path(location)
    if path is None or not path.is_file():
        return None
    return path.read_text(encoding="utf-8")


def messages_for(case: Case, source: str) -> list[dict[str, Any]]:
    """The case as a request: system, the question, the read_file call, the file."""
    call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "read_file", "arguments": f'{{"path": "{case.name}"}}'},
    }
    return [
        {"role": "system", "content": "You answer questions about source code."},
        {"role": "user", "content": case.query},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": source},
    ]


def main() -> None:
    tokenizer = get_tokenizer("gpt-4o")
    rows = []
    for case in CASES:
        source = source_of(case.location)
        if source is None:
            print(f"skipped {case.name}: {case.location} is not installed here")
            continue
        filled = [line for line in source.split("\n") if line.strip()]
        needles = (*case.needles, filled[0], filled[-1])
        missing = [needle for needle in needles if needle not in source]
        if missing:
            raise SystemExit(f"{case.name}: needles not in the file itself: {missing}")
        start = time.perf_counter()
        result = compress(messages_for(case, source), model="gpt-4o")
        latency = 1000 * (time.perf_counter() - start)
        output = content_text(result.messages[-1])
        before = tokenizer.count_text(source)
        after = tokenizer.count_text(output)
        head = tokenizer.encoding.decode(tokenizer.encoding.encode_ordinary(source)[:after])
        recall = sum(needle in output for needle in needles) / len(needles)
        head_recall = sum(needle in head for needle in needles) / len(needles)
        lost = [needle for needle in needles if needle not in output]
        rows.append((case.name, before, after, recall, head_recall, latency, lost))
    print("| file | tokens | outline | saved | recall | head-truncation recall | ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for name, before, after, recall, head_recall, latency, _ in rows:
        saved = 1 - after / before
        print(
            f"| {name} | {before} | {after} | {saved:.1%} | {recall:.2f} | {head_recall:.2f} "
            f"| {latency:.0f} |"
        )
    total_before = sum(row[1] for row in rows)
    total_after = sum(row[2] for row in rows)
    print(
        f"\nall: {total_before} -> {total_after} tokens, saved {1 - total_after / total_before:.1%}"
        f"; needle recall {statistics.mean(row[3] for row in rows):.2f}"
        f" (head truncation to the same size {statistics.mean(row[4] for row in rows):.2f})"
    )
    for name, *_, lost in rows:
        if lost:
            print(f"{name} lost: {lost}")


if __name__ == "__main__":
    main()
