"""A check's result, and the warehouse table that keeps every day's results.

`quality_checks` holds one row per check of a dataset's day, beside the data it
describes, so a failed day can be queried like any other table. Each run replaces the
results of its own (dataset, day) slice, atomically: a re-run leaves one set, and
datasets checked the same day do not overwrite each other's.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bdp.warehouse import Warehouse

__all__ = ["QUALITY_TABLE", "RESULT_SCHEMA", "CheckResult", "write_results"]

QUALITY_TABLE = "quality_checks"

RESULT_SCHEMA = pa.schema(
    [
        ("dataset", pa.string()),
        ("check", pa.string()),
        ("table_name", pa.string()),
        ("passed", pa.bool_()),
        ("observed", pa.int64()),
        ("expected", pa.string()),
        ("detail", pa.string()),
        ("checked_at", pa.timestamp("us", tz="UTC")),
    ]
)
"""The table's columns, less the day (`dt`), which the warehouse adds."""


@dataclass(frozen=True)
class CheckResult:
    check: str
    """`reconcile_curated`, `reconcile_warehouse`, `reconcile_parsed`,
    `warehouse_vs_curated`, `unique_key`, `required_not_null` or `row_count_band`."""
    table: str
    passed: bool
    observed: int
    expected: str
    """What `observed` should be: a number, or a range (`450..550`)."""
    detail: str
    """One line saying what was compared, and where it differs."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "table": self.table,
            "passed": self.passed,
            "observed": self.observed,
            "expected": self.expected,
            "detail": self.detail,
        }

    def summary(self) -> str:
        """`check on table: observed X, expected Y (detail)`, in a failure's message."""
        return (
            f"{self.check} on {self.table}: observed {self.observed}, "
            f"expected {self.expected} ({self.detail})"
        )


def write_results(
    warehouse: Warehouse,
    dataset: str,
    dt: date,
    results: list[CheckResult],
    checked_at: datetime,
) -> int:
    """Make `results` the whole of `dataset`'s results for day `dt`; returns the rows."""
    rows = pa.Table.from_pylist(
        [
            {
                "dataset": dataset,
                "check": result.check,
                "table_name": result.table,
                "passed": result.passed,
                "observed": result.observed,
                "expected": result.expected,
                "detail": result.detail,
                "checked_at": checked_at,
            }
            for result in results
        ],
        schema=RESULT_SCHEMA,
    )
    with tempfile.TemporaryDirectory(prefix="bdp-quality-") as folder:
        path = Path(folder) / "results.parquet"
        pq.write_table(rows, path)
        return warehouse.replace_partition(
            QUALITY_TABLE, dt, [str(path)], where={"dataset": dataset}
        )
