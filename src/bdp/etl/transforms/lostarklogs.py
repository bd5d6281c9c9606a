"""Lost Ark log → `lostark_analysis_log`, `lostark_training_log` and `lostark_room_results`.

Fixes over the reference ETL (SCENARIOS §5.6, §12.3): only day D is read (E6, the
runner's job) and replaced; item level, time limit and IP are kept; `inpukey` (R1)
is folded into `inputkey`; every legacy record gets an event time (zone-less
`startTime` is platform-local time, plus `gametime`); and each room gets an outcome
(R3): `room_success` derived from players' clears, beside the result the simulator
reported, if any.
"""

from __future__ import annotations

from typing import Any

from bdp.datasets.lostarklogs import DATASET as SOURCE
from bdp.etl.engine.base import DataFrame, Engine
from bdp.etl.schema import leaf_type
from bdp.etl.transforms.base import (
    DropRule,
    TransformOptions,
    declared,
    elapsed_seconds,
    event_timestamp,
    guarded_timestamp,
    kept_rows,
)

__all__ = [
    "ANALYSIS_COLUMNS",
    "DROPS",
    "EVENTS_TABLE",
    "KEYS",
    "LEAF_COLUMNS",
    "RECORDS_TABLE",
    "ROOM_COLUMNS",
    "TABLES",
    "TRAINING_COLUMNS",
    "build",
    "typed",
]

TABLES = ("lostark_analysis_log", "lostark_training_log", "lostark_room_results")

EVENTS_TABLE = None
"""No table is `typed()` as it is: every one filters or adds to the events."""

RAID_RESULT = "/raid_result"


def _room_result(F: Any) -> Any:
    return F.col("method") == RAID_RESULT


RECORDS_TABLE = "lostark_analysis_log"
DROPS: dict[str, DropRule] = {"room_result": _room_result}
"""A room's result is not a player's event: it makes `lostark_room_results` instead."""
KEYS = {"lostark_room_results": ("sessionID",)}
"""A player event carries no id of its own: the analysis table declares no key."""
LEAF_COLUMNS: dict[str, str] = {}

ANALYSIS_COLUMNS = (
    "sessionID",
    "startTime",
    "datetime",
    "gametime",
    "gametime_seconds",
    "success",
    "status",
    "Boss_name",
    "Boss_item_level",
    "Boss_endTime",
    "User_account",
    "User_class",
    "User_ip",
    "method",
    "inputkey",
    "x",
    "y",
    "xy",
)

TRAINING_COLUMNS = (
    "startTime",
    "gametime",
    "User_account",
    "method",
    "x",
    "y",
    "inputkey",
    "xy",
)

ROOM_COLUMNS = (
    "sessionID",
    "Boss_name",
    "Boss_item_level",
    "players",
    "deaths",
    "clears",
    "room_success",
    "reported_result",
)


def typed(raw: DataFrame, engine: Engine, options: TransformOptions) -> DataFrame:
    """One typed record per raw record, room results included: the analysis columns plus
    the room result's `result`. Times are parsed for player events only, the only ones
    whose times the collector checks; a room result's are NULL."""
    F = engine.functions
    player = ~_room_result(F)
    start = F.when(player, guarded_timestamp(F, F.col("startTime"), options.timezone))
    seconds = elapsed_seconds(F, F.col("gametime"))
    # Legacy records have no event time; the reference reconstructs it this way.
    reconstructed = start + F.expr("INTERVAL 1 SECOND") * seconds
    moment = F.when(player, event_timestamp(F, F.col("datetime"), options.timezone))
    # The raw schema bounds coordinates so that x + y cannot overflow an INTEGER.
    x, y = _int(F, "x"), _int(F, "y")
    return raw.select(
        F.col("sessionID"),
        start.alias("startTime"),
        F.coalesce(moment, reconstructed).alias("datetime"),
        F.col("gametime"),
        seconds.alias("gametime_seconds"),
        _int(F, "success").alias("success"),
        _int(F, "status").alias("status"),
        F.col("Boss.name").alias("Boss_name"),
        declared(F, SOURCE, "Boss.item_level").alias("Boss_item_level"),
        declared(F, SOURCE, "Boss.endTime").alias("Boss_endTime"),
        F.col("User.account").alias("User_account"),
        F.col("User.class").alias("User_class"),
        F.col("User.ip").alias("User_ip"),
        F.col("method"),
        F.coalesce(F.col("inputkey"), F.col("inpukey")).alias("inputkey"),
        x.alias("x"),
        y.alias("y"),
        (x + y).alias("xy"),
        F.col("result").alias("result"),
    )


def build(events: DataFrame, engine: Engine, options: TransformOptions) -> dict[str, DataFrame]:
    F = engine.functions
    players = kept_rows(events, F, DROPS)
    return {
        "lostark_analysis_log": players.select(*ANALYSIS_COLUMNS),
        "lostark_training_log": players.select(*TRAINING_COLUMNS),
        "lostark_room_results": _room_results(events, F),
    }


def _int(F: Any, name: str) -> Any:
    # The raw schema gives absent counters the value 0; read them the same way.
    return F.coalesce(declared(F, SOURCE, name), F.lit(0).cast(leaf_type(SOURCE, name)))


def _room_results(events: DataFrame, F: Any) -> DataFrame:
    player = ~_room_result(F)
    account = F.col("User_account")
    rooms = events.groupBy("sessionID").agg(
        # One boss per room; max() picks it without trusting any one event's order.
        F.max(F.col("Boss_name")).alias("Boss_name"),
        F.max(F.col("Boss_item_level")).alias("Boss_item_level"),
        F.countDistinct(F.when(player, account)).cast("long").alias("players"),
        F.countDistinct(F.when(player & (F.col("status") == 1), account))
        .cast("long")
        .alias("deaths"),
        F.countDistinct(F.when(player & (F.col("success") == 1), account))
        .cast("long")
        .alias("clears"),
        F.max(F.when(~player, F.col("result"))).alias("reported_result"),
    )
    return rooms.select(
        *ROOM_COLUMNS[:6],
        F.when(F.col("clears") > 0, 1).otherwise(0).cast("int").alias("room_success"),
        F.col("reported_result"),
    )
