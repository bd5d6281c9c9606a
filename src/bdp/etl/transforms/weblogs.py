"""Web access log → `weblog_access_log` (typed requests) and `weblog_url_daily`.

The reference collected this log but never processed it (SCENARIOS §7.2). Percentiles
are exact, interpolated linearly between the two nearest values — what Spark's
`percentile` and DuckDB's `quantile_cont` both compute — so the engines agree.
"""

from __future__ import annotations

from bdp.datasets.weblogs import DATASET as SOURCE
from bdp.etl.engine.base import DataFrame, Engine
from bdp.etl.transforms.base import DropRule, TransformOptions, declared, event_timestamp

__all__ = [
    "ACCESS_COLUMNS",
    "DROPS",
    "ERROR_STATUS",
    "EVENTS_TABLE",
    "KEYS",
    "LEAF_COLUMNS",
    "RECORDS_TABLE",
    "TABLES",
    "URL_DAILY_COLUMNS",
    "build",
    "typed",
]

TABLES = ("weblog_access_log", "weblog_url_daily")

EVENTS_TABLE = "weblog_access_log"
"""The table that is `typed()` itself, column for column."""

RECORDS_TABLE = "weblog_access_log"
DROPS: dict[str, DropRule] = {}
KEYS = {"weblog_url_daily": ("url",)}
"""A request carries no id of its own: the access log declares no key."""
LEAF_COLUMNS: dict[str, str] = {}

ERROR_STATUS = 400
"""Responses from this code up are errors (client and server)."""

ACCESS_COLUMNS = (
    "ip",
    "datetime",
    "method",
    "url",
    "responseCode",
    "responseTime",
    "sessionID",
    "is_error",
)

URL_DAILY_COLUMNS = ("url", "requests", "errors", "error_rate", "p50_ms", "p95_ms")


def typed(raw: DataFrame, engine: Engine, options: TransformOptions) -> DataFrame:
    """One typed request per raw record: the access log's columns."""
    F = engine.functions
    code = declared(F, SOURCE, "responseCode")
    return raw.select(
        F.col("ip"),
        event_timestamp(F, F.col("datetime"), options.timezone).alias("datetime"),
        F.col("method"),
        F.col("url"),
        code.alias("responseCode"),
        declared(F, SOURCE, "responseTime").alias("responseTime"),
        F.col("sessionID"),
        (code >= ERROR_STATUS).alias("is_error"),
    )


def build(events: DataFrame, engine: Engine, options: TransformOptions) -> dict[str, DataFrame]:
    F = engine.functions
    access = events.select(*ACCESS_COLUMNS)
    daily = access.groupBy("url").agg(
        F.count(F.lit(1)).cast("long").alias("requests"),
        F.sum(F.when(F.col("is_error"), 1).otherwise(0)).cast("long").alias("errors"),
        F.percentile(F.col("responseTime"), 0.5).cast("double").alias("p50_ms"),
        F.percentile(F.col("responseTime"), 0.95).cast("double").alias("p95_ms"),
    )
    return {
        "weblog_access_log": access,
        "weblog_url_daily": daily.select(
            "url",
            "requests",
            "errors",
            (F.col("errors").cast("double") / F.col("requests")).alias("error_rate"),
            "p50_ms",
            "p95_ms",
        ),
    }
