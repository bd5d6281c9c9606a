"""The daily DAG's work steps: ETL, warehouse load and report of one dataset's day."""

from __future__ import annotations

from typing import Any

from bdp.orchestrate.operations import TaskContext

__all__ = ["etl", "load", "report"]


def etl(ctx: TaskContext) -> dict[str, Any]:
    """Raw day D → curated Parquet partitions (the warehouse is the next task's)."""
    from bdp.etl import run_etl

    result = run_etl(ctx.settings, ctx.dataset, ctx.dt, load=False)
    return {
        "raw_files": result.raw_files,
        "raw_rows": result.raw_rows,
        "curated_rows": dict(result.tables),
        "raw_fingerprint": result.raw_fingerprint,
    }


def load(ctx: TaskContext) -> dict[str, Any]:
    """Replace day D of the dataset's warehouse tables with its curated partitions."""
    from bdp.etl import load_day

    return {"loaded_rows": load_day(ctx.settings, ctx.dataset, ctx.dt)}


def report(ctx: TaskContext) -> dict[str, Any]:
    """Rebuild day D's charts and HTML page from the warehouse as it now stands. The page
    covers every dataset: each daily DAG's report adds its own to what others loaded."""
    from bdp.report import build_report
    from bdp.warehouse import open_warehouse

    with open_warehouse(ctx.settings) as warehouse:
        built = build_report(warehouse.query, ctx.dt, ctx.settings.paths.reports)
    return {"html": str(built.html), "charts": len(built.charts), "skipped": len(built.skipped)}
