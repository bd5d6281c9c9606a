"""Events over time for every dataset on one chart: the day's ingestion at a glance.

Counts come back per minute, grouped in SQL by `CAST(... AS DATE)` and
`EXTRACT(HOUR/MINUTE FROM ...)`, which every target backend understands (at most 1,440
rows per table). They are summed here into hourly buckets, or 5-minute buckets when the
day's data spans only a few hours (a demo run), so a short run is still a line.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import matplotlib.dates as mdates
import numpy as np
from matplotlib.figure import Figure

from bdp.report.charts.base import ChartSpec
from bdp.report.context import ChartContext, ChartSkipped
from bdp.report.style import new_figure

__all__ = ["ACTIVITY_TABLES", "CHARTS", "bucket_counts", "bucket_minutes", "minute_counts"]

ACTIVITY_TABLES: dict[str, str] = {
    "gamelogs": "lol_analysis_log",
    "hotellogs": "hotel_analysis_log",
    "lostarklogs": "lostark_analysis_log",
    "adlogs": "ad_analysis_logs",
    "weblogs": "weblog_access_log",
}
"""The per-event table of each dataset, whose `datetime` column is the event time."""

SHORT_SPAN = np.timedelta64(3, "h")
"""Data spanning less than this is drawn in 5-minute buckets instead of hourly ones."""


def minute_counts(ctx: ChartContext, table: str) -> tuple[np.ndarray, np.ndarray]:
    """Minute starts (UTC, `datetime64[m]`) and event counts for one table, in time order."""
    rows = ctx.query(
        "SELECT CAST(datetime AS DATE) AS event_date, "
        "EXTRACT(HOUR FROM datetime) AS event_hour, "
        "EXTRACT(MINUTE FROM datetime) AS event_minute, COUNT(*) AS n_events "
        f"FROM {table} WHERE dt = {ctx.day} AND datetime IS NOT NULL "
        "GROUP BY CAST(datetime AS DATE), EXTRACT(HOUR FROM datetime), "
        "EXTRACT(MINUTE FROM datetime) "
        "ORDER BY event_date, event_hour, event_minute"
    )
    minutes = [
        datetime.combine(day, time()) + timedelta(hours=int(hour), minutes=int(minute))
        for day, hour, minute in zip(
            rows.column("event_date").to_pylist(),
            rows.column("event_hour").to_pylist(),
            rows.column("event_minute").to_pylist(),
            strict=True,
        )
    ]
    counts = np.array(rows.column("n_events").to_pylist(), dtype=float)
    return np.array(minutes, dtype="datetime64[m]"), counts


def bucket_minutes(first: np.datetime64, last: np.datetime64) -> int:
    """Bucket width for data spanning `first`..`last`: 5 minutes if short, else an hour."""
    return 5 if last - first < SHORT_SPAN else 60


def bucket_counts(
    minutes: np.ndarray, counts: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum per-minute counts into `width`-minute buckets; empty buckets inside the range are 0.

    Zeros are kept so an outage shows as a dip rather than a line drawn across it.
    """
    offsets = minutes.astype("int64") // width
    first, last = int(offsets.min()), int(offsets.max())
    totals = np.zeros(last - first + 1)
    np.add.at(totals, offsets - first, counts)
    starts = (np.arange(first, last + 1) * width).astype("datetime64[m]")
    return starts, totals


def _events_over_time(ctx: ChartContext) -> Figure:
    series = {}
    missing = []
    for dataset, table in ACTIVITY_TABLES.items():
        count = ctx.counts.get(table)
        if count is None or not count.usable:
            missing.append(dataset)
            continue
        minutes, counts = minute_counts(ctx, table)
        if len(minutes):
            series[dataset] = (minutes, counts)
    if not series:
        raise ChartSkipped("no per-event table has rows for the day")
    first = min(minutes.min() for minutes, _ in series.values())
    last = max(minutes.max() for minutes, _ in series.values())
    width = bucket_minutes(first, last)
    unit = "hour" if width == 60 else f"{width} minutes"
    bucket = "hour" if width == 60 else f"{width}-minute bucket"
    fig = new_figure(1200, 600)
    ax = fig.subplots()
    for dataset, (minutes, counts) in series.items():
        starts, totals = bucket_counts(minutes, counts, width)
        ax.plot(starts, totals, marker="o", markersize=4, linewidth=2, label=dataset)
    pad = np.timedelta64(width, "m")
    ax.set_xlim(first - pad, last + pad)
    locator = mdates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylim(bottom=0)
    ax.set_title(f"Events per {unit} per dataset — {ctx.dt}")
    ax.set_xlabel(f"start of the {bucket} (UTC)")
    ax.set_ylabel(f"events per {unit}")
    ax.legend(title="dataset")
    if width != 60:
        ctx.notes.append(f"The day's data spans under {SHORT_SPAN}, so buckets are {unit}.")
    if missing:
        ctx.notes.append("No rows for the day: " + ", ".join(missing) + ".")
    return fig


CHARTS = (
    ChartSpec(
        "events_over_time",
        "Events over time per dataset",
        "Steady lines mean the simulators and streams ran the whole time; a dip or a line "
        "that stops early points at an outage or data still to arrive. The first and last "
        "buckets are usually partial.",
        _events_over_time,
    ),
)
