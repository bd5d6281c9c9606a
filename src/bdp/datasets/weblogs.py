"""Web access log (SCENARIOS §7.2), keyed by session."""

from __future__ import annotations

import msgspec

from bdp.datasets.base import Dataset, Int32


class WebEvent(msgspec.Struct):
    ip: str
    datetime: str
    method: str
    url: str
    responseCode: Int32
    responseTime: Int32
    sessionID: str


DATASET = Dataset(
    name="weblogs",
    raw_type=WebEvent,
    event_time=lambda event: event.datetime,
    event_time_field="datetime",
    key_field="sessionID",
    description="Web access log: method, URL, response code and time",
)
