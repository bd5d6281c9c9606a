"""Hotel web-log chart: booking rate by gender, where the simulated female bias shows."""

from __future__ import annotations

from matplotlib.figure import Figure

from bdp.report.charts.base import ChartSpec, label_bars
from bdp.report.context import ChartContext
from bdp.report.style import new_figure, to_float

__all__ = ["CHARTS"]

GENDER_COLORS = {"female": "#d6604d", "male": "#4393c3"}


def _booking_rate_by_gender(ctx: ChartContext) -> Figure:
    ctx.require("hotel_gender_daily")
    rows = ctx.fetch(
        "SELECT gender, users, events, bookings, bookings_per_1000_events "
        f"FROM hotel_gender_daily WHERE dt = {ctx.day} ORDER BY gender"
    )
    genders = [str(g) if g is not None else "unknown" for g in rows.column("gender").to_pylist()]
    rates = to_float(rows.column("bookings_per_1000_events"))
    bookings = [int(v or 0) for v in rows.column("bookings").to_pylist()]
    events = [int(v or 0) for v in rows.column("events").to_pylist()]
    users = [int(v or 0) for v in rows.column("users").to_pylist()]
    fig = new_figure(1000, 600)
    ax = fig.subplots()
    colors = [GENDER_COLORS.get(g, "#999999") for g in genders]
    ax.bar(genders, rates, color=colors, width=0.5)
    label_bars(
        ax,
        [
            f"{rate:.1f}\n{b:,} bookings / {e:,} events\n{u:,} users"
            for rate, b, e, u in zip(rates, bookings, events, users, strict=True)
        ],
    )
    ax.set_title(f"Hotel: bookings per 1,000 events by gender — {ctx.dt}")
    ax.set_xlabel("gender")
    ax.set_ylabel("bookings per 1,000 events")
    return fig


CHARTS = (
    ChartSpec(
        "hotel_booking_rate_by_gender",
        "Booking rate by gender",
        "The simulator books for women without a booking far more often than for men "
        "(about ten times per event); the female bar should tower over the male one.",
        _booking_rate_by_gender,
    ),
)
