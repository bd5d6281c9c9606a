"""Ad-log charts: minutes watched and clicks per ad.

Ad names are Korean. When no installed font can draw Hangul, bars are labelled with the
first characters of `ad_id` instead (matplotlib would draw empty boxes) and the report's
caption maps each prefix to its name, which the browser can render.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure

from bdp.report.charts.base import ChartSpec, label_bars
from bdp.report.context import ChartContext
from bdp.report.style import hangul_font, new_figure, to_float

__all__ = ["AD_ID_PREFIX", "CHARTS", "ad_labels"]

AD_ID_PREFIX = 8


def ad_labels(
    ad_ids: Sequence[str | None], ad_names: Sequence[str | None], can_draw_names: bool
) -> tuple[list[str], str | None]:
    """Bar labels for the ads, and a note mapping id prefixes to names when those are used."""
    names = [name or "(no name)" for name in ad_names]
    if can_draw_names:
        return names, None
    prefixes = [(ad_id or "?")[:AD_ID_PREFIX] for ad_id in ad_ids]
    pairs = ", ".join(f"{p} = {n}" for p, n in zip(prefixes, names, strict=True))
    note = f"No installed font draws Hangul, so ads are labelled by ad_id prefix: {pairs}."
    return prefixes, note


def _ad_bar(
    ctx: ChartContext, table: str, value_column: str, title: str, unit_label: str, fmt: str
) -> Figure:
    ctx.require(table)
    rows = ctx.fetch(
        f"SELECT ad_id, ad_name, {value_column} AS amount FROM {table} "
        f"WHERE dt = {ctx.day} ORDER BY {value_column} DESC, ad_id"
    )
    labels, note = ad_labels(
        rows.column("ad_id").to_pylist(),
        rows.column("ad_name").to_pylist(),
        hangul_font() is not None,
    )
    if note:
        ctx.notes.append(note)
    amounts = np.nan_to_num(to_float(rows.column("amount")))
    fig = new_figure(1000, 600)
    ax = fig.subplots()
    ax.bar(labels, amounts, color="#1b9e77", width=0.6)
    label_bars(ax, [format(value, fmt) for value in amounts])
    ax.set_title(f"{title} — {ctx.dt}")
    ax.set_xlabel("ad" if note is None else f"ad (ad_id, first {AD_ID_PREFIX} characters)")
    ax.set_ylabel(unit_label)
    return fig


def _view_minutes(ctx: ChartContext) -> Figure:
    return _ad_bar(
        ctx,
        "ad_view_totals",
        "view_sum_total_minutes",
        "Ads: minutes watched per ad",
        "viewing time (minutes)",
        ",.1f",
    )


def _clicks(ctx: ChartContext) -> Figure:
    return _ad_bar(
        ctx,
        "ad_click_totals",
        "total_click_count",
        "Ads: counted clicks per ad",
        "clicks (after one-minute de-duplication)",
        ",.0f",
    )


CHARTS = (
    ChartSpec(
        "ad_view_minutes",
        "Viewing minutes per ad",
        "No probability depends on the ad, so the totals differ only by audience size and "
        "chance; one ad far below the others suggests lost events.",
        _view_minutes,
        hangul=True,
    ),
    ChartSpec(
        "ad_clicks",
        "Clicks per ad",
        "Clicks are counted at most once a minute per user; totals should be of the same "
        "order for every ad.",
        _clicks,
        hangul=True,
    ),
)
