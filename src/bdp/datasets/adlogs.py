"""Ad log (SCENARIOS §6): view starts, view ends and clicks, keyed by account.

Corrected events say what they are (`event`) and carry per-event deltas beside the
running totals (the fix for A1); legacy events have neither and keep their time in
`User.offset_time`.
"""

from __future__ import annotations

import msgspec

from bdp.datasets.base import Count, Dataset, Int32

EVENT_KINDS = ("click", "view_start", "view_end")


class AdInfo(msgspec.Struct):
    ad_id: str
    ad_name: str
    ad_explain: str
    genre: str
    viewing_time: Count
    click_count: Count
    start_time: str
    end_time: str


class AdUser(msgspec.Struct):
    account: str
    gender: str
    age: Int32
    click: bool
    view: bool
    total_time: Int32
    offset_time: str | None = None
    """Legacy event time."""


class AdDelta(msgspec.Struct):
    viewing_time: Int32
    click_count: Int32


class AdEvent(msgspec.Struct):
    Ad: AdInfo
    User: AdUser
    event: str | None = None
    datetime: str | None = None
    delta: AdDelta | None = None


def _check(event: AdEvent) -> str | None:
    if event.event is not None and event.event not in EVENT_KINDS:
        return f"event {event.event!r} is not one of {', '.join(EVENT_KINDS)}"
    if event.datetime is None and event.User.offset_time is None:
        return "no event time (datetime or User.offset_time)"
    return None


DATASET = Dataset(
    name="adlogs",
    raw_type=AdEvent,
    # As the ETL reads it: an empty `datetime` is a bad time, not a missing one.
    event_time=lambda event: (
        event.datetime if event.datetime is not None else event.User.offset_time
    ),
    key_field="User.account",
    description="Ad log: views and clicks per user and ad",
    check=_check,
    iso_leaves=(("Ad.start_time", "date"), ("Ad.end_time", "date")),
)
