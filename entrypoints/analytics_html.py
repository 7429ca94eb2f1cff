"""The analytics report as one self-contained HTML file: the metrics table beside the plan's
targets, and charts drawn by matplotlib as inline SVG (no script, no font or file fetched
from anywhere).

matplotlib is in the `analytics` extra, not in what the API needs: imported when a report
is drawn."""

from __future__ import annotations

import html
import io
from datetime import UTC, datetime
from typing import Any

from workers.analytics.report import Metric, Report, Series

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1100px;color:#1d1d1f;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin-top:2rem}
.sub{color:#666;margin-top:0}table{border-collapse:collapse;width:100%}
th,td{padding:.35rem .6rem;border-bottom:1px solid #e3e3e6;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.met{color:#0a7d32;font-weight:600}.missed{color:#b3261e;font-weight:600}
.na{color:#888}.src{color:#777;font-size:12px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:1rem}
.chart svg{width:100%;height:auto}.wide{grid-column:1 / span 2}
"""


class ChartsUnavailable(RuntimeError):
    """matplotlib is not installed (the `analytics` extra)."""


def pyplot() -> Any:
    """matplotlib's pyplot, set up for the report; ChartsUnavailable without it."""
    try:
        import matplotlib
    except ImportError:
        raise ChartsUnavailable(
            "the HTML report draws its charts with matplotlib: install the analytics extra "
            "(pip install 'aethex-live[analytics]')") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "path", "font.size": 9, "axes.spines.top": False,
                         "axes.spines.right": False, "svg.hashsalt": "aethex"})
    return plt


def _svg(fig: Any) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]  # drop the XML prologue: the SVG sits inside HTML


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("%",):
        return f"{value:.2f} %"
    if float(value).is_integer():
        return f"{int(value):,} {unit}"
    return f"{value:,.1f} {unit}"


def _status(m: Metric) -> str:
    if m.value is None:
        return '<span class="na">not measured</span>'
    if m.met is None:
        return '<span class="na">no target</span>'
    return '<span class="met">met</span>' if m.met else '<span class="missed">not met</span>'


def _metrics_table(report: Report) -> str:
    rows = []
    for m in report.metrics:
        target = "—" if m.target is None else f"{m.comparison} {_fmt(m.target, m.unit)}"
        why = f"<div class=src>{html.escape(m.note)}</div>" if m.note else ""
        source = m.source if m.source.startswith("not in") else f"from {m.source}"
        rows.append(
            f"<tr><td>{html.escape(m.name)}{why}<div class=src>"
            f"{html.escape(source)}</div></td><td class=n>{_fmt(m.value, m.unit)}</td>"
            f"<td class=n>{html.escape(target)}</td><td>{_status(m)}</td></tr>")
    return ("<table><thead><tr><th>metric</th><th>value</th><th>plan's target</th>"
            "<th></th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>")


def _streams_table(report: Report, limit: int = 15) -> str:
    top = sorted(report.streams, key=lambda s: (-s.peak_viewers, s.started_at))[:limit]
    rows = "".join(
        f"<tr><td>{html.escape(s.title)}</td><td>{s.started_at[:16].replace('T', ' ')}</td>"
        f"<td class=n>{s.live_s / 60:,.0f} min</td><td class=n>{s.peak_viewers:,}</td>"
        f"<td class=n>{s.messages:,}</td><td class=n>{s.viewer_minutes:,.0f}</td>"
        f"<td class=n>{'—' if s.start_latency_ms is None else f'{s.start_latency_ms:,.0f} ms'}"
        f"</td></tr>" for s in top)
    return ("<table><thead><tr><th>stream</th><th>started (UTC)</th><th>live</th>"
            "<th>peak viewers</th><th>messages</th><th>viewer-minutes</th>"
            "<th>start latency</th></tr></thead><tbody>" + rows + "</tbody></table>")


def _charts(report: Report, series: Series) -> list[tuple[str, str, bool]]:
    plt = pyplot()
    out: list[tuple[str, str, bool]] = []

    fig, ax = plt.subplots(figsize=(10, 3.2))
    for label, steps in series.viewers.items():
        t0 = steps[0][0]
        ax.step([(t - t0) / 60 for t, _ in steps], [c for _, c in steps], where="post",
                label=label)
    ax.set_xlabel("minutes since the stream went live (or since the period began)")
    ax.set_ylabel("viewers")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    out.append(("Viewers over time, top streams by peak", _svg(fig), True))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3))
    per_minute = series.chat_bin_s / 60
    ax.bar([datetime.fromtimestamp(t, UTC) for t, _ in series.chat],
           [n / per_minute for _, n in series.chat],
           width=series.chat_bin_s / 86400, color="#6c5ce7", align="edge")
    ax.set_ylabel("messages per minute" + (" (hourly mean)" if series.chat_bin_s > 60 else ""))
    fig.autofmt_xdate()
    out.append(("Chat messages per minute", _svg(fig), False))
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(5, 3))
    days = [datetime.fromisoformat(d.day) for d in report.days]
    ax.plot(days, [d.active_users for d in report.days], marker="o", ms=3, label="users")
    ax.plot(days, [d.active_creators for d in report.days], marker="o", ms=3,
            label="creators")
    ax.set_ylabel("active that day")
    ax.legend(frameon=False)
    fig.autofmt_xdate()
    out.append(("Daily active users and creators", _svg(fig), False))
    plt.close(fig)
    return out


def render(report: Report, series: Series) -> str:
    """The whole report as one HTML document."""
    met = sum(1 for m in report.metrics if m.met)
    judged = sum(1 for m in report.metrics if m.met is not None)
    charts = "".join(
        f'<div class="chart{" wide" if wide else ""}"><h2>{html.escape(title)}</h2>{svg}</div>'
        for title, svg, wide in _charts(report, series))
    refusals = ", ".join(f"{k}: {v:,}" for k, v in report.refusals.items()) or "none"
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>AeThex Live: success metrics</title><style>{_CSS}</style></head><body>"
        "<h1>AeThex Live: did we meet the plan?</h1>"
        f"<p class=sub>{html.escape(report.since)} to {html.escape(report.until)} · "
        f"{report.events:,} events read · {len(report.streams):,} streams live · "
        f"{met} of {judged} measured targets met</p>"
        f"<h2>Success metrics</h2>{_metrics_table(report)}"
        f"<p class=src>Refused chat sends by reason: {html.escape(refusals)}</p>"
        f"<div class=charts>{charts}</div>"
        f"<h2>Top streams</h2>{_streams_table(report)}"
        "</body></html>\n")
