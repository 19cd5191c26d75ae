"""SavingsTotals adds up live results and stored rows alike."""

from __future__ import annotations

from datetime import datetime, timezone

from headroom_core.results import RequestMetrics, SavingsTotals, SimulationResult


def test_a_live_result_and_its_stored_row_add_the_same_numbers():
    live = SimulationResult(
        tokens_before=1_000,
        tokens_after=400,
        estimated_cost_before_usd=0.0025,
        estimated_cost_after_usd=0.001,
        failed=False,
    )
    stored = RequestMetrics(
        timestamp=datetime.now(timezone.utc),
        request_id="r1",
        model="gpt-4o",
        mode="optimize",
        tokens_before=1_000,
        tokens_after=400,
        tokens_saved=600,
        cost_before_usd=0.0025,
        cost_after_usd=0.001,
    )
    from_live, from_stored = SavingsTotals(), SavingsTotals()
    from_live.add(live)
    from_stored.add(stored)

    assert from_live == from_stored
    assert from_live.tokens_saved == 600 and from_live.savings_percent == 60.0
    assert abs(from_live.cost_saved_usd - 0.0015) < 1e-12


def test_unknown_prices_and_failures():
    totals = SavingsTotals()
    totals.add(SimulationResult(tokens_before=50, tokens_after=50, failed=True))
    totals.add(SimulationResult(tokens_before=0, tokens_after=0))

    assert (totals.requests, totals.failures, totals.cost_saved_usd) == (2, 1, 0.0)
    assert totals.savings_percent == 0.0
    assert SavingsTotals().savings_percent == 0.0
