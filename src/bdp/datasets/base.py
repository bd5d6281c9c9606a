"""What a dataset is on the wire: its topic, its raw schema and where its event time is.

The raw schema is a msgspec Struct decoded with `strict=False`, so the corrected wire
format (typed JSON) and the reference's legacy format (every leaf a string) both pass,
while a value that is not what the field holds ("abc" for an integer) is rejected.
Legacy spellings are optional fields beside the corrected ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import msgspec

__all__ = ["TIMESTAMP_FORMAT", "Dataset", "format_timestamp"]

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""Every timestamp bdp emits: UTC, milliseconds, `Z` (SCENARIOS §2.5)."""


def format_timestamp(epoch_ms: int) -> str:
    import datetime as _dt

    moment = _dt.datetime.fromtimestamp(epoch_ms / 1000, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@dataclass(frozen=True)
class Dataset:
    """A dataset: one topic, one raw schema, one way to read its event time."""

    name: str
    raw_type: type[msgspec.Struct]
    event_time: Callable[[msgspec.Struct], str | None]
    """The record's event time as ISO-8601 text: with `Z` (UTC) or without a zone
    (then read in the platform timezone, as the legacy Lost Ark `startTime` is)."""
    key_field: str
    """The field the simulators key records by, so one user's events stay in order."""
    description: str
    check: Callable[[msgspec.Struct], str | None] | None = None
    """Rules a type cannot express; returns why the record is invalid, or None."""

    @property
    def topic(self) -> str:
        return self.name

    def decoder(self) -> msgspec.json.Decoder:
        return msgspec.json.Decoder(self.raw_type, strict=False)
