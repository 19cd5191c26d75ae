"""The tool-output benchmark runs end to end on a small corpus and reports every column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import tool_outputs_bench

LINES = Path(__file__).resolve().parent / "data" / "lines"
KINDS = {"hdfs.log": "log", "apache.log": "log", "grep_requester.txt": "search"}


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cases = json.loads((LINES / "cases.json").read_text(encoding="utf-8"))
    for name, kind in KINDS.items():
        folder = tmp_path / "corpus" / "public" / kind
        folder.mkdir(parents=True, exist_ok=True)
        case = {"id": name, "kind": kind, **cases[name], "content": (LINES / name).read_text()}
        (folder / f"{name}.json").write_text(json.dumps(case), encoding="utf-8")
    monkeypatch.setenv("HEADROOM_CORPUS", str(tmp_path / "corpus"))
    return tmp_path


def test_benchmark_writes_per_kind_and_per_case_tables(corpus: Path) -> None:
    output = corpus / "tool_outputs.md"

    tool_outputs_bench.main(["--no-peer", "--output", str(output)])

    table = output.read_text(encoding="utf-8")
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ") for line in table.splitlines()}
    assert {"ours / log", "ours / search", "identity / all", "head truncation / all"} <= set(rows)
    ours, identity = rows["ours / all"], rows["identity / all"]
    assert float(ours[3].rstrip("%")) > 0 and float(identity[3].rstrip("%")) == 0
    assert float(ours[4]) == 1.0  # every needle of these cases survives
    assert "hdfs.log" in rows and "grep_requester.txt" in rows
    assert "one tiktoken pass" in table
