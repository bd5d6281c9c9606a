"""Hotel log → `hotel_analysis_log` (typed events) and `hotel_gender_daily`.

Fixes over the reference ETL (SCENARIOS §4.7, E5): `gender` is kept, the legacy
`/fefund` is read as `/refund` and flagged by `is_refund`, `click_place` is set only
for property clicks (not bookings), `click_subhome` is spelled right, and the numbers
are integers. The daily per-gender table makes the simulator's built-in pattern (women
book about ten times as often) visible without a query.
"""

from __future__ import annotations

from typing import Any

from bdp.datasets.hotellogs import DATASET as SOURCE
from bdp.etl.engine.base import DataFrame, Engine
from bdp.etl.transforms.base import (
    DropRule,
    TransformOptions,
    declared,
    event_timestamp,
    int_or_null,
)

__all__ = [
    "ANALYSIS_COLUMNS",
    "DROPS",
    "EVENTS_TABLE",
    "GENDER_DAILY_COLUMNS",
    "KEYS",
    "LEAF_COLUMNS",
    "RECORDS_TABLE",
    "TABLES",
    "build",
    "typed",
]

TABLES = ("hotel_analysis_log", "hotel_gender_daily")

EVENTS_TABLE = "hotel_analysis_log"
"""The table that is `typed()` itself, column for column."""

RECORDS_TABLE = "hotel_analysis_log"
DROPS: dict[str, DropRule] = {}
KEYS = {"hotel_analysis_log": ("id",), "hotel_gender_daily": ("gender",)}
LEAF_COLUMNS: dict[str, str] = {}

LEGACY_METHODS = {"/fefund": "/refund"}
REFUND = "/refund"
BOOKING = r"^/buy/places/(\d{1,9})$"
PLACE_CLICK = r"^/places/(\d{1,9})$"
SUB_HOME = r"^/sub-home/(.+)$"

ANALYSIS_COLUMNS = (
    "id",
    "ip",
    "datetime",
    "account",
    "gender",
    "age",
    "method",
    "status",
    "buyNum",
    "click_place",
    "click_subhome",
    "is_refund",
)

GENDER_DAILY_COLUMNS = (
    "gender",
    "users",
    "events",
    "bookings",
    "refunds",
    "booking_users",
    "bookings_per_1000_events",
)


def typed(raw: DataFrame, engine: Engine, options: TransformOptions) -> DataFrame:
    """One typed event per raw record: the analysis table's columns."""
    F = engine.functions
    method = F.col("method")
    for legacy, corrected in LEGACY_METHODS.items():
        method = F.when(method == legacy, corrected).otherwise(method)
    events = raw.select(
        F.col("id"),
        F.col("ip"),
        event_timestamp(F, F.col("datetime"), options.timezone).alias("datetime"),
        F.col("account"),
        F.col("gender"),
        F.col("age"),
        method.alias("method"),
        declared(F, SOURCE, "status").alias("status"),
    )
    method = F.col("method")
    return events.select(
        *ANALYSIS_COLUMNS[:8],
        int_or_null(F, method, BOOKING).alias("buyNum"),
        int_or_null(F, method, PLACE_CLICK).alias("click_place"),
        F.when(method.rlike(SUB_HOME), F.regexp_extract(method, SUB_HOME, 1)).alias(
            "click_subhome"
        ),
        F.when(method == REFUND, 1).otherwise(0).cast("int").alias("is_refund"),
    )


def build(events: DataFrame, engine: Engine, options: TransformOptions) -> dict[str, DataFrame]:
    analysis = events.select(*ANALYSIS_COLUMNS)
    return {
        "hotel_analysis_log": analysis,
        "hotel_gender_daily": _gender_daily(analysis, engine.functions),
    }


def _gender_daily(analysis: DataFrame, F: Any) -> DataFrame:
    booked = F.col("buyNum").isNotNull()
    daily = analysis.groupBy("gender").agg(
        F.countDistinct("account").cast("long").alias("users"),
        F.count(F.lit(1)).cast("long").alias("events"),
        F.sum(F.when(booked, 1).otherwise(0)).cast("long").alias("bookings"),
        F.sum(F.col("is_refund")).cast("long").alias("refunds"),
        F.countDistinct(F.when(booked, F.col("account"))).cast("long").alias("booking_users"),
    )
    return daily.select(
        *GENDER_DAILY_COLUMNS[:6],
        (F.col("bookings").cast("double") * 1000 / F.col("events")).alias(
            "bookings_per_1000_events"
        ),
    )
