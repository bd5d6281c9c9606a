"""The day's report: charts as PNG files and one self-contained HTML page (SCENARIOS §11).

`build_report(warehouse.query, dt, out_dir)` reads the warehouse tables of day `dt`
with portable SQL, draws the reference's LoL charts (fixed per §12 V1) plus the charts a
data engineer checks every morning, and skips, with a reason, any chart whose table is
missing or empty; `Report.require_every_chart` turns skips into a `ChartsSkippedError` for
callers that expect every chart (the demo).
"""

from __future__ import annotations

from bdp.report.build import ChartsSkippedError, Report, build_report

__all__ = ["ChartsSkippedError", "Report", "build_report"]
