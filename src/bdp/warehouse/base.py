"""The warehouse interface: day-partitioned tables loaded from curated Parquet.

Every table has a `dt DATE` column (the processed day) and is only ever written by
`replace_partition`, which swaps one day's rows in one transaction: re-running a day
replaces it and never appends duplicates (E8), and a failed load leaves the old rows.
"""

from __future__ import annotations

import abc
import re
from dataclasses import dataclass
from datetime import date

import pyarrow as pa

from bdp.errors import BdpError

__all__ = [
    "PARTITION_COLUMN",
    "QueryError",
    "Warehouse",
    "WarehouseCapabilities",
    "WarehouseError",
    "WarehouseUnavailableError",
    "check_table_name",
]

PARTITION_COLUMN = "dt"

_TABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


class WarehouseError(BdpError):
    """The warehouse failed to load or answer."""


class QueryError(WarehouseError):
    """A query was rejected; the message is the backend's own."""

    def __init__(self, message: str, sql: str) -> None:
        self.sql = sql
        super().__init__(message)


class WarehouseUnavailableError(BdpError):
    """The backend is configured but bdp cannot load into it yet."""


@dataclass(frozen=True)
class WarehouseCapabilities:
    """What callers may count on beyond the contract; no caller needs to tell warehouses
    apart yet (add a flag when one does, never a test of the backend's name)."""


def check_table_name(table: str) -> str:
    """Table names are identifiers portable to every backend; anything else is refused."""
    if not _TABLE_NAME.match(table):
        raise WarehouseError(f"invalid table name {table!r}: use letters, digits and _")
    return table


class Warehouse(abc.ABC):
    capabilities: WarehouseCapabilities

    @abc.abstractmethod
    def replace_partition(self, table: str, dt: date, parquet_uris: list[str]) -> int:
        """Make the rows of `parquet_uris` the whole of day `dt` in `table`, atomically.

        Creates the table (with a `dt DATE` column) on its first load. Loading the
        same files again leaves the same contents. Returns the rows loaded.
        """

    @abc.abstractmethod
    def query(self, sql: str) -> pa.Table:
        """Run `sql`, one statement, and return its result; a rejected query raises
        `QueryError`. Queries only read the warehouse's tables: a statement that would
        write, reach files or databases outside the warehouse, or load code is refused,
        and so is more than one statement (rather than answering with the last one)."""

    @abc.abstractmethod
    def tables(self) -> list[str]:
        """Names of the tables, sorted."""

    @abc.abstractmethod
    def row_count(self, table: str, dt: date | None = None) -> int:
        """Rows in `table`, or in its partition `dt`; `NotFoundError` if no such table."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
