"""What every chart needs: the warehouse query, the day, and which tables have rows.

Charts never query a table the probe has not seen with rows for the day: a missing or
empty table becomes a `ChartSkipped` with a reason the report prints, so one absent
dataset never takes the whole report down.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date

import pyarrow as pa

__all__ = ["ChartContext", "ChartSkipped", "Query", "TableCount", "probe_tables", "sql_date"]

Query = Callable[[str], pa.Table]
"""Runs one SQL statement on the warehouse and returns the result (`Warehouse.query`)."""


class ChartSkipped(Exception):
    """The chart has no data for the day; `reason` says why, for the report."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def sql_date(dt: date) -> str:
    """The day as an SQL date literal: standard syntax every backend accepts."""
    return f"DATE '{dt.isoformat()}'"


@dataclass(frozen=True)
class TableCount:
    """A table's row count for the day, or why it could not be counted."""

    table: str
    rows: int | None
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return bool(self.rows)

    def why_unusable(self) -> str:
        if self.rows is None:
            return f"table {self.table} is not available ({self.problem})"
        return f"table {self.table} has no rows for the day"


def probe_tables(query: Query, dt: date, tables: Iterable[str]) -> dict[str, TableCount]:
    """Count each table's rows for the day; a table that cannot be queried is recorded."""
    counts: dict[str, TableCount] = {}
    for table in tables:
        sql = f"SELECT COUNT(*) AS n FROM {table} WHERE dt = {sql_date(dt)}"
        try:
            result = query(sql)
        # Backends signal a missing table with unrelated exception types (DuckDB's
        # CatalogException, a DB-API ProgrammingError, bdp's NotFoundError), so any
        # failure of this one probe means "not available"; the message is kept.
        except Exception as exc:
            problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            counts[table] = TableCount(table, None, problem[:200])
            continue
        counts[table] = TableCount(table, int(result.column(0)[0].as_py() or 0))
    return counts


@dataclass
class ChartContext:
    """Inputs of one chart render; `notes` collects remarks the report shows under it."""

    query: Query
    dt: date
    counts: dict[str, TableCount]
    notes: list[str] = field(default_factory=list)

    @property
    def day(self) -> str:
        return sql_date(self.dt)

    def require(self, table: str) -> None:
        """Raise `ChartSkipped` unless the table has rows for the day."""
        count = self.counts.get(table)
        if count is None:
            raise ChartSkipped(f"table {table} was not probed")
        if not count.usable:
            raise ChartSkipped(count.why_unusable())

    def fetch(self, sql: str) -> pa.Table:
        """Run a chart query; an empty result skips the chart rather than plotting nothing."""
        result = self.query(sql)
        if result.num_rows == 0:
            raise ChartSkipped("the query returned no rows for the day")
        return result
