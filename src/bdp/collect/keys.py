"""The partition key and the idempotency id field of each record, read without decoding it.

Every collector that holds records as JSON bytes (HTTP, tail) reads them here, so a key
means the same bytes whichever way a record came in.

A record's partition key keeps one user's events in one partition, in order, as the
simulators key theirs; its id field (when the dataset names one) lets a client's retry
land once. Both are read with a decoder that knows only the path to them and skips
everything else, so reading them costs a fraction of the validation before it.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

__all__ = ["field_text", "read_field"]


def read_field(values: list[bytes], path: str) -> list[bytes | None]:
    """The value at dotted `path` of each JSON record, as `field_text` gives it."""
    decode = _decoder(path).decode
    found: list[bytes | None] = []
    for value in values:
        try:
            raw = _descend(decode(value), path.count(".") + 1)
        except (msgspec.ValidationError, msgspec.DecodeError):
            # An object on the way is something else (a list, a number): no value.
            raw = None
        found.append(None if raw is None else field_text(raw))
    return found


def field_text(raw: bytes) -> bytes | None:
    """A JSON value as key bytes: a string's text in UTF-8, any other value its compact
    JSON text; None for `null` or an absent value."""
    if not raw or raw == b"null":
        return None
    if raw[:1] == b'"':
        text: str = msgspec.json.decode(raw, type=str)
        return text.encode("utf-8", "surrogatepass")
    decoded: Any = msgspec.json.decode(raw)
    return msgspec.json.encode(decoded)


def _descend(found: msgspec.Struct | None, depth: int) -> bytes | None:
    node: Any = found
    for _ in range(depth):
        if node is None:
            return None
        node = node.value
    return bytes(node) if isinstance(node, msgspec.Raw) else None


@lru_cache(maxsize=64)
def _decoder(path: str) -> msgspec.json.Decoder[Any]:
    """A decoder of structs nested along `path`, each holding only the next key."""
    parts = path.split(".")
    leaf: Any = msgspec.defstruct(
        "KeyLeaf", [("value", msgspec.Raw, msgspec.Raw())], rename={"value": parts[-1]}
    )
    node: Any = leaf
    for part in reversed(parts[:-1]):
        node = msgspec.defstruct("KeyPath", [("value", node | None, None)], rename={"value": part})
    return msgspec.json.Decoder(node)
