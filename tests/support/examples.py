"""The Python examples of a Markdown page, run as a reader would run them.

A ```` ```python ```` block runs as written in a fresh interpreter, offline, in an empty directory.
When the block right after it is fenced ```` ```text title="Output" ````, that is what the example
prints: the run must print exactly it, where ``...`` stands for any text (timings, paths, ids)
and a line holding only ``...`` for any lines. Blocks fenced ```` ```py ```` are illustrations
that need a live service and are not run.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

__all__ = ["CommandExample", "Example", "commands_in", "examples_in", "run_example", "run_page"]

_BLOCK = re.compile(
    r"^```python\n(?P<code>.*?)^```\n"
    r'(?:\s*^```text title="Output"\n(?P<output>.*?)^```\n)?',
    re.DOTALL | re.MULTILINE,
)


# a ```bash block holding one `headroom ...` command, then the ```text block of what it prints
_COMMAND = re.compile(
    r"^```bash\n(?P<command>headroom [^\n#]*?)\s*(?:#[^\n]*)?\n```\n"
    r"\s*^```text\n(?P<output>.*?)^```\n",
    re.DOTALL | re.MULTILINE,
)


@dataclass(frozen=True)
class CommandExample:
    """A ``headroom`` command a page shows with its output."""

    where: str
    command: str
    output: str


@dataclass(frozen=True)
class Example:
    """One runnable block: where it is, its code, and the output it shows (None if none)."""

    where: str
    code: str
    output: str | None


def examples_in(page: Path, root: Path) -> list[Example]:
    """The runnable examples of ``page``, named ``path:line`` relative to ``root``."""
    return [
        Example(where, match.group("code"), match.group("output"))
        for where, match in _found(_BLOCK, page, root)
    ]


def commands_in(page: Path, root: Path) -> list[CommandExample]:
    """The ``headroom`` commands ``page`` shows with their output, in page order."""
    return [
        CommandExample(where, match.group("command"), match.group("output"))
        for where, match in _found(_COMMAND, page, root)
    ]


def _found(pattern: re.Pattern[str], page: Path, root: Path) -> list[tuple[str, re.Match[str]]]:
    text = page.read_text(encoding="utf-8")
    name = page.relative_to(root).as_posix()
    return [
        (f"{name}:{text.count(chr(10), 0, match.start()) + 1}", match)
        for match in pattern.finditer(text)
    ]


def run_page(page: Path, root: Path, directory: Path) -> None:
    """Run ``page``'s Python examples, then its ``headroom`` commands, in order, in one
    directory (the examples write the files the commands read); compare what they print."""
    for example in examples_in(page, root):
        run_example(example, directory)
    for command in commands_in(page, root):
        arguments = [sys.executable, "-m", "headroom_core.cli", *shlex.split(command.command)[1:]]
        completed = subprocess.run(
            arguments, cwd=directory, capture_output=True, text=True, timeout=300
        )
        assert _matches(command.output, completed.stdout), (
            f"{command.where}: `{command.command}` printed something else than shown.\n"
            f"--- shown:\n{command.output}--- printed:\n{completed.stdout}{completed.stderr}"
        )


def run_example(example: Example, directory: Path) -> None:
    """Run ``example``; raise AssertionError when it fails, warns or prints something else."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    env["HF_HUB_OFFLINE"] = "1"
    completed = subprocess.run(
        [sys.executable, "-c", example.code],
        cwd=directory,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    where, stderr = example.where, completed.stderr[-3000:]
    assert completed.returncode == 0, f"{where} failed:\n{stderr}"
    assert "Warning" not in completed.stderr, f"{where} warned:\n{stderr}"
    if example.output is not None:
        assert _matches(example.output, completed.stdout), (
            f"{where} printed something else than it shows.\n--- shown:\n{example.output}"
            f"--- printed:\n{completed.stdout}"
        )


def _matches(shown: str, printed: str) -> bool:
    lines = []
    for line in shown.rstrip().split("\n"):
        if line.strip() == "...":
            lines.append(r"(?:.*\n)*?")
        else:
            lines.append(".*?".join(map(re.escape, line.rstrip().split("..."))) + r"[ \t]*\n")
    pattern = "".join(lines)
    return re.fullmatch(pattern, printed.lstrip("\n").rstrip() + "\n") is not None
