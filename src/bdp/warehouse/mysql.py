"""The MySQL / MariaDB warehouse: one InnoDB table per curated table, LIST-partitioned by day.

Replacing day D never touches the table's rows in place. The day is built in a private
staging table (`~bdp_stage_<hash>`, a name no bdp table can have), bulk-loaded with
LOAD DATA LOCAL INFILE (or batched INSERTs), and then swapped in with
`ALTER TABLE … EXCHANGE PARTITION`: one atomic metadata change. A query running
meanwhile sees the old day or the new one, never half; a load killed before the swap
leaves the old day and a staging table, which the next load of the table drops.
(Decision 0018 measures this against DELETE + INSERT on an indexed `dt`.)

Loads of one table take turns through a named server lock (`GET_LOCK`), which the server
releases when a killed loader's connection drops. Queries (`bdp query`, the report, the
quality checks) run as `warehouse.mysql.query_user` when one is set, in a read-only
transaction, one statement at a time, with ANSI quotes so `"name"` is an identifier as
in DuckDB. Every identifier is quoted; every value is a parameter or escaped load data.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pymysql
import pymysql.constants.FIELD_TYPE as FT
from pymysql.cursors import Cursor

from bdp.config import MysqlWarehouseSettings
from bdp.errors import NotFoundError
from bdp.warehouse import WAREHOUSES
from bdp.warehouse.base import (
    PARTITION_COLUMN,
    QueryError,
    Warehouse,
    WarehouseError,
    check_column_name,
    check_table_name,
    one_statement,
)
from bdp.warehouse.mysql_types import (
    STRING_WIDTHS,
    ColumnType,
    UnstorableValueError,
    UnsupportedTypeError,
    column_type,
    string_width,
    tsv_lines,
    widest,
)

__all__ = ["MysqlWarehouse"]

STAGE_PREFIX = "~bdp_stage_"
STRING_WIDTH = STRING_WIDTHS[0][0]
LOAD_BATCH_ROWS = 200_000
INSERT_BATCH_ROWS = 2_000

# What a query may start with: statements that read. Anything else (DDL above all, which
# MySQL runs even inside a read-only transaction, committing it first) is refused.
_READING = {"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXPLAIN", "VALUES", "TABLE"}
_FIRST_WORD = re.compile(r"(?:\s+|--(?=\s)[^\n]*|#[^\n]*|/\*.*?\*/|\()*([A-Za-z]+)", re.DOTALL)

# Server errors that mean "not reachable" rather than "refused".
_UNREACHABLE = {2002, 2003, 2006, 2013}
_NO_TABLE = 1146


def quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _partition(day: dt.date) -> str:
    return f"p{day:%Y%m%d}"


def _stage_name(table: str) -> str:
    return STAGE_PREFIX + hashlib.sha1(table.encode()).hexdigest()[:16]


class MysqlWarehouse(Warehouse):
    capabilities = WAREHOUSES.capabilities("mysql")

    def __init__(
        self,
        settings: MysqlWarehouseSettings,
        *,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._on_wait = on_wait
        self._collation: str | None = None

    @property
    def where(self) -> str:
        s = self.settings
        return f"the mysql warehouse {s.user}@{s.host}:{s.port}/{s.database}"

    # -- connections -------------------------------------------------------------------

    @contextlib.contextmanager
    def _connection(self, *, query: bool = False) -> Iterator[pymysql.Connection[Cursor]]:
        s = self.settings
        user = (s.query_user or s.user) if query else s.user
        try:
            conn = pymysql.connect(
                host=s.host,
                port=s.port,
                user=user,
                password=s.query_secret() if query else s.secret(),
                database=s.database,
                charset="utf8mb4",
                connect_timeout=s.connect_timeout_s,
                # Until the server has greeted us, waiting is connecting: a server that
                # accepts the socket and never speaks must not hold us for io_timeout_s.
                read_timeout=s.connect_timeout_s,
                write_timeout=s.connect_timeout_s,
                local_infile=not query and s.load_method == "load_data",
                autocommit=True,
                # Timestamps are instants in UTC, as everywhere in bdp; `"x"` names a column.
                init_command="SET time_zone = '+00:00', "
                "sql_mode = CONCAT_WS(',', @@sql_mode, 'ANSI_QUOTES', 'STRICT_ALL_TABLES')",
            )
        except pymysql.err.OperationalError as exc:
            code = exc.args[0] if exc.args else 0
            if code in _UNREACHABLE:
                raise WarehouseError(
                    f"{self.where} does not answer (waited up to {s.connect_timeout_s:g} s; "
                    f"is the server running?): {exc.args[-1]}"
                ) from None
            raise WarehouseError(f"cannot connect to {self.where}: {exc.args[-1]}") from None
        # PyMySQL keeps the timeouts it applies to each read and write here.
        conn._read_timeout = conn._write_timeout = s.io_timeout_s  # type: ignore[attr-defined]
        try:
            yield conn
        except pymysql.err.Error as exc:
            # What the operation did not turn into a bdp error itself (a lock call, a
            # listing, the connection lost mid-way): one line, never a driver traceback.
            raise WarehouseError(f"{self.where}: {_message(exc)}") from exc
        finally:
            with contextlib.suppress(pymysql.err.Error):
                conn.close()

    @staticmethod
    def _run(
        conn: pymysql.Connection[Cursor], sql: str, params: Sequence[Any] | None = None
    ) -> list[tuple[Any, ...]]:
        with conn.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def _collate(self, conn: pymysql.Connection[Cursor]) -> str:
        """A binary, no-pad collation: strings compare as they are stored."""
        if self._collation is None:
            [(version,)] = self._run(conn, "SELECT VERSION()")
            self._collation = "utf8mb4_nopad_bin" if "MariaDB" in version else "utf8mb4_0900_bin"
        return self._collation

    # -- loading -----------------------------------------------------------------------

    def replace_partition(
        self,
        table: str,
        dt: dt.date,
        parquet_uris: list[str],
        *,
        where: Mapping[str, str] | None = None,
    ) -> int:
        check_table_name(table)
        slice_ = {check_column_name(column): value for column, value in (where or {}).items()}
        try:
            files = _Files(parquet_uris)
        except (OSError, pa.ArrowException) as exc:
            raise WarehouseError(f"loading {table} dt={dt}: {exc}") from exc
        with self._connection() as conn, self._turn(conn, table):
            try:
                return self._replace(conn, table, dt, files, slice_)
            except pymysql.err.Error as exc:
                raise WarehouseError(f"loading {table} dt={dt}: {_message(exc)}") from exc
            except (OSError, pa.ArrowException, UnstorableValueError) as exc:
                raise WarehouseError(f"loading {table} dt={dt}: {exc}") from exc

    @contextlib.contextmanager
    def _turn(self, conn: pymysql.Connection[Cursor], table: str) -> Iterator[None]:
        """Hold the table's load lock; another process's load of it waits its turn."""
        name = "bdp:" + hashlib.sha1(f"{self.settings.database}.{table}".encode()).hexdigest()
        [(got,)] = self._run(conn, "SELECT GET_LOCK(%s, 0)", [name])
        if not got:
            if self._on_wait is not None:
                self._on_wait(f"another load of {table}")
            timeout = self.settings.lock_timeout_s
            [(got,)] = self._run(conn, "SELECT GET_LOCK(%s, %s)", [name, timeout])
            if not got:
                raise WarehouseError(
                    f"another load of {table} held it for more than {timeout:g} s "
                    "(`warehouse.mysql.lock_timeout_s` sets how long to wait)"
                )
        try:
            yield
        finally:
            with contextlib.suppress(pymysql.err.Error):
                self._run(conn, "SELECT RELEASE_LOCK(%s)", [name])

    def _replace(
        self,
        conn: pymysql.Connection[Cursor],
        table: str,
        day: dt.date,
        files: _Files,
        slice_: dict[str, str],
    ) -> int:
        columns = self._columns(conn, table)
        if columns is None and not files.uris:
            return 0  # nothing to take a schema from, and no rows to remove
        if slice_ and files.uris:
            files.refuse_rows_outside(table, day, slice_)
        wanted = files.column_types(table)
        if columns is None:
            self._create(conn, table, day, wanted)
        else:
            self._evolve(conn, table, columns, wanted)
            self._add_partition(conn, table, day)
        stage = _stage_name(table)
        # A load killed earlier left its stage behind; this load holds the table's lock,
        # so no other one is using it.
        self._run(conn, f"DROP TABLE IF EXISTS {quote(stage)}")
        self._run(conn, f"CREATE TABLE {quote(stage)} LIKE {quote(table)}")
        try:
            self._run(conn, f"ALTER TABLE {quote(stage)} REMOVE PARTITIONING")
            if slice_:
                self._keep_other_slices(conn, table, stage, day, slice_)
            loaded = self._load(conn, stage, day, files)
            # The swap waits for running queries; how long is the load's lock timeout.
            self._run(
                conn,
                "SET SESSION lock_wait_timeout = %s",
                [max(1, int(self.settings.lock_timeout_s))],
            )
            self._run(
                conn,
                f"ALTER TABLE {quote(table)} EXCHANGE PARTITION {quote(_partition(day))} "
                f"WITH TABLE {quote(stage)}",
            )
        finally:
            # After the swap it holds the old day.
            with contextlib.suppress(pymysql.err.Error):
                self._run(conn, f"DROP TABLE IF EXISTS {quote(stage)}")
        return loaded

    def _columns(self, conn: pymysql.Connection[Cursor], table: str) -> dict[str, str] | None:
        """The table's columns and their types as `information_schema` spells them."""
        rows = self._run(
            conn,
            "SELECT column_name, column_type FROM information_schema.columns "
            "WHERE table_schema = DATABASE() AND table_name = %s ORDER BY ordinal_position",
            [table],
        )
        return {name: kind for name, kind in rows} if rows else None

    def _create(
        self,
        conn: pymysql.Connection[Cursor],
        table: str,
        day: dt.date,
        wanted: dict[str, ColumnType],
    ) -> None:
        definitions = [f"{quote(name)} {kind.ddl} NULL" for name, kind in wanted.items()]
        definitions.append(f"{quote(PARTITION_COLUMN)} DATE NOT NULL")
        self._run(
            conn,
            f"CREATE TABLE IF NOT EXISTS {quote(table)} ({', '.join(definitions)}) "
            f"ENGINE = InnoDB DEFAULT CHARSET = utf8mb4 COLLATE = {self._collate(conn)} "
            f"PARTITION BY LIST COLUMNS ({quote(PARTITION_COLUMN)}) "
            f"(PARTITION {quote(_partition(day))} VALUES IN ('{day.isoformat()}'))",
        )

    def _add_partition(self, conn: pymysql.Connection[Cursor], table: str, day: dt.date) -> None:
        found = self._run(
            conn,
            "SELECT 1 FROM information_schema.partitions WHERE table_schema = DATABASE() "
            "AND table_name = %s AND partition_name = %s",
            [table, _partition(day)],
        )
        if not found:
            # An empty partition: until the swap the day reads as it did, without rows.
            self._run(
                conn,
                f"ALTER TABLE {quote(table)} ADD PARTITION (PARTITION "
                f"{quote(_partition(day))} VALUES IN ('{day.isoformat()}'))",
            )

    def _evolve(
        self,
        conn: pymysql.Connection[Cursor],
        table: str,
        have: dict[str, str],
        wanted: dict[str, ColumnType],
    ) -> None:
        """Additive changes only: new columns (older days read NULL) and wider text."""
        existing = {name.lower(): (name, kind) for name, kind in have.items()}
        changes = []
        for name, kind in wanted.items():
            if name.lower() not in existing:
                changes.append(f"ADD COLUMN {quote(name)} {kind.ddl} NULL")
                continue
            current = ColumnType(_ddl_of(existing[name.lower()][1]))
            broader = _broader(current.ddl, kind.ddl)
            if broader == current.ddl:
                continue
            if broader is not None:
                changes.append(f"MODIFY COLUMN {quote(name)} {broader} NULL")
                continue
            raise WarehouseError(
                f"table {table}, column {name}: the files hold {kind.ddl} but the table has "
                f"{current.ddl}; an incompatible change needs a new table or column"
            )
        if changes:
            self._run(conn, f"ALTER TABLE {quote(table)} {', '.join(changes)}")

    def _keep_other_slices(
        self,
        conn: pymysql.Connection[Cursor],
        table: str,
        stage: str,
        day: dt.date,
        slice_: dict[str, str],
    ) -> None:
        """The stage starts as the day's rows outside the slice being replaced."""
        inside = " AND ".join(f"{quote(column)} <=> %s" for column in slice_)
        self._run(
            conn,
            f"INSERT INTO {quote(stage)} SELECT * FROM {quote(table)} "
            f"PARTITION ({quote(_partition(day))}) WHERE NOT ({inside})",
            list(slice_.values()),
        )

    def _load(
        self, conn: pymysql.Connection[Cursor], stage: str, day: dt.date, files: _Files
    ) -> int:
        if self.settings.load_method == "insert":
            return self._insert(conn, stage, day, files)
        loaded = 0
        with (
            tempfile.TemporaryDirectory(prefix="bdp-mysql-load-") as folder,
            ThreadPoolExecutor(1, thread_name_prefix="bdp-mysql-tsv") as writer,
        ):

            def prepare(index: int, batch: pa.RecordBatch) -> tuple[str, list[str], int]:
                # Two files in turn: one is written while the server reads the other.
                path = os.path.join(folder, f"rows-{index % 2}.tsv")
                with open(path, "wb") as out:
                    out.write(tsv_lines(_with_day(batch, day)))
                return path, [*batch.schema.names, PARTITION_COLUMN], batch.num_rows

            pending: Future[tuple[str, list[str], int]] | None = None
            for index, batch in enumerate(files.batches(LOAD_BATCH_ROWS)):
                ready = pending.result() if pending is not None else None
                pending = writer.submit(prepare, index, batch)
                if ready is not None:
                    loaded += self._load_file(conn, stage, *ready)
            if pending is not None:
                loaded += self._load_file(conn, stage, *pending.result())
        return loaded

    def _load_file(
        self,
        conn: pymysql.Connection[Cursor],
        stage: str,
        path: str,
        columns: list[str],
        rows: int,
    ) -> int:
        names = ", ".join(quote(name) for name in columns)
        with conn.cursor() as cursor:
            cursor.execute(
                f"LOAD DATA LOCAL INFILE %s INTO TABLE {quote(stage)} "
                "CHARACTER SET utf8mb4 FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' "
                f"LINES TERMINATED BY '\\n' ({names})",
                [path],
            )
            count = int(cursor.rowcount)
            # With LOCAL the server turns bad data into warnings, never errors.
            cursor.execute("SHOW COUNT(*) WARNINGS")
            [(warnings,)] = cursor.fetchall()
            if warnings:
                cursor.execute("SHOW WARNINGS LIMIT 3")
                said = "; ".join(str(row[2]) for row in cursor.fetchall())
                raise WarehouseError(f"the server changed loaded values: {said}")
        if count != rows:
            raise WarehouseError(f"{rows} rows sent but {count} loaded")
        return count

    def _insert(
        self, conn: pymysql.Connection[Cursor], stage: str, day: dt.date, files: _Files
    ) -> int:
        loaded = 0
        for batch in files.batches(INSERT_BATCH_ROWS):
            names = [*batch.schema.names, PARTITION_COLUMN]
            marks = ", ".join(["%s"] * len(names))
            rows = [(*(_plain(value) for value in row.values()), day) for row in batch.to_pylist()]
            with conn.cursor() as cursor:
                loaded += (
                    cursor.executemany(
                        f"INSERT INTO {quote(stage)} ({', '.join(map(quote, names))}) "
                        f"VALUES ({marks})",
                        rows,
                    )
                    or 0
                )
        return loaded

    # -- reading -----------------------------------------------------------------------

    def query(self, sql: str) -> pa.Table:
        statement = one_statement(sql)
        first = _FIRST_WORD.match(statement)
        if first is None or first[1].upper() not in _READING:
            word = first[1].upper() if first else statement[:20]
            raise QueryError(f"queries only read the warehouse: {word} is not allowed", sql)
        with self._connection(query=True) as conn:
            try:
                self._run(conn, "START TRANSACTION READ ONLY")
                with conn.cursor() as cursor:
                    cursor.execute(statement)
                    rows = cursor.fetchall()
                    description = cursor.description or ()
                self._run(conn, "ROLLBACK")
            except pymysql.err.Error as exc:
                raise QueryError(_message(exc), sql) from exc
        return _arrow(description, rows)

    def tables(self) -> list[str]:
        with self._connection(query=True) as conn:
            return self._tables(conn)

    def _tables(self, conn: pymysql.Connection[Cursor]) -> list[str]:
        rows = self._run(
            conn,
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = DATABASE() AND table_name NOT LIKE %s ORDER BY table_name",
            [STAGE_PREFIX.replace("_", "\\_") + "%"],
        )
        return [name for (name,) in rows]

    def row_count(self, table: str, dt: dt.date | None = None) -> int:
        check_table_name(table)
        where, params = (f" WHERE {quote(PARTITION_COLUMN)} = %s", [dt]) if dt else ("", [])
        with self._connection(query=True) as conn:
            try:
                [(count,)] = self._run(conn, f"SELECT COUNT(*) FROM {quote(table)}{where}", params)
            except pymysql.err.ProgrammingError as exc:
                if exc.args and exc.args[0] == _NO_TABLE:
                    raise NotFoundError(f"no table {table!r} in the warehouse") from None
                raise WarehouseError(_message(exc)) from exc
        return int(count)

    def close(self) -> None:
        """Nothing stays open between operations."""


class _Files:
    """A day's Parquet files, read as one dataset (a column missing from older files
    reads as NULL)."""

    def __init__(self, uris: list[str]) -> None:
        self.uris = uris
        self.dataset = None
        if uris:
            # Every file's columns: by default a dataset takes the first file's only.
            schema = pa.unify_schemas([pq.read_schema(uri) for uri in uris])
            self.dataset = pads.dataset(uris, schema=schema, format="parquet")

    def column_types(self, table: str) -> dict[str, ColumnType]:
        if self.dataset is None:
            return {}
        schema = self.dataset.schema
        found: dict[str, ColumnType] = {}
        strings = [
            f.name
            for f in schema
            if pa.types.is_string(f.type)
            or pa.types.is_large_string(f.type)
            or (pa.types.is_dictionary(f.type) and pa.types.is_string(f.type.value_type))
        ]
        widths = {name: STRING_WIDTH for name in strings}
        if strings:
            for batch in self.dataset.to_batches(columns=strings, batch_size=LOAD_BATCH_ROWS):
                for name in strings:
                    widths[name] = widest([widths[name], string_width(batch.column(name))])
        for field in schema:
            if field.name == PARTITION_COLUMN:
                raise WarehouseError(
                    f"table {table}: the files have a column {PARTITION_COLUMN!r}, the name "
                    "of the warehouse's day column"
                )
            try:
                found[field.name] = column_type(field.type, widths.get(field.name, STRING_WIDTH))
            except UnsupportedTypeError as exc:
                raise WarehouseError(f"table {table}, column {field.name}: {exc}") from None
        return found

    def batches(self, size: int) -> Iterator[pa.RecordBatch]:
        if self.dataset is None:
            return
        for batch in self.dataset.to_batches(batch_size=size):
            if batch.num_rows:
                yield batch

    def refuse_rows_outside(self, table: str, day: dt.date, slice_: dict[str, str]) -> None:
        """A slice's files must hold only its rows: any other would survive (or
        duplicate on) the next replace of the slice."""
        assert self.dataset is not None
        missing = [column for column in slice_ if column not in self.dataset.schema.names]
        if missing:
            raise WarehouseError(f"loading {table} dt={day}: the files have no column {missing}")
        outside = None
        for column, value in slice_.items():
            differs = ~(pads.field(column) == value) | pads.field(column).is_null()
            outside = differs if outside is None else outside | differs
        count = self.dataset.count_rows(filter=outside)
        if count:
            wanted = ", ".join(f"{column} = {value!r}" for column, value in slice_.items())
            raise WarehouseError(
                f"loading {table} dt={day}: {count} rows of the files are not in the slice "
                f"{wanted} being replaced"
            )


def _with_day(batch: pa.RecordBatch, day: dt.date) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [*batch.columns, pa.array([day] * batch.num_rows, pa.date32())],
        names=[*batch.schema.names, PARTITION_COLUMN],
    )


def _plain(value: Any) -> Any:
    """A Python value as PyMySQL sends it: nested values as JSON text, instants in UTC."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, (list, dict)):
        import orjson

        return orjson.dumps(value).decode()
    return value


_NUMBERS = ("TINYINT", "SMALLINT", "INT", "BIGINT")


def _broader(table: str, files: str) -> str | None:
    """The column type that holds the table's values and the files' alike without loss:
    the table's own when the files fit, a wider one to change it to, or None when
    neither holds the other (an incompatible change)."""
    if table == files:
        return table
    texts = [name for name, _ in STRING_WIDTHS]
    if table in texts and files in texts:
        return widest([table, files])
    if {table, files} == {"FLOAT", "DOUBLE"}:
        return "DOUBLE"
    # Signed integers widen into each other; unsigned ones likewise (a sign change is not
    # widening: it would need one more bit than BIGINT has).
    signed = [t.endswith("UNSIGNED") for t in (table, files)]
    bare = [t.removesuffix(" UNSIGNED") for t in (table, files)]
    if signed[0] == signed[1] and all(b in _NUMBERS for b in bare):
        return table if _NUMBERS.index(bare[0]) >= _NUMBERS.index(bare[1]) else files
    return None


def _ddl_of(column_type: str) -> str:
    """`information_schema.columns.column_type` spelled as bdp's DDL spells it."""
    kind = column_type.lower()
    simple = {
        "tinyint(1)": "BOOLEAN",
        "varchar(255)": "VARCHAR(255)",
        "text": "TEXT",
        "mediumtext": "MEDIUMTEXT",
        "longtext": "LONGTEXT",
        "longblob": "LONGBLOB",
        "date": "DATE",
        "datetime(6)": "DATETIME(6)",
        "time(6)": "TIME(6)",
        "float": "FLOAT",
        "double": "DOUBLE",
        "json": "JSON",
    }
    if kind in simple:
        return simple[kind]
    integer = re.fullmatch(r"(tinyint|smallint|int|bigint)(?:\(\d+\))?( unsigned)?", kind)
    if integer:
        return integer[1].upper() + (" UNSIGNED" if integer[2] else "")
    decimal_ = re.fullmatch(r"decimal\((\d+),(\d+)\)", kind)
    if decimal_:
        return f"DECIMAL({decimal_[1]},{decimal_[2]})"
    return column_type.upper()


def _message(exc: pymysql.err.Error) -> str:
    """The server's message without PyMySQL's tuple wrapping."""
    if len(exc.args) >= 2:
        return f"{exc.args[1]} (MySQL error {exc.args[0]})"
    return str(exc)


# Result column types by the protocol's field type, for results with no rows to look at.
_RESULT_TYPES: dict[int, pa.DataType] = {
    FT.TINY: pa.int64(),
    FT.SHORT: pa.int64(),
    FT.LONG: pa.int64(),
    FT.INT24: pa.int64(),
    FT.LONGLONG: pa.int64(),
    FT.YEAR: pa.int64(),
    FT.FLOAT: pa.float64(),
    FT.DOUBLE: pa.float64(),
    FT.DATE: pa.date32(),
    FT.NEWDATE: pa.date32(),
    # bdp stores instants in UTC; the session's zone is UTC too.
    FT.DATETIME: pa.timestamp("us", tz="UTC"),
    FT.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    FT.TIME: pa.duration("us"),
}


def _arrow(description: Sequence[Sequence[Any]], rows: Sequence[Sequence[Any]]) -> pa.Table:
    """A result as Arrow, one column per result column (duplicate names kept)."""
    names = [str(column[0]) for column in description]
    arrays = []
    for index, column in enumerate(description):
        values = [row[index] for row in rows]
        kind = _RESULT_TYPES.get(column[1])
        arrays.append(_column(values, kind))
    return pa.Table.from_arrays(arrays, names=names)


def _column(values: list[Any], kind: pa.DataType | None) -> pa.Array:
    """Values as the type their field type says; else as Arrow infers them (an
    unsigned BIGINT above the signed range), else as text."""
    wider = pa.uint64() if kind == pa.int64() else None
    for attempt in (kind, wider):
        try:
            return pa.array(values, type=attempt)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            continue
    return pa.array([None if v is None else str(v) for v in values], pa.string())
