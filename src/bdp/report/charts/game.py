"""LoL game-log charts (SCENARIOS §11, fixed per §12 V1) and the detector feature.

The per-champion scatter plots the typed `datetime` against `xy`, one small panel per
champion on a shared y axis, so the suspicious champion's wide swings stand out next to
everyone else's narrow band.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import matplotlib.dates as mdates
import numpy as np
import pyarrow as pa
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from bdp.report.charts.base import ChartSpec, label_bars
from bdp.report.context import ChartContext
from bdp.report.style import new_figure, to_datetime64, to_float

__all__ = ["CHARTS", "ChampionPanel", "champion_panels"]

NO_KEY = "none"
WIDE_SPREAD_FACTOR = 2.0
"""A champion whose xy standard deviation is this many times the median is flagged."""
NORMAL_COLOR = "#1f77b4"
FLAGGED_COLOR = "#d62728"


@dataclass(frozen=True)
class ChampionPanel:
    """One scatter panel: a champion's events and whether their spread stands out."""

    champion: str
    times: np.ndarray
    xy: np.ndarray
    xy_std: float
    wide: bool

    @property
    def events(self) -> int:
        return len(self.xy)


def champion_panels(rows: pa.Table) -> list[ChampionPanel]:
    """Split `champion`, `datetime`, `xy` rows into one panel per champion, sorted by name.

    A champion is flagged `wide` when its xy spread is well above the median champion's:
    the comparison is within the day's data, so it needs no knowledge of who cheats.
    """
    champions = np.array(
        [name if name is not None else "unknown" for name in rows.column("champion").to_pylist()],
        dtype=object,
    )
    times = to_datetime64(rows.column("datetime"))
    xy = to_float(rows.column("xy"))
    names = sorted(set(champions.tolist()))
    stds = {}
    for name in names:
        values = xy[champions == name]
        values = values[~np.isnan(values)]
        stds[name] = float(np.std(values)) if len(values) else 0.0
    median = float(np.median(list(stds.values()))) if stds else 0.0
    panels = []
    for name in names:
        mask = champions == name
        wide = len(names) > 2 and median > 0 and stds[name] > WIDE_SPREAD_FACTOR * median
        panels.append(ChampionPanel(name, times[mask], xy[mask], stds[name], wide))
    return panels


def _champion_scatter(ctx: ChartContext) -> Figure:
    ctx.require("lol_analysis_log")
    rows = ctx.fetch(
        "SELECT champion, datetime, xy FROM lol_analysis_log "
        f"WHERE dt = {ctx.day} ORDER BY champion, datetime"
    )
    panels = champion_panels(rows)
    ncols = min(len(panels), 5)
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(1400, 140 + 300 * nrows)
    axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
    for ax, panel in zip(axes, panels, strict=False):
        color = FLAGGED_COLOR if panel.wide else NORMAL_COLOR
        ax.scatter(panel.times, panel.xy, s=3, alpha=0.35, color=color, rasterized=True)
        flag = " — wide spread" if panel.wide else ""
        ax.set_title(
            f"{panel.champion}{flag}\n{panel.events:,} events, sd {panel.xy_std:,.0f}",
            fontsize=11,
            color=color,
        )
        locator = mdates.AutoDateLocator(maxticks=4)
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    flagged = [panel.champion for panel in panels if panel.wide]
    fig.suptitle(f"LoL: xy (x + y) over time per champion — {ctx.dt}")
    fig.supxlabel("event time (UTC)")
    fig.supylabel("xy = x + y (map units)")
    if flagged:
        ctx.notes.append(
            f"Spread more than {WIDE_SPREAD_FACTOR:g}× the median champion's: "
            + ", ".join(flagged)
            + "."
        )
    return fig


def _inputkey_pie(ctx: ChartContext) -> Figure:
    ctx.require("lol_analysis_log")
    rows = ctx.fetch(
        "SELECT inputkey, COUNT(*) AS n_events FROM lol_analysis_log "
        f"WHERE dt = {ctx.day} GROUP BY inputkey ORDER BY n_events DESC"
    )
    keys = [NO_KEY if key is None else str(key) for key in rows.column("inputkey").to_pylist()]
    counts = np.array(rows.column("n_events").to_pylist(), dtype=float)
    total = counts.sum()
    fig = new_figure(1100, 650)
    ax = fig.subplots()
    colors = [_key_color(i) for i in range(len(keys))]
    wedges, _ = ax.pie(
        counts,
        colors=colors,
        startangle=90,
        counterclock=False,
        wedgeprops={"linewidth": 1, "edgecolor": "white"},
    )
    # Percentages go in the legend, not on the wedges: a dozen keys under 1% would collide.
    legend = [f"{k}: {int(c):,} ({c / total:.1%})" for k, c in zip(keys, counts, strict=True)]
    ax.legend(wedges, legend, title="input key: events", loc="center left", bbox_to_anchor=(1, 0.5))
    ax.set_title(f"LoL: events per input key — {ctx.dt} ({int(total):,} events)")
    ax.set_aspect("equal")
    return fig


def _key_color(index: int) -> tuple[float, float, float, float]:
    from matplotlib import colormaps

    return colormaps["tab20"](index % 20)


def _max_deaths_bar(ctx: ChartContext) -> Figure:
    ctx.require("lol_analysis_log")
    rows = ctx.fetch(
        "SELECT champion, MAX(deathCount) AS max_deaths FROM lol_analysis_log "
        f"WHERE dt = {ctx.day} GROUP BY champion ORDER BY champion"
    )
    champions = [str(name) for name in rows.column("champion").to_pylist()]
    deaths = [int(value or 0) for value in rows.column("max_deaths").to_pylist()]
    fig = new_figure(1100, 600)
    ax = fig.subplots()
    ax.bar(champions, deaths, color=NORMAL_COLOR)
    label_bars(ax, [str(value) for value in deaths])
    ax.set_title(f"LoL: highest deathCount per champion — {ctx.dt}")
    ax.set_xlabel("champion")
    ax.set_ylabel("max deathCount (deaths in one game)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(axis="x", labelrotation=30)
    return fig


def _speed_histogram(ctx: ChartContext) -> Figure:
    ctx.require("lol_training_log")
    rows = ctx.fetch(
        f"SELECT label, speed FROM lol_training_log WHERE dt = {ctx.day} AND speed IS NOT NULL"
    )
    labels = np.array([int(value or 0) for value in rows.column("label").to_pylist()])
    speed = to_float(rows.column("speed"))
    # Clip the far tail into the last bin so a handful of extreme values cannot squash
    # the rest of the histogram into one bar; the tail is still counted.
    cap = float(np.percentile(speed, 99.9))
    if cap <= 0:
        cap = float(speed.max()) or 1.0
    edges = np.linspace(0.0, cap, 61)
    fig = new_figure(1200, 650)
    ax = fig.subplots()
    styles = {0: ("label 0 (normal)", NORMAL_COLOR), 1: ("label 1 (suspicious)", FLAGGED_COLOR)}
    for value in sorted(set(labels.tolist())):
        name, color = styles.get(value, (f"label {value}", "#7f7f7f"))
        subset = np.clip(speed[labels == value], 0.0, cap)
        weights = np.full(len(subset), 1.0 / len(subset))
        ax.hist(
            subset,
            bins=edges.tolist(),
            weights=weights,
            histtype="step",
            linewidth=2,
            color=color,
            label=f"{name}: {len(subset):,} events",
        )
    ax.set_yscale("log")
    ax.set_title(f"LoL detector feature: speed between consecutive events — {ctx.dt}")
    ax.set_xlabel(f"speed (map units per second; values above {cap:,.0f} in the last bin)")
    ax.set_ylabel("share of the label's events (log scale)")
    ax.legend()
    return fig


CHARTS = (
    ChartSpec(
        "lol_champion_scatter",
        "Coordinates over time per champion",
        "Each panel is one champion's xy = x + y against event time, on a shared y axis. "
        "Normal players stay in a narrow band; the suspicious champion swings far wider "
        "(panels flagged in red).",
        _champion_scatter,
    ),
    ChartSpec(
        "lol_inputkey_pie",
        "Events per input key",
        "Keys are drawn the same way for every champion, so this shows the key mix rather "
        'than a cheating signal; "none" means no key was pressed.',
        _inputkey_pie,
    ),
    ChartSpec(
        "lol_max_deaths",
        "Highest death count per champion",
        "Expect one to three deaths per game for everyone; a champion stuck at 0 hints that "
        "the death rule does not apply to it.",
        _max_deaths_bar,
    ),
    ChartSpec(
        "lol_speed_histogram",
        "Detector feature: movement speed by label",
        "The two curves should separate in the tail: suspicious players jump farther between "
        "consecutive events. Overlapping curves mean the feature carries no signal.",
        _speed_histogram,
    ),
)
