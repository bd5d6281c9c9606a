"""The checks of one dataset's day, after its ETL and warehouse load.

- Reconciliation: the raw rows landed for the day (as landing recorded them) equal the
  rows of the records table plus the rows each of the transform's drop rules left out
  (as the ETL counted them), both in the curated lake partition and in the warehouse;
  for every other table, the warehouse holds the rows of its curated partition. So a
  partition changed or emptied after its load, or raw data that arrived after the ETL,
  does not go unnoticed.
- Keys: where a table declares a key, no two rows of the day share it.
- Required columns: no row of the day lacks a value that the raw schema requires.
- Row count band: the day's rows of the main table are within `row_count_band` of the
  mean of the earlier days (up to `trailing_days` back) that have rows.

Each check gives one `CheckResult`; none raises for what it finds.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta

import pyarrow as pa
import pyarrow.parquet as pq

from bdp.config import QualitySettings, Settings
from bdp.errors import NotFoundError
from bdp.etl.runs import EtlRun, RunLog, day_fingerprint
from bdp.lake import Lake, partition_dir
from bdp.quality.results import CheckResult
from bdp.quality.rules import TableRules, table_rules
from bdp.status import dataset_rows
from bdp.warehouse import PARTITION_COLUMN, Warehouse

__all__ = ["run_checks"]


def run_checks(
    settings: Settings, dataset: str, dt: date, lake: Lake, warehouse: Warehouse
) -> list[CheckResult]:
    """Every check of `dataset` for day `dt`, in a fixed order."""
    rules = table_rules(settings, dataset)
    day = _DayFacts(settings, rules, dt, lake, warehouse)
    results = day.reconcile()
    for table, key in rules.keys.items():
        results.append(day.unique_key(table, key))
    results.append(day.required_not_null(rules.main_table))
    results.append(day.row_count_band(rules.main_table, settings.scheduler.quality))
    return results


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_date(dt: date) -> str:
    return f"DATE '{dt.isoformat()}'"


class _DayFacts:
    """What the lake, the run log and the warehouse hold for one dataset's day."""

    def __init__(
        self, settings: Settings, rules: TableRules, dt: date, lake: Lake, warehouse: Warehouse
    ) -> None:
        self.rules, self.dt, self.lake, self.warehouse = rules, dt, lake, warehouse
        landed = dataset_rows(lake, rules.dataset, only=dt)
        self.landed = landed.total("raw")
        self.damaged = [c.path for c in landed.damaged if c.path.startswith("raw/")]
        self.run: EtlRun | None = RunLog(settings.paths.state).last_ok_run(rules.dataset, dt)
        self.raw_changed = self.run is not None and self.run.raw_fingerprint != day_fingerprint(
            lake, rules.dataset, dt
        )
        self._columns: dict[str, list[str] | None] = {}

    # -- reconciliation ------------------------------------------------------------

    def reconcile(self) -> list[CheckResult]:
        records = self.rules.records_table
        results = []
        if records is None:
            results.append(self._reconcile_parsed())
        else:
            dropped, why_unknown = self._dropped()
            for check, where, rows in (
                ("reconcile_curated", "curated", self._curated_rows(records)),
                ("reconcile_warehouse", "warehouse", self._warehouse_rows(records)),
            ):
                results.append(self._reconcile(check, where, records, rows, dropped, why_unknown))
        for table in self.rules.tables:
            if table != records:
                results.append(self._warehouse_vs_curated(table))
        return results

    def _dropped(self) -> tuple[dict[str, int], str | None]:
        """Rows each drop rule left out, and why they are unknown when they are."""
        if not self.rules.drops:
            return {}, None
        if self.run is None:
            return {}, "no successful ETL run of the day is recorded"
        if self.run.dropped_rows is None:
            return {}, "the day's last ETL run did not record the rows its rules dropped"
        return {rule: self.run.dropped_rows.get(rule, 0) for rule in self.rules.drops}, None

    def _reconcile(
        self,
        check: str,
        where: str,
        table: str,
        rows: int | None,
        dropped: dict[str, int],
        why_unknown: str | None,
    ) -> CheckResult:
        expected = str(self.landed)
        if rows is None:
            missing = f"{table} has no {where} partition for {self.dt}"
            return CheckResult(check, table, False, 0, expected, self._noted(missing))
        if why_unknown is not None:
            rules = ", ".join(self.rules.drops)
            detail = f"rows dropped by {rules} unknown: {why_unknown}; run the ETL again"
            return CheckResult(check, table, False, rows, expected, self._noted(detail))
        observed = rows + sum(dropped.values())
        by_rule = ", ".join(f"{rule} {count}" for rule, count in dropped.items())
        parts = f"{rows} in {where} {table}" + (f" + dropped ({by_rule})" if dropped else "")
        if observed == self.landed:
            detail = f"{self.landed} raw rows landed = {parts}"
        else:
            detail = f"{self.landed} raw rows landed, but {parts} = {observed}"
        passed = observed == self.landed and not self.damaged
        return CheckResult(check, table, passed, observed, expected, self._noted(detail))

    def _reconcile_parsed(self) -> CheckResult:
        """A user's own transform makes no table of one row per record: the rows the ETL
        parsed are compared with the rows landed instead."""
        table, expected = self.rules.main_table, str(self.landed)
        if self.run is None or self.run.raw_rows is None:
            detail = "no successful ETL run of the day is recorded; run the ETL"
            return CheckResult("reconcile_parsed", table, False, 0, expected, detail)
        parsed = self.run.raw_rows
        detail = f"the ETL parsed {parsed} of {self.landed} raw rows landed (own transform)"
        passed = parsed == self.landed and not self.damaged
        return CheckResult("reconcile_parsed", table, passed, parsed, expected, self._noted(detail))

    def _warehouse_vs_curated(self, table: str) -> CheckResult:
        curated, loaded = self._curated_rows(table), self._warehouse_rows(table)
        check = "warehouse_vs_curated"
        if curated is None:
            detail = f"no curated partition of {table} for {self.dt}"
            return CheckResult(check, table, False, loaded or 0, "?", detail)
        if loaded is None:
            detail = f"{table} is not in the warehouse"
            return CheckResult(check, table, False, 0, str(curated), detail)
        detail = f"{loaded} rows in the warehouse, {curated} in the curated partition"
        return CheckResult(check, table, loaded == curated, loaded, str(curated), detail)

    def _noted(self, detail: str) -> str:
        """`detail`, with what makes the landed count itself doubtful."""
        if self.damaged:
            detail += f"; {len(self.damaged)} raw files differ from what was landed"
        if self.raw_changed:
            detail += "; the raw partition changed since the ETL ran (late data? run it again)"
        return detail

    def _curated_rows(self, table: str) -> int | None:
        """Rows of the table's curated partition, from the Parquet footers; None if the
        partition does not exist."""
        directory = partition_dir("curated", table, self.dt.isoformat())
        if not self.lake.exists(directory):
            return None
        rows = 0
        for info in self.lake.list_files(directory):
            if not info.path.endswith(".parquet"):
                continue
            if self.lake.capabilities.local_paths:
                rows += pq.read_metadata(self.lake.uri(info.path)).num_rows
            else:
                rows += pq.read_metadata(pa.BufferReader(self.lake.read(info.path))).num_rows
        return rows

    def _warehouse_rows(self, table: str) -> int | None:
        try:
            return self.warehouse.row_count(table, self.dt)
        except NotFoundError:
            return None

    # -- the warehouse's day ---------------------------------------------------------

    def columns(self, table: str) -> list[str] | None:
        """The table's columns; None if the warehouse has no such table."""
        if table not in self._columns:
            if table not in self.warehouse.tables():
                self._columns[table] = None
            else:
                found = self.warehouse.query(f"SELECT * FROM {_quote(table)} LIMIT 0")
                self._columns[table] = list(found.column_names)
        return self._columns[table]

    def _day_rows(self, table: str) -> str:
        return f"FROM {_quote(table)} WHERE {_quote(PARTITION_COLUMN)} = {_sql_date(self.dt)}"

    def unique_key(self, table: str, key: Sequence[str]) -> CheckResult:
        named = ", ".join(key)
        have = self.columns(table)
        missing = [column for column in key if have is not None and column not in have]
        if have is None or missing:
            what = f"{table} is not in the warehouse" if have is None else f"no column {missing}"
            return CheckResult("unique_key", table, False, 0, "0", f"key ({named}): {what}")
        columns = ", ".join(_quote(column) for column in key)
        [row] = self.warehouse.query(
            f"SELECT count(*) AS n_rows, (SELECT count(*) FROM (SELECT DISTINCT {columns} "
            f"{self._day_rows(table)}) AS day_keys) AS n_keys {self._day_rows(table)}"
        ).to_pylist()
        duplicates = int(row["n_rows"]) - int(row["n_keys"])
        detail = f"{row['n_rows']} rows, {row['n_keys']} distinct keys ({named})"
        return CheckResult("unique_key", table, duplicates == 0, duplicates, "0", detail)

    def required_not_null(self, table: str) -> CheckResult:
        check, have = "required_not_null", self.columns(table)
        if have is None:
            return CheckResult(check, table, False, 0, "0", f"{table} is not in the warehouse")
        wanted = self.rules.required_columns
        present = [column for column in wanted if column in have]
        absent = [column for column in wanted if column not in have]
        if absent and self.rules.strict_columns:
            detail = f"required columns missing from the table: {', '.join(absent)}"
            return CheckResult(check, table, False, len(absent), "0", detail)
        if not present:
            return CheckResult(check, table, True, 0, "0", "no required column to check")
        counts = ", ".join(
            f"count(*) - count({_quote(column)}) AS n{i}" for i, column in enumerate(present)
        )
        [row] = self.warehouse.query(f"SELECT {counts} {self._day_rows(table)}").to_pylist()
        nulls = {column: int(row[f"n{i}"]) for i, column in enumerate(present)}
        total = sum(nulls.values())
        if total:
            detail = "nulls in " + ", ".join(f"{c} {n}" for c, n in nulls.items() if n)
        else:
            detail = f"no nulls in {len(present)} required columns"
        if absent:
            detail += f" (not in the table: {', '.join(absent)})"
        return CheckResult(check, table, total == 0, total, "0", detail)

    def row_count_band(self, table: str, quality: QualitySettings) -> CheckResult:
        check = "row_count_band"
        if self.columns(table) is None:
            return CheckResult(check, table, False, 0, "?", f"{table} is not in the warehouse")
        first = self.dt - timedelta(days=quality.trailing_days)
        day = _quote(PARTITION_COLUMN)
        history = self.warehouse.query(
            f"SELECT count(*) AS n FROM {_quote(table)} WHERE {day} >= {_sql_date(first)} "
            f"AND {day} < {_sql_date(self.dt)} GROUP BY {day}"
        ).column("n")
        earlier = [int(n) for n in history.to_pylist()]
        rows = int(self.warehouse.row_count(table, self.dt))
        if len(earlier) < quality.min_trailing_days:
            detail = (
                f"not enough history: {len(earlier)} of the {quality.trailing_days} days before"
                f" have rows, {quality.min_trailing_days} needed"
            )
            return CheckResult(check, table, True, rows, "any", detail)
        mean = sum(earlier) / len(earlier)
        low, high = mean * (1 - quality.row_count_band), mean * (1 + quality.row_count_band)
        expected = f"{low:.0f}..{high:.0f}"
        detail = (
            f"{rows} rows; mean {mean:.1f} of {len(earlier)} earlier days"
            f" +/- {quality.row_count_band:.0%}"
        )
        return CheckResult(check, table, low <= rows <= high, rows, expected, detail)
