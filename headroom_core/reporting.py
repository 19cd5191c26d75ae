"""Reports over stored metrics: a self-contained HTML page and a Markdown summary.

The HTML page needs nothing from the network: the chart of tokens saved per period is inline SVG
and the styles are inline CSS, so it can be mailed, attached to a ticket or opened offline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Literal

from headroom_core.errors import ConfigurationError
from headroom_core.results import RequestMetrics, SavingsTotals

__all__ = ["generate_report"]

ReportFormat = Literal["html", "markdown"]
Period = Literal["hour", "day", "week"]
_FORMATS = ("html", "markdown")
_PERIODS = ("hour", "day", "week")
_RECENT_FAILURES = 10


@dataclass
class _Report:
    """Metrics grouped for display."""

    period: str
    total: SavingsTotals = field(default_factory=SavingsTotals)
    by_period: dict[datetime, SavingsTotals] = field(default_factory=dict)
    by_model: dict[str, SavingsTotals] = field(default_factory=dict)
    by_transform: dict[str, list[int]] = field(default_factory=dict)  # name -> [requests, saved]
    failures: list[RequestMetrics] = field(default_factory=list)
    first: datetime | None = None
    last: datetime | None = None


def generate_report(
    store_url: str,
    format: ReportFormat = "html",
    period: Period = "day",
    output_path: str | Path | None = None,
    *,
    start_time: datetime | None = None,
    end_time: datetime | None = None,
) -> str:
    """Summarise the metrics in a store as HTML or Markdown.

    Args:
        store_url: URL of the metrics store (``sqlite:///headroom.db``, ``postgresql+psycopg://...``).
        format: ``"html"`` (a self-contained page with an SVG chart) or ``"markdown"``.
        period: Width of the chart's buckets: ``"hour"``, ``"day"`` or ``"week"``.
        output_path: When given, the report is also written to this file.
        start_time: Only requests at or after this time (naive datetimes are UTC).
        end_time: Only requests before this time.

    Returns:
        The report text. An empty store gives a valid report that says no requests were recorded.

    Raises:
        ConfigurationError: ``format`` or ``period`` is not one of the allowed values.
        StorageError: The store cannot be read.

    Examples:
        >>> html = generate_report("sqlite:///headroom.db", format="html", period="day")
    """
    if format not in _FORMATS:
        raise ConfigurationError(
            f"Invalid value for format: {format!r}. Allowed: {', '.join(_FORMATS)}.",
            details={"field": "format", "value": format, "allowed": list(_FORMATS)},
        )
    if period not in _PERIODS:
        raise ConfigurationError(
            f"Invalid value for period: {period!r}. Allowed: {', '.join(_PERIODS)}.",
            details={"field": "period", "value": period, "allowed": list(_PERIODS)},
        )
    from headroom_core.storage import MetricsStore

    with MetricsStore(store_url) as store:
        rows = store.query(start_time, end_time, limit=None)
    report = _aggregate(rows, period)
    text = _render_html(report) if format == "html" else _render_markdown(report)
    if output_path is not None:
        Path(output_path).write_text(text, encoding="utf-8")
    return text


def _bucket_start(moment: datetime, period: str) -> datetime:
    moment = moment.astimezone(timezone.utc)
    if period == "hour":
        return moment.replace(minute=0, second=0, microsecond=0)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return day
    return day - timedelta(days=day.weekday())


def _aggregate(rows: Sequence[RequestMetrics], period: str) -> _Report:
    report = _Report(period=period)
    for row in sorted(rows, key=lambda r: r.timestamp):
        report.total.add(row)
        report.by_period.setdefault(_bucket_start(row.timestamp, period), SavingsTotals()).add(row)
        report.by_model.setdefault(row.model or "(unknown)", SavingsTotals()).add(row)
        for name, saved in row.transform_savings.items():
            entry = report.by_transform.setdefault(name, [0, 0])
            entry[0] += 1
            entry[1] += saved
        if row.failed:
            report.failures.append(row)
    if rows:
        report.first = min(row.timestamp for row in rows)
        report.last = max(row.timestamp for row in rows)
    report.failures = report.failures[-_RECENT_FAILURES:][::-1]
    return report


def _label(moment: datetime, period: str) -> str:
    if period == "hour":
        return moment.strftime("%Y-%m-%d %H:00")
    if period == "week":
        return "week of " + moment.strftime("%Y-%m-%d")
    return moment.strftime("%Y-%m-%d")


def _headline(report: _Report) -> list[tuple[str, str]]:
    total = report.total
    return [
        ("Requests", f"{total.requests:,}"),
        ("Tokens before", f"{total.tokens_before:,}"),
        ("Tokens saved", f"{total.tokens_saved:,} ({total.savings_percent:.1f}%)"),
        ("Cost saved", f"${total.cost_saved_usd:,.4f}"),
        ("Failures (sent unchanged)", f"{total.failures:,}"),
    ]


def _tables(report: _Report) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables as (title, header, rows) so HTML and Markdown show the same data."""
    periods = [
        [
            _label(start, report.period),
            f"{t.requests:,}",
            f"{t.tokens_saved:,}",
            f"{t.savings_percent:.1f}%",
        ]
        for start, t in sorted(report.by_period.items())
    ]
    models = [
        [model, f"{t.requests:,}", f"{t.tokens_before:,}", f"{t.tokens_saved:,}",
         f"{t.savings_percent:.1f}%", f"${t.cost_saved_usd:,.4f}"]
        for model, t in sorted(report.by_model.items(), key=lambda item: -item[1].tokens_saved)
    ]  # fmt: skip
    transforms = [
        [name, f"{requests:,}", f"{saved:,}"]
        for name, (requests, saved) in sorted(
            report.by_transform.items(), key=lambda item: -item[1][1]
        )
    ]
    failures = [
        [row.timestamp.strftime("%Y-%m-%d %H:%M:%S"), row.model, row.request_id, row.error or ""]
        for row in report.failures
    ]
    return [
        (
            f"Tokens saved per {report.period}",
            ["Period", "Requests", "Tokens saved", "Saved"],
            periods,
        ),
        (
            "By model",
            ["Model", "Requests", "Tokens before", "Tokens saved", "Saved", "Cost saved"],
            models,
        ),
        ("By transform", ["Transform", "Requests", "Tokens saved"], transforms),
        ("Recent failures", ["Time (UTC)", "Model", "Request", "Error"], failures),
    ]


def _span(report: _Report) -> str:
    if report.first is None or report.last is None:
        return "No requests recorded yet."
    return (
        f"{report.first.strftime('%Y-%m-%d %H:%M')} to {report.last.strftime('%Y-%m-%d %H:%M')} UTC"
    )


def _render_markdown(report: _Report) -> str:
    lines = ["# Headroom savings report", "", _span(report), ""]
    if not report.total.requests:
        return "\n".join(lines)
    lines += ["| Metric | Value |", "| --- | --- |"]
    lines += [f"| {name} | {value} |" for name, value in _headline(report)]
    for title, header, rows in _tables(report):
        if not rows:
            continue
        lines += [
            "",
            f"## {title}",
            "",
            "| " + " | ".join(header) + " |",
            "|" + " --- |" * len(header),
        ]
        lines += [
            "| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows
        ]
    return "\n".join(lines) + "\n"


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2rem auto;max-width:64rem;
color:#1f2933;padding:0 1rem}h1{margin-bottom:.2rem}.span{color:#52606d;margin-top:0}
.cards{display:flex;flex-wrap:wrap;gap:.8rem;margin:1.2rem 0}.card{border:1px solid #d9e2ec;
border-radius:.5rem;padding:.6rem 1rem;min-width:9rem}.card b{display:block;font-size:1.3rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{text-align:left;
padding:.35rem .6rem;border-bottom:1px solid #e4e7eb;font-variant-numeric:tabular-nums}
th{background:#f5f7fa}svg{max-width:100%;height:auto}svg text{font-size:11px;fill:#52606d}
"""


def _chart_svg(report: _Report) -> str:
    """Bars of tokens saved per period, as inline SVG."""
    buckets = sorted(report.by_period.items())
    width, height, left, bottom, top = 880, 260, 70, 40, 20
    plot_w, plot_h = width - left - 10, height - bottom - top
    peak = max((t.tokens_saved for _, t in buckets), default=0) or 1
    slot = plot_w / max(len(buckets), 1)
    bar_w = max(min(slot * 0.7, 60), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Tokens saved per {report.period}">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 10}" y2="{top + plot_h}" '
        'stroke="#9aa5b1"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end">{peak:,}</text>',
        f'<text x="{left - 6}" y="{top + plot_h}" text-anchor="end">0</text>',
    ]
    label_every = max(1, len(buckets) // 12)
    for index, (start, totals) in enumerate(buckets):
        bar_h = plot_h * totals.tokens_saved / peak
        x = left + index * slot + (slot - bar_w) / 2
        label = escape(_label(start, report.period))
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{top + plot_h - bar_h:.1f}" width="{bar_w:.1f}" '
            f'height="{bar_h:.1f}" fill="#3e7cb1"><title>{label}: {totals.tokens_saved:,} tokens '
            f"saved in {totals.requests:,} requests</title></rect>"
        )
        if index % label_every == 0:
            parts.append(
                f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h + 16}" '
                f'text-anchor="middle">{label}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _html_table(header: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(cell)}</th>" for cell in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _render_html(report: _Report) -> str:
    sections = [f'<h1>Headroom savings report</h1><p class="span">{escape(_span(report))}</p>']
    if report.total.requests:
        cards = "".join(
            f'<div class="card">{escape(name)}<b>{escape(value)}</b></div>'
            for name, value in _headline(report)
        )
        sections.append(f'<div class="cards">{cards}</div>')
        for index, (title, header, rows) in enumerate(_tables(report)):
            chart = _chart_svg(report) if index == 0 else ""
            if rows:
                sections.append(f"<h2>{escape(title)}</h2>{chart}{_html_table(header, rows)}")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Headroom savings report</title><style>{_CSS}</style></head>"
        f"<body>{''.join(sections)}</body></html>\n"
    )
