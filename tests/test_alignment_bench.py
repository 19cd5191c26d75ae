"""The alignment benchmark runs end to end on the sample conversation."""

from __future__ import annotations

from benchmarks.alignment_bench import row
from headroom_core.engine import HeadroomEngine
from headroom_core.samples import load_sample_conversation


def test_a_fitted_request_row_counts_every_kind_of_message() -> None:
    sample = load_sample_conversation()

    cells = row(HeadroomEngine(), sample, "fitted", 9_000, rounds=3).strip("|").split("|")

    out, kept, rewritten, inserted = (int(cell) for cell in cells[1:5])
    assert out == kept + rewritten + inserted
    assert out < len(sample["messages"])
    assert kept > 0 and rewritten > 0 and inserted > 0
    assert float(cells[5]) < float(cells[6])  # aligning costs less than optimizing
