"""Large outputs: crushed in full up to tens of megabytes; above that, a documented cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from headroom_core.retrieval import InMemoryOriginalsStore, retrieve
from headroom_core.tokenizer import get_tokenizer
from headroom_core.transforms import router as router_module
from headroom_core.transforms._lines.severity import is_problem_line
from headroom_core.transforms._lines.templates import templates_of
from headroom_core.transforms.router import ContentRouter
from tests.support.elision import assert_no_unmarked_gap

DATA = Path(__file__).parents[2] / "data"
TOKENIZER = get_tokenizer("gpt-4o")


def _repeated_log(size: int) -> str:
    logs = [(DATA / "lines" / name).read_text() for name in ("hdfs.log", "linux.log", "apache.log")]
    text = "\n".join(logs)
    while len(text) < size:
        text += "\n" + text
    return text


@pytest.mark.slow
def test_a_3_mb_log_and_a_2_5_mb_json_array_shrink_to_a_fifth_keeping_their_errors() -> None:
    log = _repeated_log(3_000_000)
    result = ContentRouter(store=None).route(log, query="which errors?", tokenizer=TOKENIZER)
    assert result.tokens_after <= 0.2 * result.tokens_before
    lines = list(dict.fromkeys(log.split("\n")))
    templates = templates_of(lines).texts
    by_template: dict[str, set[str]] = {}
    for line, template in zip(lines, templates, strict=True):
        if is_problem_line(line):
            by_template.setdefault(template, set()).add(line)
    kept = [line.split("  [")[0] for line in result.compressed.split("\n")]  # without notes
    assert by_template  # every problem template shows one of its lines
    assert all(any(line in found for line in kept) for found in by_template.values())

    rows = json.loads(json.loads((DATA / "engine_cars_200.json").read_text())["content"])
    array: list[dict] = []
    while len(json.dumps(array)) < 2_500_000:
        array += [dict(row) for row in rows]
    array[4321]["error"] = "sensor timeout on the dynamometer"
    result = ContentRouter(store=None).route(json.dumps(array), tokenizer=TOKENIZER)
    assert result.tokens_after <= 0.2 * result.tokens_before
    assert "sensor timeout on the dynamometer" in result.compressed


def test_above_the_cap_the_output_is_cut_to_head_tail_and_problem_lines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(router_module, "MAX_CRUSH_CHARS", 100_000)
    text = _repeated_log(300_000)
    lines = text.split("\n")
    store = InMemoryOriginalsStore()
    result = ContentRouter(store=store).route(text, tokenizer=TOKENIZER)

    assert result.strategy == "oversized_cut"
    shown = result.compressed.split("\n")
    assert shown[:200] == lines[:200]
    assert lines[-100:] == shown[-101:-1]
    problems = [line for line in lines[200:-100] if is_problem_line(line)]
    assert problems and all(line in shown for line in problems)
    assert_no_unmarked_gap(text, result.compressed)
    assert "above what Headroom crushes" in shown[-1] and result.retrieval_key in shown[-1]
    assert retrieve(result.retrieval_key, store=store) == lines
