"""What a chart is to the report: a file name, a title, a caption and a render function.

A render function reads the warehouse through its `ChartContext`, raises `ChartSkipped`
when the day has no data for it, and returns a finished figure; saving is the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from matplotlib.axes import Axes
from matplotlib.container import BarContainer
from matplotlib.figure import Figure

from bdp.report.context import ChartContext

__all__ = ["ChartSpec", "label_bars"]


@dataclass(frozen=True)
class ChartSpec:
    name: str
    """File stem of the PNG, unique in the report."""
    title: str
    caption: str
    """What a reader should look for in the chart."""
    render: Callable[[ChartContext], Figure]
    hangul: bool = False
    """Draw with a Hangul-capable font in the fallback list, when one is installed."""


def label_bars(ax: Axes, labels: list[str], *, horizontal: bool = False) -> None:
    """Write a label at the end of each bar of the axes' first bar container."""
    container = cast(BarContainer, ax.containers[0])
    ax.bar_label(container, labels=labels, padding=3, fontsize=10)
    # Leave room for the labels inside the axes (more for multi-line ones), so they
    # never run into the title.
    lines = max((label.count("\n") + 1 for label in labels), default=1)
    headroom = 0.08 + 0.06 * lines
    if horizontal:
        low, high = ax.get_xlim()
        ax.set_xlim(low, high + (high - low) * (headroom + 0.04))
        ax.grid(axis="y", visible=False)
        ax.grid(axis="x", visible=True)
    else:
        low, high = ax.get_ylim()
        ax.set_ylim(low, high + (high - low) * headroom)
