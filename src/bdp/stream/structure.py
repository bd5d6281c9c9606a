"""What a record's JSON structure hides from a schema decoder: its nesting depth, and
keys an object repeats.

A record nested deeper than the limit is refused before it is decoded: decoders and the
ETL's JSON readers recurse, and each has its own limit. A repeated key is valid JSON
that readers disagree on (the validator and Spark keep the last value, DuckDB refuses
the record), so a record that repeats one never reaches the lake.

Both are found for a whole batch at once, with numpy over the records joined into one
buffer. The depth of a record cannot exceed the number of brackets it opens, so only a
record opening more than the limit is measured exactly. For keys, each key is located
(a closing quote followed by `:`), tagged with its object (the last bracket opened at
its depth) and a fingerprint of its text; a record where two keys of one object share
a fingerprint is checked exactly, as is a record holding an escaped quote, which the
fast pass cannot place.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Iterable

import numpy as np

__all__ = ["duplicate_keys", "nesting_depth", "too_deep"]

_QUOTE, _BACKSLASH, _COLON = 0x22, 0x5C, 0x3A
_BRACKET_BITS = 0xDF
"""`{` and `[` (and `}` and `]`) differ only in bit 0x20, which no other byte pairs
with them: masked out, one comparison finds either bracket of a kind."""
_OPEN_MASKED, _CLOSE_MASKED = 0x5B, 0x5D
_BRACE_BITS, _BRACE_MASKED = 0xF9, 0x79
"""`{` and `}` masked alike (as are `y` and DEL, told apart after)."""
_WHITESPACE = (0x20, 0x09, 0x0A, 0x0D)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def too_deep(values: list[bytes], limit: int, joined: bytes | None = None) -> list[tuple[int, int]]:
    """(position, depth) of each record nested deeper than `limit` containers. `joined`
    is `b"\\n".join(values)` when the caller has it already."""
    if not values:
        return []
    buffer, starts = _joined(values, joined)
    # Records are joined with a newline, so every position maps to one record.
    opens = np.flatnonzero((buffer & _BRACKET_BITS) == _OPEN_MASKED)
    per_record = np.diff(np.searchsorted(opens, np.append(starts, len(buffer))))
    suspects = np.flatnonzero(per_record > limit).tolist()
    found = []
    for position in suspects:
        depth = nesting_depth(values[position])
        if depth > limit:
            found.append((position, depth))
    return found


def nesting_depth(value: bytes) -> int:
    """How many arrays and objects enclose the record's innermost value (`{}` is 1)."""
    masked = np.frombuffer(_STRING.sub(b'""', value), dtype=np.uint8) & _BRACKET_BITS
    steps = (masked == _OPEN_MASKED).astype(np.int64) - (masked == _CLOSE_MASKED)
    return int(np.cumsum(steps).max(initial=0))


def duplicate_keys(
    values: list[bytes], known: Iterable[str] = (), joined: bytes | None = None
) -> list[tuple[int, str]]:
    """(position, key) of each record with an object that repeats a key.

    `values` must be valid JSON (the decoder has accepted them): the fast pass relies on
    quotes pairing up. `known` are the keys the records normally hold (the raw schema's
    field names, once per object that declares them): a record with any other key is
    checked exactly. `joined` is
    `b"\\n".join(values)` when the caller has it already."""
    if not values:
        return []
    joined = b"\n".join(values) if joined is None else joined
    buffer, starts = _joined(values, joined)
    escaped: list[int] = []
    if b"\\" in joined and b'\\"' in joined:
        escaped = _escaped_quotes(buffer, starts)
        buffer = buffer.copy()
        ends = [*starts.tolist()[1:], len(buffer) + 1]
        for position in escaped:
            buffer[starts[position] : ends[position] - 1] = 0x20
    names = list(known)
    fingerprints = _known_fingerprints(names)
    if len(set(names)) < len(names) and joined.count(b"{") > len(values):
        # A name declared in two objects (`Ad.viewing_time`, `delta.viewing_time`) is
        # held twice by a good record: look at each object on its own.
        suspects = _repeated_in_objects(buffer, starts, fingerprints)
    else:
        suspects = _repeated_names(buffer, starts, fingerprints)
        if len(fingerprints) > 63:
            suspects = list(range(len(values)))
    found = []
    for position in sorted({*escaped, *suspects}):
        key = _repeated_key(values[position])
        if key is not None:
            found.append((position, key))
    return found


def _keys(buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Quote positions, and the closing quote of each key, found by pairing quotes."""
    quotes = np.flatnonzero(buffer == _QUOTE)
    closing = quotes[1::2]
    # A closing quote followed (after any whitespace) by a colon ends a key.
    last = len(buffer) - 1
    after = np.minimum(closing + 1, last)
    following = buffer[after]
    spaced = np.isin(following, _WHITESPACE)
    while spaced.any():
        after[spaced] = np.minimum(after[spaced] + 1, last)
        following = buffer[after]
        spaced &= np.isin(following, _WHITESPACE) & (after < last)
    is_key = following == _COLON
    return quotes, closing[is_key]


def _slots(
    buffer: np.ndarray, key_close: np.ndarray, known: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each key's index among the `known` fingerprints, and which keys are not known."""
    fingerprints = _fingerprints(buffer, key_close)
    if not len(known):
        return np.zeros(len(fingerprints), dtype=np.int64), np.ones(len(fingerprints), bool)
    slot = np.minimum(np.searchsorted(known, fingerprints), len(known) - 1)
    return slot, known[slot] != fingerprints


def _repeated_names(buffer: np.ndarray, starts: np.ndarray, known: np.ndarray) -> list[int]:
    """Records holding a known name twice (in one object or two), or a name not known."""
    # A quote right before a colon closes a key (inside text a quote is escaped, and
    # records with escaped quotes are not looked at here). A key with space before its
    # colon is found by pairing quotes, in the few records with space before a colon.
    colons = np.flatnonzero(buffer == _COLON)
    before = buffer[np.maximum(colons - 1, 0)]
    key_close = colons[before == _QUOTE] - 1
    spaced = colons[np.isin(before, _WHITESPACE)]
    odd = np.unique(np.searchsorted(starts, spaced, side="right") - 1)
    suspects = _repeated_runs(buffer, starts, key_close, known)
    if len(odd):
        ends = np.append(starts[1:] - 1, len(buffer))
        pieces = [buffer[starts[i] : ends[i]].tobytes() for i in odd.tolist()]
        sub_buffer, sub_starts = _joined(pieces)
        _, sub_close = _keys(sub_buffer)
        again = _repeated_runs(sub_buffer, sub_starts, sub_close, known)
        odd_set = set(odd.tolist())
        suspects = [i for i in suspects if i not in odd_set] + odd[again].tolist()
    return sorted(suspects)


def _repeated_runs(
    buffer: np.ndarray, starts: np.ndarray, key_close: np.ndarray, known: np.ndarray
) -> list[int]:
    if not len(key_close):
        return []
    slot, unknown = _slots(buffer, key_close, known)
    # Keys come in buffer order, so each record's keys are one run: OR their name bits,
    # and a record whose run is longer than its distinct bits holds a name twice.
    first = np.searchsorted(key_close, starts)
    counts = np.diff(first, append=len(key_close))
    held = np.flatnonzero(counts > 0)
    names = np.bitwise_or.reduceat(np.left_shift(np.int64(1), slot), first[held])
    repeated = held[np.bitwise_count(names) < counts[held]]
    strangers = np.searchsorted(starts, key_close[unknown], side="right") - 1
    return np.union1d(repeated, strangers).tolist()


def _joined(values: list[bytes], joined: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    data = b"\n".join(values) if joined is None else joined
    buffer = np.frombuffer(data, dtype=np.uint8)
    lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
    starts = np.zeros(len(values), dtype=np.int64)
    np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return buffer, starts


def _escaped_quotes(buffer: np.ndarray, starts: np.ndarray) -> list[int]:
    """Records with a backslash before a quote: inside them a quote may not pair up."""
    escaped = np.flatnonzero((buffer[:-1] == _BACKSLASH) & (buffer[1:] == _QUOTE))
    return np.unique(np.searchsorted(starts, escaped, side="right") - 1).tolist()


@functools.lru_cache(maxsize=64)
def _known_fingerprints_of(names: tuple[str, ...]) -> np.ndarray:
    texts = [json.dumps(name).encode() for name in names]
    return np.unique(np.array([_fingerprint_of(text) for text in texts], dtype=np.uint64))


def _known_fingerprints(known: Iterable[str]) -> np.ndarray:
    return _known_fingerprints_of(tuple(sorted(set(known))))


_FINGERPRINT_BYTES = 8
_LENGTH_MIX = np.uint64(0x9E3779B97F4A7C15)


def _fingerprint_of(quoted: bytes) -> int:
    """`_fingerprints` of one key, given with its quotes."""
    text = quoted[1:-1]
    tail = text[-_FINGERPRINT_BYTES:]
    bits = int.from_bytes(tail, "little") if tail else 0
    return (bits ^ (len(tail) * int(_LENGTH_MIX))) % 2**64


def _fingerprints(buffer: np.ndarray, key_close: np.ndarray) -> np.ndarray:
    """Each key's last 8 bytes (all of a shorter key) and how many they are: equal keys
    always share it, and the names of a raw schema all differ in it (a test holds that).

    Read as one little-endian word ending before the closing quote: the highest quote
    byte in it, if any, is the key's opening quote, and the bytes below it go."""
    padded = np.zeros(len(buffer) + _FINGERPRINT_BYTES, dtype=np.uint8)
    padded[_FINGERPRINT_BYTES:] = buffer
    words = np.ndarray((len(buffer) + 1,), dtype="<u8", buffer=padded, offset=0, strides=(1,))[
        key_close
    ]
    # Bytes equal to a quote become zero; a zero byte is the one without its high bit
    # after adding 0x7F to its low bits (no carry crosses bytes this way).
    low = np.uint64(0x7F7F7F7F7F7F7F7F)
    flipped = words ^ np.uint64(0x2222222222222222)
    nonzero = ((flipped & low) + low) | flipped
    quotes = ~nonzero & np.uint64(0x8080808080808080)
    # The highest quote's top bit; bits above it are the key's.
    top = np.where(quotes > 0, np.floor(np.log2(quotes.astype(np.float64) + 0.5)), -1)
    top = top.astype(np.int64)
    shift = np.clip(top + 1, 0, 63).astype(np.uint64)
    key_bits = np.where(top >= 63, np.uint64(0), words >> shift)
    lengths = np.where(top < 0, _FINGERPRINT_BYTES, (63 - top) // 8).astype(np.uint64)
    return key_bits ^ (lengths * _LENGTH_MIX)


def _repeated_in_objects(buffer: np.ndarray, starts: np.ndarray, known: np.ndarray) -> list[int]:
    """Records where two keys of one object look alike, or with a name not known."""
    quotes, key_close = _keys(buffer)
    if not len(key_close):
        return []
    slot, unknown = _slots(buffer, key_close, known)
    objects = _objects(buffer, quotes, key_close)
    # Each (object, known name) once: a second one is a repeat, or two names alike.
    cell = objects * max(len(known), 1) + slot
    clash = np.bincount(cell)[cell] > 1
    records = np.searchsorted(starts, key_close[clash | unknown], side="right") - 1
    return np.unique(records).tolist()


def _objects(buffer: np.ndarray, quotes: np.ndarray, key_close: np.ndarray) -> np.ndarray:
    """A number per key, shared by the keys of one object and by no others."""
    # Braces outside strings (an even number of quotes before them) delimit objects;
    # arrays do not change which object encloses a key.
    braces = np.flatnonzero((buffer & _BRACE_BITS) == _BRACE_MASKED)
    braces = braces[np.isin(buffer[braces], (0x7B, 0x7D))]
    braces = braces[np.searchsorted(quotes, braces) % 2 == 0]
    steps = np.where(buffer[braces] == 0x7B, 1, -1)
    depth_after = np.cumsum(steps)
    is_open = steps > 0
    # A key's object is the last brace opened at its depth before it: ranking the opens
    # by (depth, position) gives every key of one object the same rank.
    width = len(buffer) + 1
    ranked_opens = np.sort(depth_after[is_open] * width + braces[is_open])
    key_depth = depth_after[np.searchsorted(braces, key_close) - 1]
    return np.searchsorted(ranked_opens, key_depth * width + key_close)


class _Repeated(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _refuse_repeats(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Repeated(key)
            seen.add(key)
    return result


def _repeated_key(value: bytes) -> str | None:
    try:
        # Numbers stay text: no digit limit, and nothing to convert.
        json.loads(value, object_pairs_hook=_refuse_repeats, parse_int=str, parse_float=str)
    except _Repeated as repeated:
        return repeated.key
    return None
