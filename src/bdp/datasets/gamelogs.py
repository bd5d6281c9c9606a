"""LoL game log (SCENARIOS §3): one event per player action, keyed by account."""

from __future__ import annotations

import msgspec

from bdp.datasets.base import Coordinate, Dataset, Int32, Int64


class GameEvent(msgspec.Struct):
    roomID: str
    id: Int64
    createRoomDate: str
    ip: str
    account: str
    champion: str
    method: str
    datetime: str
    x: Coordinate
    y: Coordinate
    status: Int32
    deathCount: Int32
    ingametime: str
    inputkey: str | None = None
    """None when no key was pressed; the legacy format sends the string "null"."""


def _check(event: GameEvent) -> str | None:
    if event.method not in ("/move", "/wait", "/buyItem", "/getItem"):
        return f"method {event.method!r} is not /move, /wait or /buyItem"
    return None


DATASET = Dataset(
    name="gamelogs",
    raw_type=GameEvent,
    event_time=lambda event: event.datetime,
    event_time_field="datetime",
    key_field="account",
    description="LoL game log: moves, waits, purchases and deaths per player",
    check=_check,
    iso_leaves=(("createRoomDate", "timestamp"),),
)
