"""The report's charts, one module per dataset; each chart is a `ChartSpec`."""

from __future__ import annotations

from bdp.report.charts.base import ChartSpec

__all__ = ["ChartSpec"]
