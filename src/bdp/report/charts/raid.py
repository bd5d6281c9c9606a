"""Lost Ark raid chart: share of rooms cleared per boss, with the room counts behind it."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from bdp.report.charts.base import ChartSpec, label_bars
from bdp.report.context import ChartContext
from bdp.report.style import new_figure

__all__ = ["CHARTS"]


def _room_success_by_boss(ctx: ChartContext) -> Figure:
    ctx.require("lostark_room_results")
    # CASE rather than SUM(room_success): the flag is BOOLEAN on some backends and an
    # integer on others, and both compare equal to 1.
    rows = ctx.fetch(
        "SELECT Boss_name AS boss, COUNT(*) AS rooms, "
        "SUM(CASE WHEN room_success = 1 THEN 1 ELSE 0 END) AS cleared_rooms "
        f"FROM lostark_room_results WHERE dt = {ctx.day} "
        "GROUP BY Boss_name ORDER BY Boss_name"
    )
    bosses = [str(b) if b is not None else "unknown" for b in rows.column("boss").to_pylist()]
    rooms = np.array([int(v or 0) for v in rows.column("rooms").to_pylist()])
    cleared = np.array([int(v or 0) for v in rows.column("cleared_rooms").to_pylist()])
    rate = np.divide(cleared, rooms, out=np.zeros(len(rooms)), where=rooms > 0) * 100
    fig = new_figure(1100, 600)
    ax = fig.subplots()
    ax.bar(bosses, rate, color="#5e3c99", width=0.6)
    label_bars(
        ax, [f"{r:.0f}%\n{c}/{n} rooms" for r, c, n in zip(rate, cleared, rooms, strict=True)]
    )
    ax.set_ylim(0, 118)
    ax.yaxis.set_major_formatter(PercentFormatter())
    ax.set_yticks(range(0, 101, 20))
    ax.set_title(f"Lost Ark: rooms cleared per boss — {ctx.dt}")
    ax.set_xlabel("boss")
    ax.set_ylabel("rooms cleared (% of rooms)")
    return fig


CHARTS = (
    ChartSpec(
        "lostark_room_success_by_boss",
        "Room success rate by boss",
        "A room is cleared when at least one player is alive at the time limit; expect "
        "nearly every room to clear. A boss far below the others is overtuned (or the room "
        "result is not being derived); small room counts make any rate noisy.",
        _room_success_by_boss,
    ),
)
