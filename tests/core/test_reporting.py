"""generate_report over a real SQLite metrics store."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser

import pytest
from sqlmodel import Session, create_engine

from headroom_core.errors import ConfigurationError
from headroom_core.reporting import generate_report
from headroom_core.results import SimulationResult
from headroom_core.storage import MetricsStore, RequestMetricsRow

NOW = datetime(2026, 3, 14, 15, 30, tzinfo=timezone.utc)


def _row(days_ago: int, saved: int, model: str = "gpt-4o", failed: bool = False):
    return RequestMetricsRow(
        created_at=NOW - timedelta(days=days_ago),
        request_id=f"req-{days_ago}-{saved}",
        model=model,
        mode="optimize",
        tokens_before=2000,
        tokens_after=2000 - saved,
        tokens_saved=saved,
        cost_before_usd=2000 * 2.5e-6,
        cost_after_usd=(2000 - saved) * 2.5e-6,
        transforms_applied=json.dumps(["smart_crusher"] if saved else []),
        transform_savings=json.dumps({"smart_crusher": saved} if saved else {}),
        failed=failed,
        error="tool_output_compression: RuntimeError: <boom>" if failed else None,
    )


@pytest.fixture
def store_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    MetricsStore(url).close()
    rows = [
        _row(0, 1200),
        _row(0, 300, model="claude-sonnet-4-5"),
        _row(1, 800),
        _row(3, 0, failed=True),
        _row(3, 500, model="<script>alert(1)</script>"),
    ]
    engine = create_engine(url)
    with Session(engine) as session:
        session.add_all(rows)
        session.commit()
    engine.dispose()
    return url


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.scripts += tag == "script" or any(name == "src" for name, _ in attrs)


def test_html_report_is_self_contained_with_a_bar_per_day(store_url, tmp_path):
    path = tmp_path / "report.html"
    html = generate_report(store_url, format="html", period="day", output_path=path)

    assert path.read_text(encoding="utf-8") == html
    parser = _Collector()
    parser.feed(html)
    assert parser.scripts == 0, "no scripts and no external resources"
    assert parser.tags.count("svg") == 1
    assert len(re.findall(r'<rect class="bar"', html)) == 3  # three distinct days
    assert "2,800 (28.0%)" in html  # 2,800 of 10,000 tokens saved
    assert "$0.0070" in html  # 2,800 tokens at $2.50 per million
    assert "claude-sonnet-4-5" in html and "smart_crusher" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "RuntimeError: &lt;boom&gt;" in html


def test_markdown_report_has_the_same_numbers(store_url):
    markdown = generate_report(store_url, format="markdown", period="week")
    assert markdown.startswith("# Headroom savings report")
    assert "| Requests | 5 |" in markdown
    assert "| Tokens saved | 2,800 (28.0%) |" in markdown
    assert "| smart_crusher | 4 | 2,800 |" in markdown
    assert "## Tokens saved per week" in markdown
    assert "| Failures (sent unchanged) | 1 |" in markdown


def test_time_window(store_url):
    markdown = generate_report(
        store_url, format="markdown", start_time=NOW - timedelta(days=2), end_time=NOW
    )
    assert "| Requests | 1 |" in markdown  # only the request of the day before NOW


def test_hourly_buckets(store_url):
    html = generate_report(store_url, format="html", period="hour")
    assert "2026-03-14 15:00" in html


def test_empty_store_gives_a_valid_report(tmp_path):
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    html = generate_report(url, format="html")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "No requests recorded yet." in html
    assert "No requests recorded yet." in generate_report(url, format="markdown")


@pytest.mark.parametrize(("argument", "value"), [("format", "pdf"), ("period", "month")])
def test_bad_format_or_period_names_the_field(tmp_path, argument, value):
    with pytest.raises(ConfigurationError, match=argument):
        generate_report(f"sqlite:///{tmp_path / 'x.db'}", **{argument: value})


@pytest.mark.postgres
def test_report_from_postgres(postgres_url):
    with MetricsStore(postgres_url) as store:
        store.record(
            SimulationResult(tokens_before=900, tokens_after=300, model="gpt-4o", request_id="pg-r")
        )
    html = generate_report(postgres_url, format="html", period="hour")
    assert "<svg" in html and 'class="bar"' in html
