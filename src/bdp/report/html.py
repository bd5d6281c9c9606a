"""The daily report as one self-contained HTML page: inline CSS, PNGs as data URIs.

Nothing is fetched when the page opens (no scripts, fonts or stylesheets from elsewhere),
so the file can be mailed, archived or opened offline and still show everything.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from pathlib import Path
from typing import Any

from bdp.report.catalog import Section
from bdp.report.charts.base import ChartSpec
from bdp.report.context import TableCount

__all__ = ["ChartOutcome", "SectionOutcome", "render_html"]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #222; background: #f6f7f9; line-height: 1.45; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 32px 64px; }
h1 { font-size: 1.8em; margin: 0.4em 0 0.1em; }
h2 { font-size: 1.4em; margin-top: 2em; padding-bottom: 4px; border-bottom: 2px solid #ccd; }
h3 { font-size: 1.1em; margin: 1.4em 0 0.4em; }
.meta { color: #667; margin: 0 0 1.2em; }
nav a { margin-right: 1em; }
table { border-collapse: collapse; background: #fff; margin: 0.6em 0 1em; font-size: 0.95em; }
th, td { border: 1px solid #d5d8de; padding: 4px 10px; text-align: left; vertical-align: top; }
th { background: #eef0f4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { background: #fff; margin: 0.6em 0 1.6em; padding: 12px; border: 1px solid #d5d8de; }
figure img { max-width: 100%; height: auto; display: block; margin: 0 auto; }
figcaption { margin-top: 8px; color: #333; }
.note { color: #7a4b00; }
.skipped { background: #fff4e0; border-left: 4px solid #e0a030; padding: 8px 12px; }
.missing { color: #a33; }
"""


@dataclass
class ChartOutcome:
    """What happened to one chart: its PNG, or why it was skipped, and any remarks."""

    spec: ChartSpec
    png: Path | None = None
    skipped: str | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class SectionOutcome:
    section: Section
    counts: list[TableCount]
    figures: dict[str, int | float | None]
    charts: list[ChartOutcome]


def render_html(
    dt: date,
    sections: Sequence[SectionOutcome],
    summary: Mapping[str, Any] | None,
    generated_at: datetime,
) -> str:
    title = f"bdp daily report — {dt.isoformat()}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body><main>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">Data for {dt.isoformat()}; generated '
        f"{generated_at.strftime('%Y-%m-%d %H:%M:%S %Z').strip()}.</p>",
        _nav(sections),
    ]
    if summary:
        parts.append(_summary(summary))
    skipped = [(s, c) for s in sections for c in s.charts if c.skipped]
    if skipped:
        items = "".join(
            f"<li>{escape(c.spec.title)} ({escape(s.section.title)}): {escape(c.skipped or '')}"
            "</li>"
            for s, c in skipped
        )
        parts.append(f'<div class="skipped"><strong>Skipped charts</strong><ul>{items}</ul></div>')
    parts.extend(_section(outcome) for outcome in sections)
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _nav(sections: Sequence[SectionOutcome]) -> str:
    links = "".join(
        f'<a href="#{escape(s.section.key)}">{escape(s.section.title)}</a>' for s in sections
    )
    return f"<nav>{links}</nav>"


def _summary(summary: Mapping[str, Any]) -> str:
    """The demo's run summary: one row per dataset, nested mappings as short lists."""
    datasets = summary.get("datasets")
    parts = ['<h2 id="summary">Run summary</h2>']
    if isinstance(datasets, Mapping) and datasets:
        columns: dict[str, None] = {}
        for values in datasets.values():
            if isinstance(values, Mapping):
                columns.update(dict.fromkeys(str(key) for key in values))
        head = "".join(f"<th>{escape(c)}</th>" for c in ["dataset", *columns])
        rows = []
        for name, values in datasets.items():
            values = values if isinstance(values, Mapping) else {}
            cells = "".join(_cell(values.get(column)) for column in columns)
            rows.append(f"<tr><th>{escape(str(name))}</th>{cells}</tr>")
        parts.append(f"<table><tr>{head}</tr>{''.join(rows)}</table>")
    others = {key: value for key, value in summary.items() if key != "datasets"}
    if others:
        lines = "".join(f"<tr><th>{escape(str(k))}</th>{_cell(v)}</tr>" for k, v in others.items())
        parts.append(f"<table>{lines}</table>")
    return "\n".join(parts)


def _cell(value: Any) -> str:
    if isinstance(value, Mapping):
        lines = "<br>".join(f"{escape(str(k))}: {escape(_number(v))}" for k, v in value.items())
        return f"<td>{lines}</td>"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f'<td class="num">{escape(_number(value))}</td>'
    return f"<td>{escape('' if value is None else str(value))}</td>"


def _number(value: Any) -> str:
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.2f}"
    return "" if value is None else str(value)


def _section(outcome: SectionOutcome) -> str:
    section = outcome.section
    parts = [f'<h2 id="{escape(section.key)}">{escape(section.title)}</h2>']
    if outcome.counts or outcome.figures:
        parts.append(_key_figures(outcome))
    for chart in outcome.charts:
        parts.append(f"<h3>{escape(chart.spec.title)}</h3>")
        if chart.png is None:
            parts.append(f'<p class="skipped">Skipped: {escape(chart.skipped or "no data")}</p>')
            continue
        data = base64.b64encode(chart.png.read_bytes()).decode("ascii")
        notes = "".join(f'<br><span class="note">{escape(n)}</span>' for n in chart.notes)
        parts.append(
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(chart.spec.title)}'
            f' ({escape(chart.png.name)})"><figcaption>{escape(chart.spec.caption)}{notes}'
            "</figcaption></figure>"
        )
    return "\n".join(parts)


def _key_figures(outcome: SectionOutcome) -> str:
    rows = []
    for count in outcome.counts:
        if count.rows is None:
            value = f'<td class="missing">not available: {escape(count.problem or "")}</td>'
        else:
            value = f'<td class="num">{count.rows:,}</td>'
        rows.append(f"<tr><th>rows in {escape(count.table)}</th>{value}</tr>")
    for label, number in outcome.figures.items():
        rows.append(f"<tr><th>{escape(label)}</th>{_cell(number)}</tr>")
    return f'<table><tr><th colspan="2">Key figures of the day</th></tr>{"".join(rows)}</table>'
