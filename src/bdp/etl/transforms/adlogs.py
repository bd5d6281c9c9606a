"""Ad log → `ad_analysis_logs` (typed events with kind and deltas) and three daily totals.

Fixes over the reference ETL (SCENARIOS §6.5, A1, E7): the event time is kept
(legacy `User.offset_time`), every event says what it is and how much it added, and
the aggregates are persisted and computed from those per-event deltas — so a
simulator run that spans midnight is not counted twice, which max-then-sum over
running totals does.

Legacy events carry neither kind nor delta; they are inferred per (ad, account) in
event-time order against the previous event of the same day:

- kind: `click` when the click counter rose and the click flag is set (for the first
  event of the day, when the counter is above zero and the flag is set); otherwise
  `view_start` when the view flag is set; otherwise `view_end`.
- deltas: the rise of each running total since the previous event; for the first
  event of the day, 1 click for a click and `total_time` seconds for a view end.

Ties in event time are ordered by the counters, which only grow within one ad run.
"""

from __future__ import annotations

from typing import Any

from bdp.datasets.adlogs import DATASET as SOURCE
from bdp.etl.engine.base import DataFrame, Engine
from bdp.etl.transforms.base import (
    ISO_DATE,
    DropRule,
    TransformOptions,
    declared,
    event_timestamp,
)

__all__ = [
    "ANALYSIS_COLUMNS",
    "DROPS",
    "EVENTS_TABLE",
    "KEYS",
    "LEAF_COLUMNS",
    "RECORDS_TABLE",
    "TABLES",
    "build",
    "typed",
]

TABLES = ("ad_analysis_logs", "ad_view_totals", "ad_click_totals", "ad_gender_view_totals")

EVENTS_TABLE = None
"""No table is `typed()` as it is: every one filters or adds to the events."""

RECORDS_TABLE = "ad_analysis_logs"
DROPS: dict[str, DropRule] = {}
_BY_AD = ("ad_id", "ad_name")
KEYS = {
    "ad_view_totals": _BY_AD,
    "ad_click_totals": _BY_AD,
    "ad_gender_view_totals": (*_BY_AD, "gender"),
}
"""An ad event carries no id of its own: the analysis table declares no key."""
LEAF_COLUMNS = {
    **{
        f"Ad.{name}": name
        for name in (
            "ad_id",
            "ad_name",
            "ad_explain",
            "genre",
            "viewing_time",
            "click_count",
            "start_time",
            "end_time",
        )
    },
    **{
        f"User.{name}": name for name in ("account", "gender", "age", "click", "view", "total_time")
    },
    "User.offset_time": "datetime",
    "delta.viewing_time": "viewing_time_delta",
    "delta.click_count": "click_count_delta",
}

ANALYSIS_COLUMNS = (
    "ad_id",
    "ad_name",
    "ad_explain",
    "genre",
    "viewing_time",
    "click_count",
    "start_time",
    "end_time",
    "account",
    "gender",
    "age",
    "click",
    "view",
    "total_time",
    "datetime",
    "event",
    "viewing_time_delta",
    "click_count_delta",
)


def build(events: DataFrame, engine: Engine, options: TransformOptions) -> dict[str, DataFrame]:
    F = engine.functions
    analysis = _with_kind_and_deltas(events, engine)
    by_ad = analysis.groupBy("ad_id", "ad_name")
    views = by_ad.agg(F.sum("viewing_time_delta").cast("long").alias("view_sum_total"))
    return {
        "ad_analysis_logs": analysis,
        "ad_view_totals": views.select(
            "ad_id",
            "ad_name",
            "view_sum_total",
            F.round(F.col("view_sum_total") / 60, 2).cast("double").alias("view_sum_total_minutes"),
        ),
        "ad_click_totals": by_ad.agg(
            F.sum("click_count_delta").cast("long").alias("total_click_count")
        ),
        "ad_gender_view_totals": analysis.groupBy("ad_id", "ad_name", "gender").agg(
            F.sum("viewing_time_delta").cast("long").alias("gender_view_total")
        ),
    }


def _date(F: Any, name: str) -> Any:
    text = F.col(name)
    return F.when(text.rlike(ISO_DATE), text.cast("date"))


def typed(raw: DataFrame, engine: Engine, options: TransformOptions) -> DataFrame:
    """One typed event per raw record, with what it reported about its own kind and deltas."""
    F = engine.functions
    moment = F.coalesce(F.col("datetime"), F.col("User.offset_time"))
    return raw.select(
        F.col("Ad.ad_id").alias("ad_id"),
        F.col("Ad.ad_name").alias("ad_name"),
        F.col("Ad.ad_explain").alias("ad_explain"),
        F.col("Ad.genre").alias("genre"),
        # Running totals are never negative: their differences below stay INTEGERs.
        declared(F, SOURCE, "Ad.viewing_time").alias("viewing_time"),
        declared(F, SOURCE, "Ad.click_count").alias("click_count"),
        _date(F, "Ad.start_time").alias("start_time"),
        _date(F, "Ad.end_time").alias("end_time"),
        F.col("User.account").alias("account"),
        F.col("User.gender").alias("gender"),
        declared(F, SOURCE, "User.age").alias("age"),
        declared(F, SOURCE, "User.click").alias("click"),
        declared(F, SOURCE, "User.view").alias("view"),
        declared(F, SOURCE, "User.total_time").alias("total_time"),
        event_timestamp(F, moment, options.timezone).alias("datetime"),
        F.col("event").alias("reported_event"),
        declared(F, SOURCE, "delta.viewing_time").alias("reported_viewing_delta"),
        declared(F, SOURCE, "delta.click_count").alias("reported_click_delta"),
    )


def _with_kind_and_deltas(events: DataFrame, engine: Engine) -> DataFrame:
    F, Window = engine.functions, engine.Window
    order = Window.partitionBy("ad_id", "account").orderBy(
        "datetime", "click_count", "viewing_time", "view"
    )
    previous = events.select(
        *[F.col(name) for name in events.columns],
        F.lag("click_count").over(order).alias("prev_click_count"),
        F.lag("viewing_time").over(order).alias("prev_viewing_time"),
    )
    clicked = (F.col("click_count") > F.coalesce(F.col("prev_click_count"), F.lit(0))) & F.col(
        "click"
    )
    inferred = F.when(clicked, "click").when(F.col("view"), "view_start").otherwise("view_end")
    kinded = previous.withColumn("event", F.coalesce(F.col("reported_event"), inferred))
    first_of_day_views = F.when(F.col("event") == "view_end", F.col("total_time")).otherwise(0)
    first_of_day_clicks = F.when(F.col("event") == "click", 1).otherwise(0)
    viewing = F.when(
        F.col("prev_viewing_time").isNotNull(),
        F.col("viewing_time") - F.col("prev_viewing_time"),
    ).otherwise(first_of_day_views)
    clicks = F.when(
        F.col("prev_click_count").isNotNull(),
        F.col("click_count") - F.col("prev_click_count"),
    ).otherwise(first_of_day_clicks)
    return kinded.select(
        *ANALYSIS_COLUMNS[:16],
        F.coalesce(F.col("reported_viewing_delta"), viewing)
        .cast("int")
        .alias("viewing_time_delta"),
        F.coalesce(F.col("reported_click_delta"), clicks).cast("int").alias("click_count_delta"),
    )
