"""The warehouse interface: day-partitioned tables loaded from curated Parquet.

Every table has a `dt DATE` column (the processed day) and is only ever written by
`replace_partition`, which swaps one day's rows in one transaction: re-running a day
replaces it and never appends duplicates (E8), and a failed load leaves the old rows.
A table that several writers share day by day (one dataset's quality results beside
another's) is written a slice at a time: `where` names the slice, by column values.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping
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
    "check_column_name",
    "check_table_name",
    "one_statement",
    "split_statements",
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


@dataclass(frozen=True)
class WarehouseCapabilities:
    """What callers may count on beyond the contract (a flag, never a test of the
    backend's name)."""

    registers_files_in_place: bool = False
    """The warehouse keeps no copy of a day: it reads the files where they lie, so it
    is given the lake's URIs (`hdfs://` ones too), never local copies."""
    spark_catalog: bool = False
    """The warehouse is a catalog of the process's SparkSession: the batch engine's
    session must be built with its settings (`spark_session_conf`)."""


def check_table_name(table: str) -> str:
    """Table names are identifiers portable to every backend; anything else is refused."""
    if not _TABLE_NAME.match(table):
        raise WarehouseError(f"invalid table name {table!r}: use letters, digits and _")
    return table


def check_column_name(column: str) -> str:
    """Column names a caller gives (a slice's columns) are identifiers too."""
    if not _TABLE_NAME.match(column):
        raise WarehouseError(f"invalid column name {column!r}: use letters, digits and _")
    return column


# Pieces of SQL a `;` inside does not end a statement in: quoted strings and identifiers
# (a doubled quote, or a backslash-escaped one, stays inside) and comments.
_SQL_PIECE = re.compile(
    r"""'(?:[^'\\]|\\.|'')*'?"""
    r"""|"(?:[^"\\]|\\.|"")*"?"""
    r"""|`(?:[^`]|``)*`?"""
    # MySQL reads `--` as a comment only before a blank; where a dialect differs, the
    # split errs towards more statements (refused), never fewer.
    r"|--(?=\s|$)[^\n]*|#[^\n]*|/\*.*?(?:\*/|$)"
    r"|;"
    r"""|[^'"`;#/-]+|.""",
    re.DOTALL,
)


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, split at the semicolons outside strings, quoted names and
    comments; statements that hold nothing but blanks and comments are dropped. For
    backends whose driver cannot tell how many statements a text holds."""
    statements: list[str] = []
    current: list[str] = []
    meaningful = False
    for piece in _SQL_PIECE.findall(sql):
        if piece == ";":
            if meaningful:
                statements.append("".join(current).strip())
            current, meaningful = [], False
            continue
        current.append(piece)
        comment = piece.startswith(("--", "#", "/*"))
        meaningful = meaningful or (not comment and bool(piece.strip()))
    if meaningful:
        statements.append("".join(current).strip())
    return statements


def one_statement(sql: str) -> str:
    """The one statement `sql` holds; `QueryError` when it holds none or several (a
    backend would run them all and answer with the last one, or refuse them obscurely)."""
    statements = split_statements(sql)
    if not statements:
        raise QueryError("the query holds no SQL statement", sql)
    if len(statements) > 1:
        raise QueryError(
            f"the query holds {len(statements)} SQL statements; run one at a time", sql
        )
    return statements[0]


class Warehouse(abc.ABC):
    capabilities: WarehouseCapabilities

    @abc.abstractmethod
    def replace_partition(
        self,
        table: str,
        dt: date,
        parquet_uris: list[str],
        *,
        where: Mapping[str, str] | None = None,
    ) -> int:
        """Make the rows of `parquet_uris` the whole of day `dt` in `table`, atomically.

        Creates the table (with a `dt DATE` column) on its first load. Loading the
        same files again leaves the same contents. Returns the rows loaded.

        With `where` (column → value), only the slice of day `dt` whose columns hold
        those values is replaced; the day's other rows stay. Every row of the files
        must belong to the slice (else `WarehouseError`, and nothing changes), so
        loading the same files again still leaves the same contents.
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
