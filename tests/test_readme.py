"""Every ```python block of the README runs as written, offline, in a fresh interpreter.

Blocks fenced as ```py are illustrations that need a live service (an API key) and are not run.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.DOTALL | re.MULTILINE)


def _blocks() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    found = []
    for match in BLOCK.finditer(text):
        line = text.count("\n", 0, match.start()) + 1
        found.append((f"README.md:{line}", match.group(1)))
    return found


def test_readme_has_runnable_examples() -> None:
    assert len(_blocks()) >= 10


@pytest.mark.slow
@pytest.mark.parametrize(("where", "code"), _blocks(), ids=[where for where, _ in _blocks()])
def test_readme_example_runs_without_a_warning(where: str, code: str, tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if key != "PYTHONWARNINGS"}
    env["HF_HUB_OFFLINE"] = "1"
    completed = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, f"{where} failed:\n{completed.stderr[-3000:]}"
    assert "Warning" not in completed.stderr, f"{where} warned:\n{completed.stderr[-3000:]}"
