"""Odd but valid records: every one passes the stream job's checks, so the ETL must load
it, on every engine.

Starting from simulated records of one day (both wire formats), each integer leaf is
set to the ends of its declared range, each boolean leaf to every spelling accepted,
event times to the other ISO forms accepted, and unknown fields are added that nest as
deep as allowed, hold numbers no type holds, NUL characters and astral-plane text.
"""

from __future__ import annotations

import datetime as dt
import itertools
import typing
from collections.abc import Iterator
from typing import Any

import msgspec
import orjson

from bdp.datasets import get_dataset
from bdp.datasets.base import leaf_range
from bdp.simulate import SimulationParams, reference_users, simulate
from bdp.stream.validate import DEFAULT_MAX_NESTING_DEPTH

__all__ = ["DAY", "hostile_records"]

DAY = dt.date(2024, 4, 16)

BOOLEANS = [True, False, 1, 0, "true", "False", "tRuE", "1", "0"]

EXPONENT = "exponent-token"
"""Put for an integer where the record should hold the JSON number `1e3`."""

EXTRAS = [
    b'"deep":' + b"[" * (DEFAULT_MAX_NESTING_DEPTH - 1) + b"]" * (DEFAULT_MAX_NESTING_DEPTH - 1),
    b'"huge":1e999,"long":123456789012345678901234567890,"tiny":-1e-999',
    b'"text":"a\\u0000b\\ud83d\\ude00\\\\\\"","empty":{},"list":[null,true,{"k":[]}]',
]

EVENT_TIMES = [
    "2024-04-16T18:00:00+09:00",
    "2024-04-17T03:00:00+1800",
    "2024-04-16T09:00",
    "2024-04-16T09:00Z",
    "2024-04-16T18:00+09:00",
    "2024-04-16 09:00:00.123456",
]


def hostile_records(dataset: str) -> list[bytes]:
    """Records of `dataset` for `DAY` (in UTC) that the stream job lands as they are.

    Each has a key (user, session) of its own, so no two of them tie in the order the
    ETL reads a user's events in, except a pair that goes from the lowest to the highest
    value of every integer leaf one second apart: the difference of two events."""
    source = get_dataset(dataset)
    key = tuple(source.key_field.split("."))
    records: list[bytes] = []
    for legacy in (False, True):
        base = _simulated(dataset, legacy)
        document = orjson.loads(base)
        variants = [document]
        for path, hint in _leaves(source.raw_type):
            if _get(document, path) is None:
                continue  # an optional leaf this record does not have
            variants += [_with(document, path, value) for value in _values(hint, legacy)]
        if "datetime" in document:
            variants += [{**document, "datetime": t} for t in EVENT_TIMES]
        for number, variant in enumerate(variants):
            own = _with(variant, key, f"{'legacy' if legacy else 'typed'}-{number}")
            records.append(orjson.dumps(own).replace(b'"exponent-token"', b"1e3"))
        records += [base[:-1] + b"," + extra + b"}" for extra in EXTRAS]
        if not legacy and "datetime" in document:
            records += _lowest_then_highest(source.raw_type, document)
    return records


def _lowest_then_highest(raw_type: type[msgspec.Struct], document: dict) -> list[bytes]:
    pair = []
    for second, end in ((1, 0), (2, 1)):
        event = {**document, "datetime": f"{DAY.isoformat()}T09:30:0{second}.000Z"}
        for path, hint in _leaves(raw_type):
            bounds = _bounds(hint)
            if bounds is not None and _get(event, path) is not None:
                event = _with(event, path, bounds[end])
        pair.append(orjson.dumps(event))
    return pair


def _simulated(dataset: str, legacy: bool) -> bytes:
    start = int(dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC).timestamp() * 1000)
    params = SimulationParams(
        start_ms=start, seed=3, users=reference_users(dataset), legacy_wire_format=legacy
    )
    [block] = itertools.islice(simulate(dataset, params, block_size=50), 1)
    # A player event (a Lost Ark room result carries few fields).
    return next(v for v in block.values if b"raid_result" not in v)


def _leaves(struct: type[msgspec.Struct], prefix: tuple[str, ...] = ()) -> Iterator[tuple]:
    hints = typing.get_type_hints(struct, include_extras=True)
    for name, wire in zip(struct.__struct_fields__, struct.__struct_encode_fields__, strict=True):
        hint = hints[name]
        plain = typing.get_origin(hint) is not typing.Annotated
        members = (typing.get_args(hint) if plain else ()) or (hint,)
        nested = [m for m in members if isinstance(m, type) and issubclass(m, msgspec.Struct)]
        if nested:
            yield from _leaves(nested[0], (*prefix, wire))
        else:
            yield (*prefix, wire), hint


def _members(hint: Any) -> list[Any]:
    if typing.get_origin(hint) is typing.Annotated:
        return [hint]
    return [m for m in typing.get_args(hint) if m is not type(None)] or [hint]


def _bounds(hint: Any) -> tuple[int, int] | None:
    return next(filter(None, map(leaf_range, _members(hint))), None)


def _values(hint: Any, legacy: bool) -> list[Any]:
    bounds = _bounds(hint)
    if bounds is not None:
        low, high = bounds
        if not legacy:
            # Whole numbers with a fraction or an exponent; EXPONENT becomes `1e3`.
            return [low, high, 3.0, EXPONENT]
        return [str(low), str(high), "-0", "1e3", "2.0", "1.5E1"]
    if bool in _members(hint):
        return BOOLEANS
    return []


def _get(document: dict, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(document, dict):
            return None
        document = document.get(key)
    return document


def _with(document: dict, path: tuple[str, ...], value: Any) -> dict:
    copy = orjson.loads(orjson.dumps(document))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy
