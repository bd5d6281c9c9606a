"""What a dataset is on the wire: its topic, its raw schema and where its event time is.

The raw schema is a msgspec Struct, and it is the one declaration both ends read: the
stream job validates records against it, the ETL types each leaf as it declares
(`bdp.etl.schema`). Integer leaves are declared with the range their ETL column holds
(`Int32`, `Int64`, or narrower), so a value the ETL could not load is rejected when it
lands, not when its day is transformed. It is decoded with `strict=False`, so the
corrected wire format (typed JSON) and the reference's legacy format (every leaf a
string) both pass, as does a whole number spelled `3.0` or `1e3`, while a value that is
not what the field holds ("abc" or 2.5 for an integer) is rejected. Legacy spellings
are optional fields beside the corrected ones.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any

import msgspec

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "INT64_MAX",
    "INT64_MIN",
    "ISO_DATE",
    "ISO_TIMESTAMP",
    "MINUTES_SECONDS",
    "TIMESTAMP_FORMAT",
    "Coordinate",
    "Count",
    "Dataset",
    "Int32",
    "Int64",
    "Leaf",
    "declared_keys",
    "format_timestamp",
    "leaf_range",
]

TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
"""Every timestamp bdp emits: UTC, milliseconds, `Z` (SCENARIOS §2.5)."""

ISO_TIMESTAMP = (
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?"
    r"(Z|[+-]((0\d|1[0-7]):?[0-5]\d|18:?00))?$"
)
"""ISO-8601 date-time as both ETL engines parse it: with Java's seconds-less form, and an
offset of at most 18 hours (Java's limit)."""

ISO_DATE = r"^\d{4}-\d{2}-\d{2}$"

MINUTES_SECONDS = r"^(\d{1,7}):(\d{1,2})$"
"""`M:S` elapsed game time: unpadded minutes, up to 7 digits (SCENARIOS conventions)."""

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Int32 = Annotated[int, msgspec.Meta(ge=INT32_MIN, le=INT32_MAX)]
"""An integer the ETL types as INTEGER."""
Int64 = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]
"""An integer the ETL types as BIGINT."""
Count = Annotated[int, msgspec.Meta(ge=0, le=INT32_MAX)]
"""A running total (INTEGER): never negative, so the difference of two is an INTEGER."""
Coordinate = Annotated[int, msgspec.Meta(ge=-(2**30 - 1), le=2**30 - 1)]
"""A map coordinate (INTEGER) whose sum or difference with another stays an INTEGER, as
the ETL computes them (`x + y`, the move since the previous event)."""


def format_timestamp(epoch_ms: int) -> str:
    import datetime as _dt

    moment = _dt.datetime.fromtimestamp(epoch_ms / 1000, tz=_dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}Z"


@dataclass(frozen=True)
class Leaf:
    """One column of a dataset declared by a JSON Schema: a scalar field outside arrays,
    or an array or free-form object kept as JSON text."""

    path: str
    """Dotted path of the field in the record (`customer.id`)."""
    sql_type: str
    """`string`, `int`, `bigint`, `double`, `boolean`, `timestamp`, `date` or `json`."""
    required: bool
    """Present in every record: required in its object, and every parent object too."""

    @property
    def column(self) -> str:
        """Its curated column: the dotted path with `.` replaced by `_`."""
        return self.path.replace(".", "_")


@dataclass(frozen=True)
class Dataset:
    """A dataset: one topic, one raw schema, one way to read its event time."""

    name: str
    raw_type: type[msgspec.Struct]
    # The record is an instance of `raw_type`, which each dataset's functions know.
    event_time: Callable[[Any], str | None]
    """The record's event time as ISO-8601 text: with `Z` (UTC) or without a zone
    (then read in the platform timezone, as the legacy Lost Ark `startTime` is)."""
    key_field: str | None
    """The field records are keyed by (dotted path), so one user's events stay in one
    partition and in order; None when the dataset has none."""
    description: str
    check: Callable[[Any], str | None] | None = None
    """Rules a type cannot express; returns why the record is invalid, or None. It reads
    text fields only: integer and boolean leaves may still be in their legacy spelling."""
    iso_leaves: tuple[tuple[str, str], ...] = ()
    """Text leaves besides the event time that the ETL parses when they have the ISO
    form, as (dotted path, `timestamp` or `date`): in that form they must be a real
    time or date (not `2024-02-30`), or the cast would fail the day's ETL."""
    event_time_field: str | None = None
    """Dotted path of the one field that holds the event time, when one does."""
    id_field: str | None = None
    """Dotted path of a field unique to each record, for collectors to send it once."""
    retention_days: int | None = None
    """Days of its data the lake keeps (declared datasets; `bdp.lake.retention`)."""
    transform_ref: str | None = None
    """`module:function` of a declared dataset's own transform; None: the generic one."""
    schema_file: Path | None = None
    """The JSON Schema file a declared dataset comes from; None for a built-in one."""
    schema_document: dict[str, Any] | None = field(default=None, hash=False, compare=False)
    """The JSON Schema a declared dataset comes from."""
    leaves: tuple[Leaf, ...] = ()
    """A declared dataset's columns, in schema order; empty for a built-in one."""

    @property
    def declared(self) -> bool:
        """Declared in the configuration by a JSON Schema, rather than built in."""
        return self.schema_document is not None

    @property
    def topic(self) -> str:
        return self.name

    @cached_property
    def _decoder(self) -> msgspec.json.Decoder[msgspec.Struct]:
        return msgspec.json.Decoder(self.raw_type, strict=False)

    def decoder(self) -> msgspec.json.Decoder[msgspec.Struct]:
        """Decodes a record in either wire format, or raises why it is not one."""
        return self._decoder

    @cached_property
    def keys(self) -> tuple[str, ...]:
        """Every key of the raw schema, once per object that declares it."""
        return declared_keys(self.raw_type)


def declared_keys(raw_type: type[msgspec.Struct]) -> tuple[str, ...]:
    """Every key a schema declares, as spelled on the wire, once per object that
    declares it (a name two objects declare is listed twice)."""
    hints = typing.get_type_hints(raw_type, include_extras=True)
    keys: list[str] = []
    names = zip(raw_type.__struct_fields__, raw_type.__struct_encode_fields__, strict=True)
    for name, wire in names:
        keys.append(wire)
        for member in typing.get_args(hints[name]) or (hints[name],):
            if isinstance(member, type) and issubclass(member, msgspec.Struct):
                keys.extend(declared_keys(member))
    return tuple(keys)


def leaf_range(hint: Any) -> tuple[int, int] | None:
    """The declared (min, max) of an integer leaf's type, or None if it is not one."""
    if typing.get_origin(hint) is Annotated:
        base, *metas = typing.get_args(hint)
        bounds = [(m.ge, m.le) for m in metas if isinstance(m, msgspec.Meta)]
        if base is int and bounds:
            low, high = bounds[0]
            if isinstance(low, int) and isinstance(high, int):
                return low, high
    return None
