"""Lost Ark raid log (SCENARIOS §5), keyed by session (the raid room).

Player events carry `User`; one `/raid_result` event per room closes it with
`result` = cleared or wiped (the fix for R3). Legacy records have no per-event
`datetime`: their event time is the zone-less `startTime` plus `gametime`.
"""

from __future__ import annotations

import datetime as _dt
import re

import msgspec

from bdp.datasets.base import MINUTES_SECONDS, Coordinate, Dataset, Int32

RAID_RESULT = "/raid_result"

_GAMETIME = re.compile(MINUTES_SECONDS.replace("\\d", "[0-9]"))


class RaidUser(msgspec.Struct, rename={"class_": "class"}):
    class_: str
    account: str
    ip: str


class RaidBoss(msgspec.Struct):
    name: str
    item_level: Int32
    endTime: Int32


class RaidEvent(msgspec.Struct):
    sessionID: str
    startTime: str
    gametime: str
    Boss: RaidBoss
    method: str
    success: Int32 = 0
    status: Int32 = 0
    x: Coordinate = 0
    y: Coordinate = 0
    User: RaidUser | None = None
    datetime: str | None = None
    inputkey: str | None = None
    inpukey: str | None = None
    """Legacy spelling of `inputkey` (R1)."""
    result: str | None = None
    survivors: Int32 | None = None


def game_seconds(gametime: str) -> int:
    """`M:S` elapsed time as seconds; ValueError unless it is what the ETL reads as one."""
    match = _GAMETIME.fullmatch(gametime)
    if match is None:
        raise ValueError(f"gametime {gametime!r} is not M:S")
    return int(match[1]) * 60 + int(match[2])


def _event_time(event: RaidEvent) -> str | None:
    if event.datetime is not None:
        return event.datetime
    start = _dt.datetime.fromisoformat(event.startTime.removesuffix("Z"))
    try:
        moment = start + _dt.timedelta(seconds=game_seconds(event.gametime))
    except OverflowError:
        raise ValueError(f"startTime {event.startTime!r} plus gametime is past year 9999") from None
    suffix = "Z" if event.startTime.endswith("Z") else ""
    return moment.isoformat(timespec="milliseconds") + suffix


def _check(event: RaidEvent) -> str | None:
    if event.method == RAID_RESULT:
        if event.result not in ("cleared", "wiped"):
            return f"raid result {event.result!r} is not cleared or wiped"
        return None
    if event.User is None:
        return "player event without User"
    if event.method not in ("/move", "/chat", "/wait"):
        return f"method {event.method!r} is not /move, /chat or /wait"
    try:
        game_seconds(event.gametime)
    except ValueError:
        return f"gametime {event.gametime!r} is not M:S"
    return None


DATASET = Dataset(
    name="lostarklogs",
    raw_type=RaidEvent,
    event_time=_event_time,
    key_field="sessionID",
    description="Lost Ark raid log: player actions, deaths, clears and room results",
    check=_check,
    iso_leaves=(("startTime", "timestamp"),),
)
