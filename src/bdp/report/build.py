"""Build the day's report: probe the tables, draw every chart, write the HTML page.

Output goes to `<out_dir>/<dt>/`: one PNG per chart drawn and `report-<dt>.html`. A chart
whose data is missing is skipped and listed as such; any other failure propagates,
because a chart that breaks on data it has is a bug to fix, not a gap to hide.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from bdp.errors import BdpError
from bdp.report.catalog import SECTIONS, Section, all_tables
from bdp.report.charts.base import ChartSpec
from bdp.report.context import ChartContext, ChartSkipped, Query, TableCount, probe_tables, sql_date
from bdp.report.html import ChartOutcome, SectionOutcome, render_html
from bdp.report.style import chart_style, hangul_font, save_png

__all__ = ["ChartsSkippedError", "Report", "build_report"]


class ChartsSkippedError(BdpError):
    """A report that had to be complete left charts out (the page is written all the same)."""

    def __init__(self, dt: date, skipped: Mapping[str, str], html: Path) -> None:
        self.dt, self.skipped, self.html = dt, dict(skipped), html
        # One line: each reason as one line of words.
        why = "; ".join(f"{name}: {' '.join(reason.split())}" for name, reason in skipped.items())
        count = f"{len(skipped)} chart{'s' if len(skipped) != 1 else ''}"
        super().__init__(f"the report for {dt} left out {count} ({why}); page: {html}")


@dataclass
class Report:
    html: Path
    charts: list[Path]
    skipped: dict[str, str] = field(default_factory=dict)
    """Chart name → why it was not drawn."""

    def require_every_chart(self, dt: date) -> None:
        """Raise `ChartsSkippedError` if any chart was skipped."""
        if self.skipped:
            raise ChartsSkippedError(dt, self.skipped, self.html)


def build_report(
    query: Query,
    dt: date,
    out_dir: Path,
    summary: Mapping[str, Any] | None = None,
) -> Report:
    """Draw the day's charts and write the self-contained HTML report next to them."""
    day_dir = Path(out_dir) / dt.isoformat()
    day_dir.mkdir(parents=True, exist_ok=True)
    counts = probe_tables(query, dt, all_tables())
    outcomes = [_build_section(section, query, dt, counts, day_dir) for section in SECTIONS]
    page = render_html(dt, outcomes, summary, datetime.now(UTC))
    html_path = day_dir / f"report-{dt.isoformat()}.html"
    # Write then rename, so a reader never sees half a page.
    partial = html_path.with_suffix(".html.partial")
    partial.write_text(page, encoding="utf-8")
    os.replace(partial, html_path)
    charts = [c.png for o in outcomes for c in o.charts if c.png is not None]
    skipped = {c.spec.name: c.skipped for o in outcomes for c in o.charts if c.skipped}
    return Report(html=html_path, charts=charts, skipped=skipped)


def _build_section(
    section: Section, query: Query, dt: date, counts: dict[str, TableCount], day_dir: Path
) -> SectionOutcome:
    charts = [_draw(spec, ChartContext(query, dt, counts), day_dir) for spec in section.charts]
    figures: dict[str, int | float | None] = {}
    for figure in section.figures:
        if not counts[figure.table].usable:
            continue  # the row count above already says the table is missing or empty
        sql = f"SELECT {figure.expression} AS v FROM {figure.table} WHERE dt = {sql_date(dt)}"
        try:
            result = query(sql)
        except Exception as exc:
            exc.add_note(f"while computing key figure {figure.label!r} of {section.key}")
            raise
        figures[figure.label] = _plain_number(result.column(0)[0].as_py())
    return SectionOutcome(section, [counts[t] for t in section.tables], figures, charts)


def _draw(spec: ChartSpec, ctx: ChartContext, day_dir: Path) -> ChartOutcome:
    path = day_dir / f"{spec.name}.png"
    families = (hangul_font(),) if spec.hangul and hangul_font() else ()
    try:
        with chart_style(*families):
            fig = spec.render(ctx)
            save_png(fig, path)
    except ChartSkipped as skip:
        # A PNG left from an earlier run of the same day would contradict the page.
        path.unlink(missing_ok=True)
        return ChartOutcome(spec, skipped=skip.reason, notes=ctx.notes)
    except Exception as exc:
        exc.add_note(f"while drawing chart {spec.name!r} for {ctx.dt}")
        raise
    return ChartOutcome(spec, png=path, notes=ctx.notes)


def _plain_number(value: Any) -> int | float | None:
    """SUM over integers comes back as a decimal on some backends; show it as an integer."""
    if value is None or isinstance(value, int):
        return value
    if isinstance(value, Decimal) and value == value.to_integral_value():
        return int(value)
    return float(value)
