"""The Fluentd forward protocol's messages, decoded and encoded without any I/O.

A client sends a stream of MessagePack values on one TCP connection. Each value is one
message in one of four modes (Forward Protocol Specification v1):

- Message: `[tag, time, record, option?]`
- Forward: `[tag, [[time, record], ...], option?]`
- PackedForward: `[tag, bin-or-str of concatenated [time, record] entries, option?]`
- CompressedPackedForward: PackedForward whose option says `compressed: "gzip"`; the
  bytes are one or more gzip members.

`time` is an integer of seconds or an EventTime (ext type 0: 32-bit seconds, 32-bit
nanoseconds, big-endian). Everything a client declares is bounded before it is
allocated: a message larger than `max_message_bytes`, a string or array header that
claims more than that, and a decompressed body larger than that are refused, so a
hostile or broken client costs at most one connection and a bounded amount of memory.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any, NamedTuple

import msgpack

from bdp.errors import BdpError

__all__ = [
    "EVENT_TIME_EXT",
    "EventTime",
    "ForwardMessage",
    "Limits",
    "ProtocolError",
    "decode_message",
    "encode_event_time",
    "entry_time_ms",
    "new_unpacker",
    "pack",
]

EVENT_TIME_EXT = 0
"""MessagePack ext type code of Fluentd's EventTime."""

MAX_CONTAINER_ITEMS = 1_000_000
"""Most items an array or a map may declare: its header is allocated at once (eight
bytes per item), before any item has arrived, so a lying header must stay cheap."""


class ProtocolError(BdpError):
    """What a client sent is not a forward-protocol message bdp accepts; the connection
    is closed with this reason."""


class EventTime(NamedTuple):
    """Fluentd's sub-second event time."""

    seconds: int
    nanoseconds: int


@dataclass(frozen=True)
class Limits:
    """Bounds on what one connection may make the server hold."""

    max_message_bytes: int

    @property
    def max_items(self) -> int:
        return max(1024, min(MAX_CONTAINER_ITEMS, self.max_message_bytes))


@dataclass
class ForwardMessage:
    """One decoded message: its tag, its (time, record) entries and its ack request."""

    tag: str
    entries: list[tuple[int | float | EventTime, dict[str, Any]]]
    chunk: str | bytes | None = None
    """The client's chunk id when it wants an ack (`option.chunk`), else None."""


def pack(value: object) -> bytes:
    """One MessagePack value (an answer to the client, or a test's message)."""
    packed: bytes = msgpack.packb(value)
    return packed


def encode_event_time(seconds: int, nanoseconds: int = 0) -> msgpack.ExtType:
    return msgpack.ExtType(EVENT_TIME_EXT, struct.pack(">II", seconds, nanoseconds))


def _ext_hook(code: int, data: bytes) -> object:
    if code == EVENT_TIME_EXT and len(data) == 8:
        seconds, nanoseconds = struct.unpack(">II", data)
        return EventTime(seconds, nanoseconds)
    return msgpack.ExtType(code, data)


def new_unpacker(limits: Limits, buffer_bytes: int) -> msgpack.Unpacker:
    """A streaming decoder that holds at most `buffer_bytes` and refuses a string, an
    array or a map that declares more than the limits allow before allocating it.

    Text that is not valid UTF-8 decodes with surrogate escapes, so a PackedForward body
    sent as a str (as older Fluentd does) can be turned back into its exact bytes.
    """
    size = limits.max_message_bytes
    return msgpack.Unpacker(
        raw=False,
        unicode_errors="surrogateescape",
        max_buffer_size=buffer_bytes,
        max_str_len=size,
        max_bin_len=size,
        max_ext_len=size,
        max_array_len=limits.max_items,
        max_map_len=limits.max_items,
        ext_hook=_ext_hook,
        strict_map_key=True,
    )


def decode_message(value: object, limits: Limits) -> ForwardMessage:
    """The message a decoded MessagePack value is, or ProtocolError saying why not."""
    if not isinstance(value, list) or len(value) < 2 or len(value) > 4:
        raise ProtocolError(f"a message must be an array of 2 to 4 items, not {_kind(value)}")
    tag = value[0]
    if not isinstance(tag, str) or not tag:
        raise ProtocolError(f"a message's tag must be non-empty text, not {_kind(tag)}")
    second = value[1]
    if isinstance(second, list):  # Forward
        option = _option(value, 2, 3)
        entries = [_entry(entry, limits) for entry in second]
    elif isinstance(second, bytes | str) and len(value) <= 3:  # (Compressed)PackedForward
        option = _option(value, 2, 3)
        packed = second if isinstance(second, bytes) else _raw_bytes(second)
        compressed = option.get("compressed")
        if compressed == "gzip":
            packed = gunzip(packed, limits.max_message_bytes)
        elif compressed not in (None, "text"):
            raise ProtocolError(f"unknown compression {compressed!r}; bdp reads only gzip")
        entries = [_entry(entry, limits) for entry in _unpack_all(packed, limits)]
    elif len(value) >= 3:  # Message
        option = _option(value, 3, 4)
        entries = [_entry([second, value[2]], limits)]
    else:
        raise ProtocolError(f"a message of 2 items must carry entries, not {_kind(second)}")
    chunk = option.get("chunk")
    if chunk is not None and not (isinstance(chunk, str | bytes) and chunk):
        raise ProtocolError(f"option.chunk must be non-empty text, not {_kind(chunk)}")
    return ForwardMessage(tag, entries, chunk)


def gunzip(data: bytes, max_bytes: int) -> bytes:
    """The concatenated contents of one or more gzip members, at most `max_bytes`."""
    out: list[bytes] = []
    total = 0
    while data:
        inflater = zlib.decompressobj(wbits=31)
        try:
            piece = inflater.decompress(data, max_bytes - total + 1)
        except zlib.error as exc:
            raise ProtocolError(f"the gzip body is corrupt: {exc}") from None
        total += len(piece)
        if total > max_bytes or inflater.unconsumed_tail:
            raise ProtocolError(f"the gzip body inflates beyond max_message_bytes ({max_bytes})")
        if not inflater.eof:
            raise ProtocolError("the gzip body is truncated")
        out.append(piece)
        data = inflater.unused_data
    return b"".join(out)


def entry_time_ms(time: int | float | EventTime) -> int:
    """An entry's time as epoch milliseconds (nanoseconds truncated to milliseconds)."""
    if isinstance(time, EventTime):
        return time.seconds * 1000 + time.nanoseconds // 1_000_000
    return int(time * 1000)


_SENTINEL = b"\xc0"
"""MessagePack's nil, fed after the packed entries to see where they end."""


def _unpack_all(packed: bytes, limits: Limits) -> list[object]:
    # Entries are decoded in one C-level pass (`list`), not one Python step each. A
    # truncated last entry would go unseen (`tell()` counts its partial bytes too), so a
    # nil is fed after them: only when every entry is whole does it come back on its
    # own, as the last item; a cut entry swallows it or is left unfinished.
    unpacker = new_unpacker(limits, buffer_bytes=len(packed) + 1)
    try:
        unpacker.feed(packed + _SENTINEL)
        entries: list[object] = list(unpacker)
    except (ValueError, msgpack.UnpackException) as exc:
        raise ProtocolError(f"the packed entries are not valid MessagePack: {exc}") from None
    if not entries or entries[-1] is not None or unpacker.tell() != len(packed) + 1:
        raise ProtocolError("the packed entries end in a truncated entry")
    return entries[:-1]


def _entry(entry: object, limits: Limits) -> tuple[int | float | EventTime, dict[str, Any]]:
    if not isinstance(entry, list) or len(entry) != 2:
        raise ProtocolError(f"an entry must be an array [time, record], not {_kind(entry)}")
    time, record = entry
    if not isinstance(time, int | float | EventTime) or isinstance(time, bool):
        raise ProtocolError(f"an entry's time must be an integer or EventTime, not {_kind(time)}")
    if not isinstance(record, dict):
        raise ProtocolError(f"a record must be a map, not {_kind(record)}")
    return time, record


def _option(value: list[Any], index: int, length: int) -> dict[str, Any]:
    if len(value) > length:
        raise ProtocolError(f"a message of this mode has at most {length} items")
    if len(value) <= index or value[index] is None:
        return {}
    option = value[index]
    if not isinstance(option, dict):
        raise ProtocolError(f"a message's option must be a map, not {_kind(option)}")
    return option


def _raw_bytes(text: str) -> bytes:
    return text.encode("utf-8", "surrogateescape")


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, bytes):
        return "binary"
    if isinstance(value, str):
        return "text"
    if value is None:
        return "nil"
    return type(value).__name__
