"""Every ```python block of the README runs as written, offline, in a fresh interpreter, without a
warning, and prints what the README shows (see ``tests/support/examples.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.examples import Example, examples_in, run_example

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
EXAMPLES = examples_in(README, ROOT)


def test_readme_is_short_and_holds_the_two_commands() -> None:
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "make demo" in text and "make test" in text


def test_readme_has_runnable_examples_with_their_output() -> None:
    assert len(EXAMPLES) >= 3
    assert all(example.output is not None for example in EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=[example.where for example in EXAMPLES])
def test_readme_example_runs_and_prints_what_it_shows(example: Example, tmp_path: Path) -> None:
    run_example(example, tmp_path)
