"""Typed configuration: `bdp.toml`, then `BDP_<SECTION>__<KEY>` environment variables.

Precedence is argument > environment > file > default. The environment is read here and
nowhere else. Unknown keys are an error with a closest-match suggestion, so a typo never
silently falls back to a default. With no file at all every component is embedded and
data lives under `./.bdp` (or `BDP_HOME`, or `--home`).
"""

from __future__ import annotations

import difflib
import getpass
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from bdp.errors import ConfigError

__all__ = ["CONFIG_FILE", "DATASET_NAME", "DatasetSettings", "Paths", "Settings", "load_settings"]

CONFIG_FILE = "bdp.toml"
ENV_PREFIX = "BDP_"
DEFAULT_HOME = ".bdp"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlatformSettings(_Section):
    timezone: str = "UTC"
    """Zone whose calendar days partition the lake and define "yesterday"."""

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] | None = None
    """Log lines on stderr at this level and above; unset, the CLI shows warnings only,
    and the work of jobs that run until stopped (`bdp stream run`) at INFO."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


class LocalBusSettings(_Section):
    """`[bus.local]`: the embedded bus's own settings."""

    fsync: Literal["always", "interval", "never"] = "interval"
    """`always`: fsync every append before acknowledging; `interval`: at most every
    `fsync_interval_ms` (a process crash loses nothing, a power cut the last interval);
    `never`: leave it to the OS."""
    fsync_interval_ms: int = Field(200, ge=0)
    segment_bytes: int = Field(256 * 1024 * 1024, ge=4096)


class KafkaBusSettings(_Section):
    """`[bus.kafka]`: the Kafka bus's own settings."""

    bootstrap_servers: str = "127.0.0.1:19092"
    client_options: dict[str, SecretStr] = Field(default_factory=dict)
    """Passed through to the Kafka client (security settings and the like). Secret: never
    shown, revealed only to the client."""
    acks: Literal["all", 0, 1] = "all"
    """Replicas that must have a record before it counts as sent; "all" also makes the
    producer idempotent (no duplicates from retries)."""
    linger_ms: int = Field(5, ge=0)
    """How long the producer waits to fill a batch before sending it."""
    batch_bytes: int = Field(1_000_000, ge=1)
    """Most bytes the producer puts in one batch for one partition."""
    compression: Literal["none", "gzip", "snappy", "lz4", "zstd"] = "none"
    """Codec of the producer's batches, on the wire and on the broker."""
    max_message_bytes: int = Field(2 * 1024 * 1024, ge=1024)
    """Largest record the producer sends and the topics bdp creates accept; above
    `stream.max_record_bytes`, so oversize records reach the quarantine."""
    connect_timeout_ms: int = Field(10_000, ge=100)
    """How long an admin call or the first contact waits for the broker before failing
    with an error that names `bootstrap_servers`."""
    delivery_timeout_ms: int = Field(120_000, ge=1000)
    """How long sends and commits ride out a broker outage before failing."""


class BusSettings(_Section):
    """`[bus]`: what every backend shares; each backend's own settings are a table of
    their own (`[bus.local]`, `[bus.kafka]`), so switching `backend` keeps both."""

    backend: str = "local"
    partitions: int = Field(4, ge=1, le=1024)
    """Partitions of the topics bdp creates."""
    retention_hours: float = Field(168.0, gt=0)
    retention_bytes: int = Field(-1, ge=-1)
    """Per partition; -1 keeps everything the age limit allows."""
    namespace: str = Field("", pattern=r"^[A-Za-z0-9._-]{0,100}$")
    """A shared bus (a broker): prefix of every topic and consumer-group name on it, so
    several platforms (or test runs) share one cluster; empty uses names as they are.
    The embedded bus lives in the data home and needs none."""
    local: LocalBusSettings = LocalBusSettings()
    kafka: KafkaBusSettings = KafkaBusSettings()

    @model_validator(mode="before")
    @classmethod
    def _point_at_moved_keys(cls, data: Any) -> Any:
        """Keys that were once in `[bus]` itself: say where they live now."""
        if isinstance(data, dict):
            for table, section in (("local", LocalBusSettings), ("kafka", KafkaBusSettings)):
                moved = sorted(set(data) & set(section.model_fields))
                if moved:
                    raise PydanticCustomError(
                        "moved_key",
                        "{keys} moved to [bus.{table}] (in the environment: BDP_BUS__{env}__KEY)",
                        {"keys": ", ".join(map(repr, moved)), "table": table, "env": table.upper()},
                    )
        return data


def _os_user() -> str:
    """The OS user's name, or "" when the OS has none for this process."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # KeyError before Python 3.13
        return ""


class LakeSettings(_Section):
    url: str = ""
    """Where the lake lives; empty means `<home>/lake`."""
    raw_compression: Literal["zstd", "gzip", "none"] = "zstd"
    webhdfs_port: int = Field(9870, ge=1, le=65535)
    """HDFS lake (`hdfs://host:rpc_port/path`): the NameNode's HTTP port, for WebHDFS."""
    hdfs_user: str = Field(default_factory=_os_user, min_length=1)
    """HDFS lake: the user bdp acts as on HDFS (WebHDFS `user.name`, simple authentication).
    Default: the user Hadoop's own clients, Spark's among them, act as: `HADOOP_USER_NAME`
    when it is set, else the OS user."""
    webhdfs_timeout_seconds: float = Field(60, gt=0)
    """HDFS lake: how long one WebHDFS request may take before it fails."""


class StreamSettings(_Section):
    engine: str = "embedded"
    """`embedded`: bdp's own consumer loop, on any bus; `spark`: a Spark Structured
    Streaming query reading the Kafka bus (`bdp stream run --engine` overrides it)."""
    batch_records: int = Field(50_000, ge=1)
    max_record_bytes: int = Field(1024 * 1024, ge=1)
    max_nesting_depth: int = Field(32, ge=1, le=128)
    """Deepest nesting of arrays and objects a record may have (`{"a": [1]}` is 2);
    deeper records are quarantined as `too_deep`. At most 128, the deepest DuckDB's JSON
    reader accepts."""
    poll_timeout_ms: int = Field(500, ge=0)
    workers: int = Field(1, ge=1, le=64)
    """Processes landing in parallel, each owning a share of every topic's partitions."""
    trigger_interval_ms: int = Field(1000, ge=0)
    """Spark engine: how often the Structured Streaming query starts a micro-batch."""
    spark_ivy_dir: str = ""
    """Spark: where Ivy caches the jars fetched from Maven Central (the Kafka source,
    the Hive metastore's JDBC driver); empty uses `<home>/cache/spark-ivy`."""
    retry_attempts: int = Field(8, ge=1)
    """Tries of a lake operation that failed transiently (a lake server away) before the
    job stops; the waits between them double from half a second."""
    retry_max_delay_seconds: float = Field(30.0, gt=0)
    """Longest wait between two tries of a lake operation."""
    batch_max_delay_ms: int = Field(60_000, ge=0)
    """A running job lands a partition's records once `batch_records` have arrived or the
    oldest has waited this long, so a trickle of traffic makes a few files rather than
    one per poll; it bounds how stale the lake is. 0 lands whatever each poll finds."""
    dedupe_window_hours: float = Field(24.0, gt=0)
    """How long the idempotency id of a landed record is remembered: a record sent again
    with the same id within it (a client's retry) lands once."""


class EtlSettings(_Section):
    engine: str = "duckdb"
    threads: int = Field(0, ge=0)
    """Engine threads; 0 lets the engine decide."""
    memory_limit_mb: int = Field(2048, ge=64)
    spark_master: str = "local[2]"
    spark_conf: dict[str, str] = Field(default_factory=dict)


def _secret(value: SecretStr | None, path: Path | None, what: str) -> str:
    """A password given inline (or by the environment) or read from a file's first line."""
    if value is not None:
        return value.get_secret_value()
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8").splitlines()[0] if path.stat().st_size else ""
    except OSError as exc:
        raise ConfigError(f"cannot read {what} from {path}: {exc.strerror}") from exc


class MysqlWarehouseSettings(_Section):
    """`[warehouse.mysql]`: a MySQL 8 or MariaDB 10.11+ server."""

    host: str = "127.0.0.1"
    port: int = Field(3306, ge=1, le=65535)
    database: str = Field("bdp", pattern=r"^[A-Za-z0-9_]{1,64}$")
    user: str = "bdp"
    password: SecretStr | None = None
    """Secret: never shown. Or `password_file`: a file whose first line is the password."""
    password_file: Path | None = None
    query_user: str = ""
    """The user `bdp query` connects as (one with SELECT only, ideally); empty: `user`.
    Either way queries run in a read-only transaction."""
    query_password: SecretStr | None = None
    query_password_file: Path | None = None
    connect_timeout_s: float = Field(10.0, gt=0)
    """How long connecting may take before bdp says the server is not answering."""
    io_timeout_s: float = Field(3600.0, gt=0)
    """How long one read or write on the connection may wait (a long load included)."""
    lock_timeout_s: float = Field(600.0, ge=0)
    """How long a load waits for another load of the same table to finish."""
    load_method: Literal["load_data", "insert"] = "load_data"
    """`load_data`: LOAD DATA LOCAL INFILE (the server must allow `local_infile`);
    `insert`: batched multi-row INSERTs, for servers that do not."""

    def secret(self) -> str:
        return _secret(self.password, self.password_file, "warehouse.mysql.password")

    def query_secret(self) -> str:
        if not self.query_user:
            return self.secret()
        return _secret(
            self.query_password, self.query_password_file, "warehouse.mysql.query_password"
        )


class HiveWarehouseSettings(_Section):
    """`[warehouse.hive]`: Spark's Hive catalog, its metastore in MySQL or MariaDB."""

    database: str = Field("etl", pattern=r"^[A-Za-z0-9_]{1,64}$")
    """The catalog database the curated tables are registered in."""
    metastore_url: str = "jdbc:mariadb://127.0.0.1:3306/metastore"
    """JDBC URL of the metastore's database (`jdbc:mariadb://…` or `jdbc:mysql://…`)."""
    metastore_user: str = "hive"
    metastore_password: SecretStr | None = None
    """Secret: never shown. Or `metastore_password_file`."""
    metastore_password_file: Path | None = None
    metastore_driver_package: str = ""
    """Maven coordinates of the metastore's JDBC driver, downloaded once (from the first
    of `spark.jars.repositories`, else Maven Central) into the Ivy cache's `jars/`;
    empty: MariaDB Connector/J for `jdbc:mariadb:`, MySQL Connector/J for `jdbc:mysql:`."""
    metastore_timeout_s: float = Field(10.0, gt=0)
    """How long connecting to the metastore's database, or one read on it, may take
    before bdp says it is not answering (the metastore client's retries are off)."""
    warehouse_dir: str = ""
    """Spark's warehouse directory, where copies of a table's slices are kept (a day's
    curated files are registered where they lie); empty: `<home>/hive-warehouse`."""

    def metastore_secret(self) -> str:
        return _secret(
            self.metastore_password,
            self.metastore_password_file,
            "warehouse.hive.metastore_password",
        )


class WarehouseSettings(_Section):
    """`[warehouse]`: `backend` picks one; each backend's own settings are a table of their
    own (`[warehouse.mysql]`, `[warehouse.hive]`)."""

    backend: str = "duckdb"
    url: str = ""
    """Backend location; empty means `<home>/warehouse.duckdb`."""
    lock_timeout_s: float = Field(default=60.0, ge=0)
    """How long an operation on the embedded warehouse waits for another process that
    holds its file (a load in progress, a query) before it gives up."""
    mysql: MysqlWarehouseSettings = MysqlWarehouseSettings()
    hive: HiveWarehouseSettings = HiveWarehouseSettings()


class HttpCollectorSettings(_Section):
    """`[collect.http]`: `POST /v1/events/<dataset>`, Fluentd's HTTP input port."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(9880, ge=0, le=65535)
    tokens: dict[str, list[SecretStr]] = Field(default_factory=dict)
    """Bearer tokens per dataset; a dataset without any accepts any client, and then the
    collector refuses to bind beyond loopback. Secret: never shown."""
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    """Largest request body, compressed or not, and largest body once decompressed."""
    max_connections: int = Field(256, ge=1)
    request_timeout_seconds: float = Field(30.0, gt=0)
    """How long a client may take to send a whole request before it is cut off."""
    idle_timeout_seconds: float = Field(60.0, gt=0)


class ForwardCollectorSettings(_Section):
    """`[collect.forward]`: the Fluentd forward protocol (TCP, MessagePack)."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = Field(24224, ge=0, le=65535)
    shared_key: SecretStr | None = None
    """When set, clients must pass the HELO/PING/PONG handshake with this key."""
    self_hostname: str = "bdp"
    tags: dict[str, str] = Field(default_factory=dict)
    """Tag (or `prefix.*` pattern) → dataset; by default a tag's first dot-separated part
    names the dataset (`orders.web-1` → `orders`)."""
    max_message_bytes: int = Field(64 * 1024 * 1024, ge=1024)
    """Largest forward message (a whole PackedForward chunk, decompressed)."""
    max_connections: int = Field(256, ge=1)
    idle_timeout_seconds: float = Field(120.0, gt=0)


class TailSourceSettings(_Section):
    """One `[[collect.tail]]` source: files matching `paths`, landed into `dataset`."""

    dataset: str
    paths: list[str] = Field(min_length=1)
    """Globs; a relative one is relative to the working directory."""
    format: Literal["json", "combined"] = "json"
    """`json`: one JSON object per line; `combined`: the nginx/Apache combined log."""
    start_at: Literal["beginning", "end"] = "beginning"
    """Where a file seen for the first time is read from."""
    poll_interval_ms: int = Field(250, ge=10)
    read_batch_lines: int = Field(1000, ge=1)
    """Most lines of one file sent to the bus at once (and its position saved after)."""
    rotate_wait_seconds: float = Field(5.0, ge=0)
    """How long a file that left the globs (renamed by rotation, deleted) is still read
    for lines its writer adds late, before it is dropped."""


class CollectSettings(_Section):
    """`[collect]`: what every collector shares, then one table per collector."""

    max_pending_records: int = Field(500_000, ge=1)
    """Records accepted but not yet durable on the bus; above it collectors answer
    "busy, retry after" (HTTP 429) instead of queueing more."""
    http: HttpCollectorSettings = HttpCollectorSettings()
    forward: ForwardCollectorSettings = ForwardCollectorSettings()
    tail: list[TailSourceSettings] = Field(default_factory=list)


class ServeSettings(_Section):
    """`[serve]`: the long-running `bdp serve` process."""

    stream: bool = True
    """Run the stream job (in a child process) beside the collectors."""
    drain_timeout_seconds: float = Field(30.0, gt=0)
    """On SIGTERM: how long in-flight requests may take to finish before exit."""
    scheduler: bool = True
    """Run the built-in scheduler (`[scheduler]`) beside the collectors."""


class DagSettings(_Section):
    """`[scheduler.dags.<dag_id>]`: what one DAG does differently from the defaults."""

    enabled: bool = True
    """A disabled DAG is neither scheduled nor caught up; `bdp dag run` still runs it."""
    schedule: str | None = None
    """A cron expression (5 fields) in the platform timezone; `"none"`: only runs asked
    for (`bdp dag run`, `backfill`). Unset keeps the DAG's own."""
    retries: int | None = Field(None, ge=0, le=100)
    timeout_seconds: float | None = Field(None, gt=0)
    depends_on_past: bool | None = None
    """A day's task runs only once the same task of the day before succeeded."""
    catchup: bool | None = None


class AlertSettings(_Section):
    """`[scheduler.alerts]`: who hears of a task's final failure, and of its recovery."""

    webhook_url: str = ""
    """POSTed a JSON document per alert; empty sends none."""
    command: list[str] = Field(default_factory=list)
    """Run per alert with the JSON document on standard input (and `BDP_ALERT_*`
    variables); empty runs none."""
    timeout_seconds: float = Field(10.0, gt=0)


class QualitySettings(_Section):
    """`[scheduler.quality]`: the daily quality checks."""

    row_count_band: float = Field(0.5, ge=0)
    """A day's row count may differ from the trailing mean by this fraction of it."""
    trailing_days: int = Field(7, ge=1, le=366)
    """Days before D whose mean the row count is compared with (only days that ran)."""
    min_trailing_days: int = Field(3, ge=1)
    """Fewer earlier days than this: the band check passes, saying why."""


class SchedulerSettings(_Section):
    """`[scheduler]`: the built-in scheduler (`bdp scheduler run`, and in `bdp serve`)."""

    max_active_tasks: int = Field(2, ge=1, le=256)
    """Tasks running at once, across all DAGs (a task runs in a process of its own)."""
    max_active_runs_per_dag: int = Field(2, ge=1, le=256)
    """Days of one DAG in progress at once (a backfill runs this many in parallel)."""
    catchup: bool = True
    """After downtime, run the days whose schedule passed meanwhile (since the DAG was
    first seen); False runs only the latest."""
    retries: int = Field(3, ge=0, le=100)
    retry_delay_seconds: float = Field(60.0, ge=0)
    """The wait before the first retry; it doubles with each retry after."""
    retry_max_delay_seconds: float = Field(3600.0, ge=0)
    task_timeout_seconds: float = Field(6 * 3600.0, gt=0)
    """A task running longer is stopped and counts as a failed try."""
    allowed_lateness_minutes: float = Field(60.0, ge=0)
    """Day D is complete once every bus partition of the dataset has landed events later
    than the end of D plus this, or has nothing left to land and the clock is past it."""
    wait_timeout_seconds: float = Field(24 * 3600.0, gt=0)
    """How long the wait for a complete day may last before the run fails."""
    poke_interval_seconds: float = Field(60.0, gt=0)
    """How often a day not yet complete is checked again."""
    late_data_check_seconds: float = Field(300.0, gt=0)
    """How often raw partitions are compared with what their last ETL read, to re-run a
    day that late data changed."""
    alerts: AlertSettings = AlertSettings()
    quality: QualitySettings = QualitySettings()
    dags: dict[str, DagSettings] = Field(default_factory=dict)


class MaintenanceSettings(_Section):
    """`[maintenance]`: the maintenance DAGs' compaction of raw files and lake retention
    (the bus's retention is `[bus] retention_hours` / `retention_bytes`)."""

    compact_after_days: int = Field(2, ge=0)
    """A day's raw and quarantine files are merged once the day is more than this many
    days older than the run's day D (D = yesterday): with 2, a run on day X merges days
    up to X - 4. Late records may still land in a merged day; they are merged later."""
    compact_target_bytes: int = Field(128 * 1024 * 1024, ge=1024)
    """Largest merged file, counted as the bytes of the files merged into it."""
    compact_min_file_bytes: int = Field(32 * 1024 * 1024, ge=1)
    """Files smaller than this are small, and merged; larger ones are left as they are."""
    compact_min_files: int = Field(4, ge=2)
    """A day's bus partition with fewer small files than this is left as it is."""
    lake_retention_days: int | None = Field(None, ge=1)
    """Days of data kept in the lake for a dataset without `retention_days` of its own:
    day d is deleted once D - d reaches it. Unset keeps everything."""


DATASET_NAME = r"^[a-z][a-z0-9_]{0,62}$"
"""A declared dataset's name: it is a topic, a lake directory and a warehouse table."""

EVENT_TIME_FORMATS: tuple[Literal["iso8601"], ...] = ("iso8601",)
"""How an event time may be spelled; every stream and ETL engine must parse each alike."""


class DatasetSettings(_Section):
    """`[datasets.<name>]`: a dataset declared by a JSON Schema document, no code needed."""

    schema_path: Path = Field(alias="schema")
    """The JSON Schema (draft 2020-12) of one record; relative to the config file's folder."""
    event_time: str = Field(min_length=1)
    """Dotted path of the string field that dates a record (`format: date-time`)."""
    key: str | None = None
    """Dotted path of the field records are keyed (partitioned) by."""
    id_field: str | None = None
    """Dotted path of a field unique to each record, which collectors use to send once."""
    event_time_formats: tuple[Literal["iso8601"], ...] = EVENT_TIME_FORMATS
    """Spellings of the event time: ISO-8601 only, for now."""
    retention_days: int | None = Field(None, ge=1)
    """Days of the dataset's data kept in the lake (raw, quarantine, curated): day d is
    deleted once D - d reaches it; unset follows `[maintenance] lake_retention_days`."""
    transform: str | None = Field(None, pattern=r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
    """`package.module:function` building the curated table from the typed events."""
    description: str = ""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Settings(_Section):
    platform: PlatformSettings = PlatformSettings()
    bus: BusSettings = BusSettings()
    lake: LakeSettings = LakeSettings()
    stream: StreamSettings = StreamSettings()
    etl: EtlSettings = EtlSettings()
    warehouse: WarehouseSettings = WarehouseSettings()
    collect: CollectSettings = CollectSettings()
    serve: ServeSettings = ServeSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    maintenance: MaintenanceSettings = MaintenanceSettings()
    datasets: dict[str, DatasetSettings] = Field(default_factory=dict)
    """Datasets declared by a JSON Schema, besides the built-in ones (`bdp.datasets`)."""
    home: Path = Path(DEFAULT_HOME)

    @field_validator("datasets")
    @classmethod
    def _dataset_names(cls, value: dict[str, DatasetSettings]) -> dict[str, DatasetSettings]:
        import re

        from bdp.datasets import DATASETS

        for name in value:
            if not re.fullmatch(DATASET_NAME, name):
                raise ValueError(
                    f"dataset name {name!r} is not lowercase letters, digits and _"
                    " (starting with a letter, at most 63), as topic and table names must be"
                )
            if name in DATASETS:
                raise ValueError(f"dataset {name!r} clashes with the built-in dataset {name!r}")
        return value

    @property
    def paths(self) -> Paths:
        return Paths.under(self.home, self)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.platform.timezone)


@dataclass(frozen=True)
class Paths:
    """Where each embedded component keeps its data under the data home."""

    home: Path
    bus: Path
    lake: str
    warehouse: str
    state: Path
    reports: Path

    @classmethod
    def under(cls, home: Path, settings: Settings) -> Paths:
        home = home.absolute()
        return cls(
            home=home,
            bus=home / "bus",
            lake=settings.lake.url or str(home / "lake"),
            warehouse=settings.warehouse.url or str(home / "warehouse.duckdb"),
            state=home / "state.sqlite",
            reports=home / "reports",
        )


def load_settings(
    config: Path | None = None,
    home: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the settings from file, environment and arguments, validating everything."""
    environ = os.environ if environ is None else environ
    cwd = cwd or Path.cwd()
    data: dict[str, Any] = {}
    source = "defaults"
    path = config or (cwd / CONFIG_FILE)
    if config is not None and not config.exists():
        raise ConfigError(f"config file not found: {config}")
    if path.exists():
        data = _read_config(path)
        source = str(path)
    _overlay_environment(data, environ)
    _resolve_schema_paths(data, path.parent if path.exists() else cwd)
    if home is not None:
        data["home"] = str(home)
    elif "home" not in data and environ.get("BDP_HOME"):
        data["home"] = environ["BDP_HOME"]
    if "home" in data and not str(data["home"]).strip():
        # An empty path would silently mean the working directory.
        raise ConfigError("the data home is empty: name a directory for bdp's data")
    lake = data.setdefault("lake", {})
    if isinstance(lake, dict) and environ.get("HADOOP_USER_NAME"):
        lake.setdefault("hdfs_user", environ["HADOOP_USER_NAME"])
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc, source)) from None
    _check_home(settings.home)
    _check_schema_files(settings, source)
    return settings


def _resolve_schema_paths(data: dict[str, Any], base: Path) -> None:
    """A dataset's `schema` is relative to the config file's folder (the working
    directory without a file), wherever the process runs from later."""
    datasets = data.get("datasets")
    if not isinstance(datasets, dict):
        return
    for declared in datasets.values():
        if isinstance(declared, dict) and isinstance(declared.get("schema"), str):
            declared["schema"] = str(base / declared["schema"])


def _check_schema_files(settings: Settings, source: str) -> None:
    for name, declared in settings.datasets.items():
        if not declared.schema_path.is_file():
            raise ConfigError(
                f"invalid configuration ({source}): datasets.{name}.schema: "
                f"no schema file {declared.schema_path}"
            )


def _read_config(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        raise ConfigError(f"config file {path} is a directory, not a file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{path}: not UTF-8 text (byte {exc.start}); a bdp.toml must be UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc


def _check_home(home: Path) -> None:
    """A home that cannot hold directories fails here, naming it, rather than at the
    first component that tries to create its folder in it."""
    if home.exists() and not home.is_dir():
        raise ConfigError(f"data home {home} is not a directory")


def _overlay_environment(data: dict[str, Any], environ: Mapping[str, str]) -> None:
    """Apply `BDP_SECTION__KEY=value`; values are parsed as TOML scalars when they can be."""
    for name, raw in environ.items():
        if not name.startswith(ENV_PREFIX) or "__" not in name:
            continue
        # BDP_BUS__KAFKA__BOOTSTRAP_SERVERS: a key of a table inside a section.
        *tables, key = name[len(ENV_PREFIX) :].lower().split("__")
        target = data
        for depth, table in enumerate(tables, 1):
            target = target.setdefault(table, {})
            if not isinstance(target, dict):
                raise ConfigError(f"{name}: {'.'.join(tables[:depth])!r} is not a section")
        target[key] = _parse_scalar(raw)


def _parse_scalar(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _explain(exc: ValidationError, source: str) -> str:
    problems = []
    for error in exc.errors():
        loc = ".".join(str(part) for part in error["loc"])
        if error["type"] == "extra_forbidden":
            problems.append(f"unknown key {loc!r}{_suggest(error['loc'])}")
        else:
            problems.append(f"{loc}: {error['msg']}")
    # One line, as every error reaches the user.
    return f"invalid configuration ({source}): " + "; ".join(problems)


def _suggest(loc: tuple[Any, ...]) -> str:
    model: type[BaseModel] = Settings
    parts = list(loc[:-1])
    while parts:
        field = model.model_fields.get(str(parts.pop(0)))
        annotation = field.annotation if field else None
        if typing.get_origin(annotation) is dict and parts:
            # A table of named tables (`[datasets.<name>]`): skip the name.
            annotation, parts = typing.get_args(annotation)[1], parts[1:]
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    known = [field.alias or name for name, field in model.model_fields.items()]
    close = difflib.get_close_matches(str(loc[-1]), known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""
