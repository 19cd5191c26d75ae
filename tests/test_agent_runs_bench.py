"""The agent-runs benchmark replays a run step by step and reports every column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import agent_runs_bench

LINES = Path(__file__).resolve().parent / "data" / "lines"
KINDS = {"hdfs.log": "log", "apache.log": "log", "grep_requester.txt": "search"}


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cases = json.loads((LINES / "cases.json").read_text(encoding="utf-8"))
    for name, kind in KINDS.items():
        folder = tmp_path / "corpus" / "public" / kind
        folder.mkdir(parents=True, exist_ok=True)
        case = {
            "id": name,
            "kind": kind,
            "source": f"tests/data/lines/{name}",
            **cases[name],
            "content": (LINES / name).read_text(),
        }
        (folder / f"{name}.json").write_text(json.dumps(case), encoding="utf-8")
    monkeypatch.setenv("HEADROOM_CORPUS", str(tmp_path / "corpus"))
    return tmp_path


def test_runs_are_replayed_at_every_window_and_reported(corpus: Path) -> None:
    assert agent_runs_bench.main(["--no-peer", "--out", str(corpus)]) == 0

    report = (corpus / "agent_runs.md").read_text(encoding="utf-8")
    assert "2 runs" in report  # the corpus run and the sample conversation
    for window in agent_runs_bench.WINDOWS:
        assert f"## Window: {window}" in report
    headroom = [line for line in report.splitlines() if line.startswith("| Headroom |")]
    assert len(headroom) == len(agent_runs_bench.WINDOWS)
    assert all("| 100% |" in line for line in headroom)  # every step fits every window
    assert (corpus / "agent_runs.png").stat().st_size > 0
