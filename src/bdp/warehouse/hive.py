"""The Hive warehouse: Spark's Hive catalog over the lake, its metastore in MariaDB/MySQL.

Each table is an EXTERNAL Parquet table in database `warehouse.hive.database`,
partitioned by `dt DATE`. A day is not copied: its partition is registered with the
folder that holds the day's curated files as its LOCATION, so the lake's files are the
table's. Replacing a day is one metastore operation (ADD PARTITION the first time, SET
LOCATION after), so a query sees the old day or the new one, never a mix.

A slice of a day (`where`) comes from files in a temporary folder, and the rest of the
day must stay: the day is rewritten, copy on write, into a new folder under Spark's
warehouse directory (the day's rows outside the slice plus the slice's files), which
then becomes the day's location the same way. The previous copy is kept for the
queries that may still read it; older ones are removed.

One process has one SparkSession: the batch engine (`etl.engine = "spark"`) and this
warehouse share it, built from `session_conf`. The metastore client and its JDBC driver
are loaded in Spark's isolated Hive class loader (`spark.sql.hive.metastore.jars`), so
the driver (downloaded once into the Ivy cache by `fetch_driver`, without Spark) is
found whichever session started the JVM.
`close()` leaves the session running for the other users in the process; Spark ends it
at exit.

Queries are Spark SQL, one statement, parsed before anything runs: commands (DDL,
writes, `SET`, `ADD JAR`, ...), reflection and SQL on files are refused. Identifiers are
quoted with backticks, `"` quotes identifiers as in the other backends, and values only
ever appear as escaped literals or column expressions.

Not supported: changing a column's type (a load that would is refused), a table whose
day should be split over several folders, statistics for the optimizer.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa

from bdp.config import HiveWarehouseSettings, Settings
from bdp.errors import BdpError, NotFoundError
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

__all__ = ["HiveWarehouse", "driver_package", "fetch_driver", "session_conf"]

DRIVERS = {
    "mariadb": ("org.mariadb.jdbc:mariadb-java-client:3.5.3", "org.mariadb.jdbc.Driver"),
    "mysql": ("com.mysql:mysql-connector-j:9.1.0", "com.mysql.cj.jdbc.Driver"),
}
"""JDBC URL scheme → default Maven coordinates and driver class."""

# Every class of the metastore's model: DataNucleus creates all their tables when the
# metastore starts, not one by one inside a transaction (where MariaDB's metadata locks
# make the CREATE wait for the transaction that needs it).
_MODEL = [
    "MDatabase",
    "MFieldSchema",
    "MType",
    "MTable",
    "MConstraint",
    "MSerDeInfo",
    "MOrder",
    "MColumnDescriptor",
    "MStringList",
    "MStorageDescriptor",
    "MPartition",
    "MIndex",
    "MRole",
    "MRoleMap",
    "MGlobalPrivilege",
    "MDBPrivilege",
    "MTablePrivilege",
    "MPartitionPrivilege",
    "MTableColumnPrivilege",
    "MPartitionColumnPrivilege",
    "MPartitionEvent",
    "MMasterKey",
    "MDelegationToken",
    "MTableColumnStatistics",
    "MPartitionColumnStatistics",
    "MVersionTable",
    "MResourceUri",
    "MFunction",
    "MNotificationLog",
    "MNotificationNextId",
]

# Functions that call Java methods by name: no query may.
_REFLECTION = re.compile(r"\b(?:try_)?(?:reflect|java_method)`?\(", re.IGNORECASE)


def driver_package(hive: HiveWarehouseSettings) -> tuple[str, str]:
    """Maven coordinates and class of the metastore's JDBC driver."""
    scheme = hive.metastore_url.split(":")[1] if hive.metastore_url.count(":") > 1 else ""
    if scheme not in DRIVERS:
        raise WarehouseError(
            f"warehouse.hive.metastore_url must start with jdbc:mariadb: or jdbc:mysql:, "
            f"not {hive.metastore_url.split('?')[0]!r}"
        )
    package, driver = DRIVERS[scheme]
    return hive.metastore_driver_package or package, driver


def _jdbc_url(hive: HiveWarehouseSettings) -> str:
    """The metastore URL with bounded waits and MySQL metadata: DataNucleus must see
    the metastore's own tables (not `information_schema.PARTITIONS`), and knows MySQL."""
    millis = str(int(hive.metastore_timeout_s * 1000))
    wanted = {
        "connectTimeout": millis,
        "socketTimeout": millis,
        "nullDatabaseMeansCurrent": "true",
        "sessionVariables": f"lock_wait_timeout={max(1, round(hive.metastore_timeout_s))}",
    }
    if hive.metastore_url.startswith("jdbc:mariadb:"):
        wanted["useMysqlMetadata"] = "true"
    base, _, query = hive.metastore_url.partition("?")
    given = [part for part in query.split("&") if part]
    names = {part.split("=")[0] for part in given}
    given += [f"{key}={value}" for key, value in wanted.items() if key not in names]
    return f"{base}?{'&'.join(given)}"


def _pyspark_jars() -> tuple[Path, str]:
    """Pyspark's jars folder and the version of the Hive metastore client in it."""
    import pyspark

    folder = Path(pyspark.__file__).parent / "jars"
    found = sorted(folder.glob("hive-metastore-*.jar"))
    if not found:
        raise WarehouseError(f"no Hive metastore client in {folder}: pyspark without Hive?")
    return folder, found[0].name.removeprefix("hive-metastore-").removesuffix(".jar")


def warehouse_dir(settings: Settings) -> str:
    return settings.warehouse.hive.warehouse_dir or str(settings.paths.home / "hive-warehouse")


MAVEN_CENTRAL = "https://repo1.maven.org/maven2"


def fetch_driver(settings: Settings) -> Path:
    """The metastore's JDBC driver jar, downloaded once from the first of
    `spark.jars.repositories` (else Maven Central) into the Ivy cache's `jars/` and
    checked against the repository's SHA-1. Fetched here rather than by Spark
    (`spark.jars.packages`), which fetches only when its JVM starts: a JVM another
    session started earlier in the process could never load the metastore."""
    import hashlib
    import urllib.request

    package, _ = driver_package(settings.warehouse.hive)
    ivy = settings.stream.spark_ivy_dir or str(settings.paths.home / "cache" / "spark-ivy")
    group, artifact, version = package.split(":")
    jar = Path(ivy) / "jars" / f"{group}_{artifact}-{version}.jar"
    if jar.exists():
        return jar
    repositories = settings.etl.spark_conf.get("spark.jars.repositories", "")
    repository = (repositories.split(",")[0] or MAVEN_CENTRAL).rstrip("/")
    url = f"{repository}/{group.replace('.', '/')}/{artifact}/{version}/{artifact}-{version}.jar"
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
        with urllib.request.urlopen(url + ".sha1", timeout=60) as response:
            expected = response.read().decode().split()[0].strip()
    except OSError as exc:
        raise WarehouseError(f"cannot fetch the metastore's JDBC driver from {url}: {exc}") from exc
    if hashlib.sha1(body).hexdigest() != expected:
        raise WarehouseError(f"the JDBC driver from {url} does not match its SHA-1")
    jar.parent.mkdir(parents=True, exist_ok=True)
    partial = jar.with_name(f".{jar.name}.{uuid.uuid4().hex}")
    partial.write_bytes(body)
    partial.replace(jar)  # another process may fetch it too: both write whole files
    return jar


def session_conf(settings: Settings) -> dict[str, str]:
    """What a SparkSession needs to be this warehouse's: the Hive catalog with its
    metastore in the configured database. The batch engine's session gets it too."""
    hive = settings.warehouse.hive
    _, driver = driver_package(hive)
    jars, hive_version = _pyspark_jars()
    driver_jar = fetch_driver(settings)
    return {
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": warehouse_dir(settings),
        "spark.sql.hive.metastore.version": hive_version,
        "spark.sql.hive.metastore.jars": "path",
        "spark.sql.hive.metastore.jars.path": f"file://{jars}/*,file://{driver_jar}",
        "spark.hadoop.javax.jdo.option.ConnectionURL": _jdbc_url(hive),
        "spark.hadoop.javax.jdo.option.ConnectionDriverName": driver,
        "spark.hadoop.javax.jdo.option.ConnectionUserName": hive.metastore_user,
        "spark.hadoop.javax.jdo.option.ConnectionPassword": hive.metastore_secret(),
        "spark.hadoop.datanucleus.schema.autoCreateAll": "true",
        "spark.hadoop.datanucleus.autoStartMechanism": "Classes",
        "spark.hadoop.datanucleus.autoStartClassNames": ",".join(
            f"org.apache.hadoop.hive.metastore.model.{name}" for name in _MODEL
        ),
        "spark.hadoop.datanucleus.connectionPoolingType": "HikariCP",
        "spark.hadoop.hive.metastore.schema.verification": "false",
        # A metastore that does not answer fails the operation at once, not after
        # minutes of retries (the JDBC timeouts bound each try).
        "spark.hadoop.hive.metastore.failure.retries": "0",
        "spark.hadoop.hive.hmshandler.retry.attempts": "1",
        "spark.hadoop.hive.metastore.client.connect.retry.delay": "1s",
        "spark.hadoop.hive.stats.autogather": "false",
        # Queries quote identifiers with `"` (bdp's checks and reports do) and never
        # read files by path.
        "spark.sql.ansi.doubleQuotedIdentifiers": "true",
        "spark.sql.runSQLOnFiles": "false",
    }


def _ident(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _literal(text: str) -> str:
    # Spark SQL reads backslash escapes inside string literals.
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _location(uri: str) -> str:
    """A Hadoop path: local paths as `file:` (written plainly, Hadoop quotes it)."""
    if "://" in uri:
        return uri
    return "file:" + str(Path(uri.removeprefix("file:")).absolute())


class HiveWarehouse(Warehouse):
    capabilities = WAREHOUSES.capabilities("hive")

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.database = settings.warehouse.hive.database
        self._secret = settings.warehouse.hive.metastore_secret()
        self._spark: Any = None

    # -- the session -------------------------------------------------------------

    def _session(self) -> Any:
        if self._spark is not None and self._spark.sparkContext._jsc is not None:
            return self._spark
        from pyspark.sql import SparkSession

        from bdp.etl.engine.spark import DEFAULT_CONF, FIXED_CONF, LOCAL_CONF

        etl = self.settings.etl
        local = etl.spark_master.startswith("local")
        conf = {
            **DEFAULT_CONF,
            **(LOCAL_CONF if local else {}),
            **etl.spark_conf,
            **session_conf(self.settings),
            **FIXED_CONF,
        }
        with self._errors("starting Spark with the Hive catalog"):
            builder = SparkSession.builder.master(etl.spark_master).appName("bdp-warehouse")
            for key, value in conf.items():
                builder = builder.config(key, value)
            spark = builder.getOrCreate()
            if spark.conf.get("spark.sql.catalogImplementation") != "hive":
                raise WarehouseError(
                    "a SparkSession without the Hive catalog already runs in this process; "
                    "open the warehouse before it, or give it the warehouse's settings"
                )
            for key, value in conf.items():
                if key.startswith("spark.sql.") and spark.conf.isModifiable(key):
                    spark.conf.set(key, value)
            self._ensure_jdbc_driver(spark)
        with self._errors(f"opening database {self.database} in the Hive metastore"):
            if not spark.catalog.databaseExists(self.database):
                spark.sql(f"CREATE DATABASE IF NOT EXISTS {_ident(self.database)}")
            spark.catalog.setCurrentDatabase(self.database)
        self._spark = spark
        return spark

    def _ensure_jdbc_driver(self, spark: Any) -> None:
        """The session's metastore loader must find the driver where `session_conf`
        put it; a session started with other settings may point elsewhere."""
        path = Path(spark.conf.get("spark.sql.hive.metastore.jars.path").split(",")[-1][7:])
        if not path.exists():
            package, _ = driver_package(self.settings.warehouse.hive)
            raise WarehouseError(
                f"the metastore's JDBC driver {package} is not at {path}, where this "
                f"process's SparkSession looks for it; open the warehouse (or the Spark "
                f"engine) before any other SparkSession"
            )

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        """Spark's and the metastore's failures as `WarehouseError`, the password out."""
        try:
            yield
        except BdpError:
            raise
        except Exception as exc:
            raise WarehouseError(self._scrub(f"{what}: {_reason(exc)}")) from None

    def _scrub(self, text: str) -> str:
        return text.replace(self._secret, "***") if self._secret else text

    def _qualified(self, table: str) -> str:
        return f"{_ident(self.database)}.{_ident(table)}"

    # -- loading -------------------------------------------------------------------

    def replace_partition(
        self,
        table: str,
        dt: date,
        parquet_uris: list[str],
        *,
        where: Mapping[str, str] | None = None,
    ) -> int:
        check_table_name(table)
        slice_ = {check_column_name(column): value for column, value in (where or {}).items()}
        spark = self._session()
        what = f"loading {table} dt={dt}"
        # A slice is copied, so its files may lie anywhere; a day is its folder.
        folder = self._folder_of(table, dt, parquet_uris) if parquet_uris and not slice_ else None
        with self._errors(what):
            exists = spark.catalog.tableExists(f"{self.database}.{table}")
            if not exists and not parquet_uris:
                return 0
            files = spark.read.parquet(*map(_location, parquet_uris)) if parquet_uris else None
            if files is not None:
                self._check_columns(table, files.schema)
                if not exists:
                    self._create(table, files.schema)
                else:
                    self._add_new_columns(table, files.schema)
            if slice_:
                loaded = self._replace_slice(table, dt, files, slice_)
            elif folder is None:
                spark.sql(
                    f"ALTER TABLE {self._qualified(table)} DROP IF EXISTS "
                    f"PARTITION ({self._spec(dt)})"
                )
                loaded = 0
            else:
                loaded = self._rows(parquet_uris, files)
                self._register(table, dt, folder)
        return loaded

    def _folder_of(self, table: str, dt: date, uris: list[str]) -> str:
        """The folder the files make up, all of it: a partition is a folder."""
        folders = {uri.rsplit("/", 1)[0] for uri in uris}
        if len(folders) != 1:
            raise WarehouseError(
                f"loading {table} dt={dt}: the files lie in {len(folders)} folders; a day of "
                f"the Hive warehouse is one folder's Parquet files"
            )
        [folder] = folders
        with self._errors(f"loading {table} dt={dt}"):
            listed = self._listing(folder)
        given = {uri.rsplit("/", 1)[1] for uri in uris}
        if missing := sorted(given - listed):
            raise WarehouseError(
                f"loading {table} dt={dt}: no such file {missing[0]!r} in {folder}"
            )
        if others := sorted(listed - given):
            raise WarehouseError(
                f"loading {table} dt={dt}: {folder} holds files that are not loaded "
                f"({others[0]!r}); a day of the Hive warehouse is all of a folder's files"
            )
        return folder

    def _hadoop(self, location: str) -> tuple[Any, Any]:
        """The Hadoop file system of `location` and its path."""
        spark = self._session()
        path = spark._jvm.org.apache.hadoop.fs.Path(_location(location))
        return path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration()), path

    def _listing(self, folder: str) -> set[str]:
        """The file names a reader of the folder reads (Hadoop skips `_` and `.`)."""
        fs, path = self._hadoop(folder)
        if not fs.exists(path):
            return set()
        names = {status.getPath().getName() for status in fs.listStatus(path)}
        return {name for name in names if not name.startswith(("_", "."))}

    def _check_columns(self, table: str, schema: Any) -> None:
        names = [field.name for field in schema.fields]
        if PARTITION_COLUMN in {name.lower() for name in names}:
            raise WarehouseError(f"loading {table}: the files have a {PARTITION_COLUMN} column")
        if len({name.lower() for name in names}) != len(names):
            raise WarehouseError(
                f"loading {table}: the files have columns whose names differ only in case "
                f"({names}); the Hive catalog does not tell them apart"
            )

    def _ddl(self, field: Any) -> str:
        kind = self._session()._jvm.org.apache.spark.sql.types.DataType.fromJson(
            field.dataType.json()
        )
        return f"{_ident(field.name)} {kind.sql()}"

    def _create(self, table: str, schema: Any) -> None:
        columns = ", ".join(self._ddl(field) for field in schema.fields)
        self._session().sql(
            f"CREATE EXTERNAL TABLE IF NOT EXISTS {self._qualified(table)} ({columns}) "
            f"PARTITIONED BY ({_ident(PARTITION_COLUMN)} DATE) STORED AS PARQUET "
            f"LOCATION {_literal(_location(self._root(table)))}"
        )

    def _root(self, table: str) -> str:
        return f"{warehouse_dir(self.settings).rstrip('/')}/{self.database}.db/{table}"

    def _columns(self, table: str) -> dict[str, str]:
        """The table's data columns (lower case, as the catalog keeps them) → type."""
        found = self._session().catalog.listColumns(f"{self.database}.{table}")
        return {c.name.lower(): c.dataType for c in found if not c.isPartition}

    def _add_new_columns(self, table: str, schema: Any) -> None:
        """Additive schema change (a transform gained a column): older days read NULL;
        a column whose type changed is refused."""
        have = self._columns(table)
        new = []
        for field in schema.fields:
            kind = field.dataType.simpleString()
            if field.name.lower() not in have:
                new.append(self._ddl(field))
            elif have[field.name.lower()] != kind:
                raise WarehouseError(
                    f"loading {table}: column {field.name!r} is "
                    f"{have[field.name.lower()]} in the table but {kind} in the files; "
                    f"a column's type cannot change"
                )
        if new:
            self._session().sql(
                f"ALTER TABLE {self._qualified(table)} ADD COLUMNS ({', '.join(new)})"
            )

    def _spec(self, dt: date) -> str:
        return f"{_ident(PARTITION_COLUMN)} = {_literal(dt.isoformat())}"

    def _register(self, table: str, dt: date, folder: str) -> str | None:
        """Make `folder` day `dt`'s location in one metastore operation; returns the
        previous location."""
        spark, target, spec = self._session(), self._qualified(table), self._spec(dt)
        previous = None
        if spark.sql(f"SHOW PARTITIONS {target} PARTITION ({spec})").collect():
            rows = spark.sql(f"DESCRIBE FORMATTED {target} PARTITION ({spec})").collect()
            previous = next((r.data_type for r in rows if r.col_name == "Location"), "")
        location = _literal(_location(folder))
        if previous is None:
            spark.sql(f"ALTER TABLE {target} ADD PARTITION ({spec}) LOCATION {location}")
        else:
            # Also when the folder is the same: its files changed, the cache goes.
            spark.sql(f"ALTER TABLE {target} PARTITION ({spec}) SET LOCATION {location}")
        self._prune(table, dt, keep={folder, previous})
        return previous

    def _prune(self, table: str, dt: date, keep: set[str | None]) -> None:
        """Remove this table's copies of day `dt` nobody can be reading any more."""
        day = f"{self._root(table)}/{PARTITION_COLUMN}={dt.isoformat()}"
        fs, path = self._hadoop(day)
        if not fs.exists(path):
            return
        kept = {_location(k).rstrip("/") for k in keep if k}
        for status in fs.listStatus(path):
            if _location(status.getPath().toString()).rstrip("/") not in kept:
                fs.delete(status.getPath(), True)

    def _rows(self, uris: list[str], files: Any) -> int:
        if all("://" not in uri for uri in uris):
            import pyarrow.parquet as pq

            # Footers only.
            return sum(pq.read_metadata(uri.removeprefix("file:")).num_rows for uri in uris)
        return int(files.count())

    def _replace_slice(self, table: str, dt: date, files: Any, slice_: Mapping[str, str]) -> int:
        """Copy on write: the day's rows outside the slice and the slice's files, written
        to a new folder that becomes the day."""
        from functools import reduce

        from pyspark.sql import functions as F

        spark = self._session()
        columns = self._columns(table)
        unknown = [column for column in slice_ if column.lower() not in columns]
        if unknown:
            raise WarehouseError(f"loading {table} dt={dt}: no column {unknown[0]!r} to slice by")
        inside = reduce(
            lambda a, b: a & b,
            [F.col(_ident(c)).cast("string").eqNullSafe(F.lit(v)) for c, v in slice_.items()],
        )
        loaded = 0
        if files is not None:
            outside = int(files.where(~inside).count())
            if outside:
                wanted = ", ".join(f"{c} = {v!r}" for c, v in slice_.items())
                raise WarehouseError(
                    f"loading {table} dt={dt}: {outside} rows of the files are not in the "
                    f"slice {wanted} being replaced"
                )
            loaded = int(files.count())
        day = spark.table(self._qualified(table)).where(F.col(PARTITION_COLUMN) == F.lit(dt))
        kept = day.where(~inside).drop(PARTITION_COLUMN)
        rows = kept if files is None else kept.unionByName(files, allowMissingColumns=True)
        folder = f"{self._root(table)}/{PARTITION_COLUMN}={dt.isoformat()}/{uuid.uuid4().hex}"
        rows.write.mode("errorifexists").parquet(_location(folder))
        self._register(table, dt, folder)
        return loaded

    # -- reading -------------------------------------------------------------------

    def query(self, sql: str) -> pa.Table:
        one_statement(sql)
        spark = self._session()
        try:
            plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(sql)
            refusal = _refusal(spark, plan)
            if refusal:
                raise QueryError(f"queries read only the warehouse's tables: {refusal}", sql)
            return spark.sql(sql).toArrow()
        except QueryError:
            raise
        except Exception as exc:
            raise QueryError(self._scrub(_reason(exc)), sql) from None

    def tables(self) -> list[str]:
        spark = self._session()
        with self._errors("listing tables"):
            found = spark.catalog.listTables(self.database)
        return sorted(t.name for t in found if not t.isTemporary)

    def row_count(self, table: str, dt: date | None = None) -> int:
        check_table_name(table)
        spark = self._session()
        with self._errors(f"counting {table}"):
            if not spark.catalog.tableExists(f"{self.database}.{table}"):
                raise NotFoundError(f"no table {table!r} in the warehouse")
            where = f" WHERE {PARTITION_COLUMN} = DATE {_literal(dt.isoformat())}" if dt else ""
            [row] = spark.sql(f"SELECT count(*) FROM {self._qualified(table)}{where}").collect()
        return int(row[0])

    def close(self) -> None:
        """The session stays: the process shares it (the engine, the next warehouse)."""
        self._spark = None


_COMMANDS = (
    "org.apache.spark.sql.catalyst.plans.logical.Command",
    "org.apache.spark.sql.catalyst.plans.logical.ParsedStatement",
    "org.apache.spark.sql.catalyst.plans.logical.InsertIntoStatement",
    "org.apache.spark.sql.catalyst.plans.logical.V2WriteCommand",
)


def _refusal(spark: Any, plan: Any) -> str:
    """Why the parsed plan is no query (a command anywhere in it, reflection), or ''."""
    jvm = spark._jvm
    kinds = [jvm.java.lang.Class.forName(name) for name in _COMMANDS]
    pending, seen = [plan], 0
    while pending and seen < 10_000:
        node, seen = pending.pop(), seen + 1
        for kind in kinds:
            if kind.isInstance(node):
                return f"{node.nodeName()} is not a query"
        for children in (node.children(), node.innerChildren()):
            pending.extend(children.apply(i) for i in range(children.size()))
    if _REFLECTION.search(plan.treeString()):
        return "reflection (reflect, java_method) is not allowed"
    return ""


def _reason(exc: BaseException) -> str:
    """The first line of Spark's message, and the root cause's when the JVM kept one."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    java = getattr(exc, "java_exception", None) or getattr(exc, "_origin", None)
    with contextlib.suppress(Exception):
        for _ in range(30):
            if java is None or java.getCause() is None:
                break
            java = java.getCause()
        if java is not None:
            root = (str(java.toString()).splitlines() or [""])[0]
            if root and root not in text:
                text = f"{text} (cause: {root})"
    return text
