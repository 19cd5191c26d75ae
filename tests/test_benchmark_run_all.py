"""The one-command benchmark runs end to end on a two-case corpus and writes its table and plot."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import run_all

DATA = Path(__file__).resolve().parent / "data"
CASES = (("log", "loghub-hdfs-a.json"), ("search", "grep-pygithub-get_repo.json"))


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for kind, name in CASES:
        folder = tmp_path / "corpus" / "public" / kind
        folder.mkdir(parents=True)
        (folder / name).write_text((DATA / name).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.setenv("HEADROOM_CORPUS", str(tmp_path / "corpus"))
    return tmp_path


@pytest.mark.slow
def test_run_all_writes_the_summary_table_and_plot(
    corpus: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    output = corpus / "results"

    run_all.main(["--no-peer", "--no-similarity", "--output", str(output)])

    summary = (output / "summary.md").read_text(encoding="utf-8")
    assert "2 public corpus cases" in summary
    rows = {
        line.split(" | ")[0].lstrip("| "): line.split(" | ")
        for line in summary.splitlines()
        if line.startswith("| ") and " / " not in line
    }
    for method in (run_all.ENGINE, "identity", "head truncation", run_all.TRIM):
        assert rows[method][1] == "2"  # both cases ran
    assert rows["identity"][3] == "0.0%"
    assert rows["identity"][4] == "1.000"  # nothing removed, every needle present
    assert float(rows[run_all.ENGINE][3].rstrip("%")) > 0
    assert (output / "summary.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "summary.md" in capsys.readouterr().out
