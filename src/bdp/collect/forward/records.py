"""From forward messages to `Collected` records: which dataset a tag means, and what
each record's JSON, partition key, idempotency id and event time are.

A record is landed as compact JSON. MessagePack has binary values JSON lacks: a binary
value that is valid UTF-8 becomes that text, any other becomes its base64 text; text
that is not valid UTF-8 keeps its valid parts and gets U+FFFD for the rest. Other ext
values become base64 text of their payload, timestamps ISO-8601 text.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

import msgpack
import orjson

from bdp.collect.base import Collected, find_dataset
from bdp.collect.forward.protocol import EventTime, ForwardMessage, ProtocolError, entry_time_ms
from bdp.config import Settings
from bdp.datasets import Dataset, format_timestamp
from bdp.errors import BdpError

__all__ = ["TagRouter", "to_collected"]

_ROUTE_CACHE_LIMIT = 10_000


class TagRouter:
    """Tag → dataset: `[collect.forward] tags` first, in order (an exact tag, or a
    Fluentd pattern where `*` is one dot-separated part and `**` any number of parts),
    else the tag's first part (`orders.web-1` → `orders`). None when it names none."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.routes = dict(settings.collect.forward.tags)
        self._cache: dict[str, Dataset | None] = {}

    def dataset_for(self, tag: str) -> Dataset | None:
        if tag in self._cache:
            return self._cache[tag]
        name = self._name_for(tag)
        try:
            dataset = find_dataset(self.settings, name) if name else None
        except BdpError:  # no such dataset, or a name no dataset may have
            dataset = None
        if len(self._cache) >= _ROUTE_CACHE_LIMIT:
            self._cache.clear()
        self._cache[tag] = dataset
        return dataset

    def _name_for(self, tag: str) -> str:
        if tag in self.routes:
            return self.routes[tag]
        parts = tag.split(".")
        for pattern, name in self.routes.items():
            if "*" in pattern and tag_matches(pattern.split("."), parts):
                return name
        return parts[0]


def tag_matches(pattern: list[str], parts: list[str]) -> bool:
    """Fluentd's tag match: `*` is exactly one part, `**` zero or more parts."""
    if not pattern:
        return not parts
    head, rest = pattern[0], pattern[1:]
    if head == "**":
        return any(tag_matches(rest, parts[i:]) for i in range(len(parts) + 1))
    if not parts:
        return False
    if head == "*" or head == parts[0]:
        return tag_matches(rest, parts[1:])
    return False


def to_collected(message: ForwardMessage, dataset: Dataset, source: str) -> Collected:
    """The message's records for `dataset`: stamped with the entry's time when the
    dataset names an event-time field the record lacks, keyed and identified."""
    event_time_field: str | None = getattr(dataset, "event_time_field", None)
    id_field: str | None = getattr(dataset, "id_field", None)
    key_field = dataset.key_field
    values: list[bytes] = []
    partition_keys: list[bytes | None] = []
    ids: list[bytes | None] = []
    chunk = message.chunk
    chunk_prefix = None
    if chunk is not None:
        chunk_bytes = chunk if isinstance(chunk, bytes) else chunk.encode("utf-8", "replace")
        chunk_prefix = b"c:" + chunk_bytes + b":"
    # Paths are split once per message, not once per record: this loop is the hot path.
    stamp_path = event_time_field.split(".") if event_time_field else None
    key_path = key_field.split(".") if key_field else None
    id_path = id_field.split(".") if id_field else None
    for index, (time, record) in enumerate(message.entries):
        if stamp_path is not None:
            _stamp(record, stamp_path, time)
        values.append(record_json(record))
        partition_keys.append(_key_bytes(_at(record, key_path)) if key_path else None)
        if chunk_prefix is not None:
            ids.append(chunk_prefix + str(index).encode())
        elif id_path is not None:
            value = _key_bytes(_at(record, id_path))
            ids.append(b"f:" + value if value is not None else None)
        else:
            ids.append(None)
    has_ids = any(rid is not None for rid in ids)
    return Collected(
        dataset,
        values,
        partition_keys=partition_keys,
        ids=ids if has_ids else None,
        source=source,
    )


def record_json(record: Mapping[str, Any]) -> bytes:
    """The record as compact JSON (binary and ext values as the module says)."""
    try:
        return orjson.dumps(record, default=_json_default)
    except TypeError as exc:
        if "surrogates" not in str(exc):
            raise ProtocolError(f"a record cannot be written as JSON: {exc}") from None
    try:
        return orjson.dumps(_repair_text(record), default=_json_default)
    except TypeError as exc:
        raise ProtocolError(f"a record cannot be written as JSON: {exc}") from None


def lookup(record: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path, or None."""
    return _at(record, dotted.split("."))


def _at(record: Mapping[str, Any], path: list[str]) -> Any:
    if len(path) == 1:
        return record.get(path[0])
    value: Any = record
    for part in path:
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


def _stamp(record: dict[str, Any], path: list[str], time: int | float | EventTime) -> None:
    *parents, leaf = path
    target: Any = record
    for part in parents:
        child = target.get(part)
        if child is None:
            child = target[part] = {}
        if not isinstance(child, dict):
            return  # the record says otherwise; the stream job judges it
        target = child
    if target.get(leaf) is None:
        target[leaf] = format_timestamp(entry_time_ms(time))


def _key_bytes(value: Any) -> bytes | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    if isinstance(value, bytes):
        return value
    try:
        return orjson.dumps(value, default=_json_default)
    except TypeError:
        return None  # a key that has no JSON form keys nothing


def _json_default(value: Any) -> Any:
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(value).decode("ascii")
    if isinstance(value, EventTime):
        return format_timestamp(entry_time_ms(value))
    if isinstance(value, msgpack.Timestamp):
        return format_timestamp(value.to_unix_nano() // 1_000_000)
    if isinstance(value, msgpack.ExtType):
        return base64.b64encode(value.data).decode("ascii")
    raise TypeError(f"{type(value).__name__} has no JSON form")


def _repair_text(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    if isinstance(value, dict):
        return {_repair_text(k): _repair_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_repair_text(item) for item in value]
    return value
