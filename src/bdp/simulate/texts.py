"""Identity pools (accounts, IPs, UUIDs) and time texts shared by the simulators.

Pools are sized from the population (the fix for G1): accounts `testAccount_N` and IPs
`192.168.<i // 256>.<i % 256>` are unique within a run, handed out in a seeded order.
Times render as `YYYY-MM-DDTHH:MM:SS.sssZ` through two tables (whole seconds of the run,
milliseconds), which is what makes per-event timestamps cheap.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from zoneinfo import ZoneInfo

import numpy as np
import pyarrow as pa

from bdp.datasets.base import format_timestamp
from bdp.simulate.jsonwire import Lookup, Verbatim

__all__ = [
    "MAX_IP_USERS",
    "accounts",
    "draw_uuid_bits",
    "elapsed_lookup",
    "event_time",
    "format_local_timestamp",
    "format_timestamp",
    "ip_addresses",
    "uuid4_texts",
    "uuid_texts",
]

MAX_IP_USERS = 1 << 16
"""`192.168.x.y` holds this many distinct addresses."""


def accounts(rng: np.random.Generator, count: int) -> list[str]:
    return [f"testAccount_{n}" for n in rng.permutation(count)]


def ip_addresses(rng: np.random.Generator, count: int) -> list[str]:
    if count > MAX_IP_USERS:
        raise ValueError(f"{count} users need more than the {MAX_IP_USERS} IPs of 192.168.x.y")
    return [f"192.168.{i >> 8}.{i & 255}" for i in rng.permutation(count)]


def uuid4_texts(rng: np.random.Generator, count: int) -> list[str]:
    raw = rng.bytes(16 * count)
    return [str(uuid.UUID(bytes=raw[16 * i : 16 * i + 16], version=4)) for i in range(count)]


def draw_uuid_bits(rng: np.random.Generator, count: int) -> np.ndarray:
    """Random bits for `count` per-event UUIDs, rendered later by `uuid_texts`."""
    return rng.integers(0, 1 << 16, (count, 8), dtype=np.uint16)


_HEX4 = np.array([f"{v:04x}".encode() for v in range(1 << 16)], dtype="S4")
_HEX = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
# Where the 8 groups of 4 hex digits go in `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
_GROUP_AT = (0, 4, 9, 14, 19, 24, 28, 32)


def uuid_texts(bits: np.ndarray) -> pa.Array:
    """Version-4 UUID strings from `draw_uuid_bits` rows, built as fixed-width bytes."""
    rows = len(bits)
    hexed = _HEX4[bits].view(np.uint8).reshape(rows, 32)
    out = np.empty((rows, 36), dtype=np.uint8)
    for group, at in enumerate(_GROUP_AT):
        out[:, at : at + 4] = hexed[:, 4 * group : 4 * group + 4]
    out[:, [8, 13, 18, 23]] = ord("-")
    out[:, 14] = ord("4")  # version
    out[:, 19] = _HEX[8 + (bits[:, 4] >> 14)]  # variant 10xx: one of 8, 9, a, b
    offsets = np.arange(0, 36 * rows + 1, 36, dtype=np.int32)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(out))


def format_local_timestamp(epoch_ms: int, tz: str) -> str:
    """Zone-less local date-time with milliseconds (the reference's Lost Ark startTime)."""
    moment = _dt.datetime.fromtimestamp(epoch_ms // 1000, tz=ZoneInfo(tz))
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{epoch_ms % 1000:03d}"


_MILLIS = tuple(f"{ms:03d}Z" for ms in range(1000))


def event_time(event_ms: np.ndarray) -> Verbatim:
    """A quoted UTC timestamp from the `_sec` (seconds since the run's first event) and
    `_ms` columns every event table provides; tables span the run's events."""
    first = int(event_ms.min() // 1000) if len(event_ms) else 0
    last = int(event_ms.max() // 1000) if len(event_ms) else 0
    seconds = np.arange(first, last + 1).astype("datetime64[s]")
    prefixes = [text + "." for text in np.datetime_as_string(seconds, unit="s").tolist()]
    return Verbatim(('"', Lookup("_sec", prefixes), Lookup("_ms", _MILLIS), '"'))


def elapsed_lookup(column: str, max_seconds: int) -> Lookup:
    """`M:S` elapsed time (minutes unpadded, seconds unpadded) for 0..max_seconds."""
    return Lookup(column, [f"{s // 60}:{s % 60}" for s in range(max_seconds + 1)])
