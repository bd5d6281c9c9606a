"""The day's report: charts as PNG files and one self-contained HTML page (SCENARIOS §11).

`build_report(warehouse.query, dt, out_dir)` reads the warehouse tables of day `dt`
with portable SQL, draws the reference's LoL charts (fixed per §12 V1) plus the charts a
data engineer checks every morning, and skips, with a reason, any chart whose table is
missing or empty.
"""

from __future__ import annotations

from bdp.report.build import Report, build_report

__all__ = ["Report", "build_report"]
