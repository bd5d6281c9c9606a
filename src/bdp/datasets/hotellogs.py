"""Hotel web log (SCENARIOS §4): page views, bookings and refunds, keyed by account."""

from __future__ import annotations

import msgspec

from bdp.datasets.base import Dataset, Int32


class HotelEvent(msgspec.Struct):
    id: str
    ip: str
    datetime: str
    account: str
    method: str
    status: Int32
    gender: str
    age: str


DATASET = Dataset(
    name="hotellogs",
    raw_type=HotelEvent,
    event_time=lambda event: event.datetime,
    event_time_field="datetime",
    key_field="account",
    description="Lodging site log: menu clicks, property clicks, bookings, refunds",
)
