"""Web access-log chart: p95 response time and error rate per URL, side by side."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from bdp.report.charts.base import ChartSpec, label_bars
from bdp.report.context import ChartContext
from bdp.report.style import new_figure, to_float

__all__ = ["CHARTS", "MAX_URLS"]

MAX_URLS = 20
"""Busiest URLs shown; more bars than this stop being readable."""


def _url_latency_and_errors(ctx: ChartContext) -> Figure:
    ctx.require("weblog_url_daily")
    rows = ctx.fetch(
        "SELECT url, requests, error_rate, p95_ms FROM weblog_url_daily "
        f"WHERE dt = {ctx.day} ORDER BY requests DESC, url"
    )
    total_urls = rows.num_rows
    rows = rows.slice(0, MAX_URLS)
    urls = [str(u) for u in rows.column("url").to_pylist()]
    requests = [int(v or 0) for v in rows.column("requests").to_pylist()]
    p95 = np.nan_to_num(to_float(rows.column("p95_ms")))
    error_pct = np.nan_to_num(to_float(rows.column("error_rate"))) * 100
    fig = new_figure(1300, max(450, 150 + 45 * len(urls)))
    latency_ax, error_ax = fig.subplots(1, 2, sharey=True)
    positions = np.arange(len(urls))
    latency_ax.barh(positions, p95, color="#2b8cbe")
    label_bars(latency_ax, [f"{v:,.0f} ms" for v in p95], horizontal=True)
    ticks = [f"{url}\n({n:,} req)" for url, n in zip(urls, requests, strict=True)]
    latency_ax.set_yticks(positions, ticks)
    latency_ax.invert_yaxis()
    latency_ax.set_xlabel("p95 response time (ms)")
    latency_ax.set_ylabel("URL (requests)")
    latency_ax.set_title("p95 response time")
    error_ax.barh(positions, error_pct, color="#de2d26")
    label_bars(error_ax, [f"{v:.1f}%" for v in error_pct], horizontal=True)
    error_ax.xaxis.set_major_formatter(PercentFormatter(decimals=1))
    error_ax.set_xlabel("error rate (% of requests)")
    error_ax.set_title("error rate")
    fig.suptitle(f"Web: latency and errors per URL — {ctx.dt}")
    if total_urls > MAX_URLS:
        ctx.notes.append(f"Showing the {MAX_URLS} busiest of {total_urls} URLs.")
    return fig


CHARTS = (
    ChartSpec(
        "weblog_url_latency_errors",
        "Latency and errors per URL",
        "Response times are drawn uniformly from 100–1000 ms and errors (404) at about 3%, "
        "so every URL should show a p95 near 950 ms and a few percent errors; an outlier "
        "URL is worth a look.",
        _url_latency_and_errors,
    ),
)
