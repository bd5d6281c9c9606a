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
from typing import Any

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
    masked = buffer & _BRACKET_BITS
    # Records are joined with a newline, so every position maps to one record.
    opens = np.flatnonzero(masked == _OPEN_MASKED)
    per_record = np.diff(np.searchsorted(opens, [*starts.tolist(), len(buffer)]))
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
    if b'\\"' in joined:
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
    found = []
    for position in sorted({*escaped, *suspects}):
        key = _repeated_key(values[position])
        if key is not None:
            found.append((position, key))
    return found


def _keys(buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Quote positions, and the opening and closing quote of each key."""
    quotes = np.flatnonzero(buffer == _QUOTE)
    opening, closing = quotes[0::2], quotes[1::2]
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
    return quotes, opening[is_key], closing[is_key]


def _slots(
    buffer: np.ndarray, key_open: np.ndarray, key_close: np.ndarray, known: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Each key's index among the `known` fingerprints, and which keys are not known."""
    fingerprints = _fingerprints(buffer, key_open, key_close)
    if not len(known):
        return np.zeros(len(fingerprints), dtype=np.int64), np.ones(len(fingerprints), bool)
    slot = np.minimum(np.searchsorted(known, fingerprints), len(known) - 1)
    return slot, known[slot] != fingerprints


def _repeated_names(buffer: np.ndarray, starts: np.ndarray, known: np.ndarray) -> list[int]:
    """Records holding a known name twice (in one object or two), or a name not known."""
    _, key_open, key_close = _keys(buffer)
    if not len(key_close) or len(known) > 63:
        return list(range(len(starts))) if len(key_close) else []
    slot, unknown = _slots(buffer, key_open, key_close, known)
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
    return np.unique([_fingerprint_of(text) for text in texts]).astype(np.int64)


def _known_fingerprints(known: Iterable[str]) -> np.ndarray:
    return _known_fingerprints_of(tuple(sorted(set(known))))


def _fingerprint_of(quoted: bytes) -> int:
    """`_fingerprints` of one key, given with its quotes."""
    close = len(quoted) - 1
    picks = [quoted[i] for i in _picks(0, close)]
    shifted = (byte << shift for byte, shift in zip(picks, _SHIFTS, strict=True))
    return min(close, 0xFFFF) | sum(shifted)


def _fingerprints(buffer: np.ndarray, key_open: np.ndarray, key_close: np.ndarray) -> np.ndarray:
    """Each key's length and five of its bytes (for a key of one letter or none, quotes
    stand in): equal keys always share it, and the raw schemas' names all differ in it."""
    fingerprint = np.minimum(key_close - key_open, 0xFFFF).astype(np.int64)
    for shift, positions in zip(_SHIFTS, _picks(key_open, key_close), strict=True):
        fingerprint |= buffer[positions].astype(np.int64) << shift
    return fingerprint


_SHIFTS = (16, 24, 32, 40, 48)


def _picks(key_open: Any, key_close: Any) -> list[Any]:
    """Where in a key (between its quotes at `key_open` and `key_close`) to read."""
    length = key_close - key_open
    return [
        key_open + 1,
        np.maximum(key_close - 1, key_open),
        np.maximum(key_close - 2, key_open),
        key_open + length // 2,
        key_open + (3 * length) // 4,
    ]


def _repeated_in_objects(buffer: np.ndarray, starts: np.ndarray, known: np.ndarray) -> list[int]:
    """Records where two keys of one object look alike, or with a name not known."""
    quotes, key_open, key_close = _keys(buffer)
    if not len(key_close):
        return []
    slot, unknown = _slots(buffer, key_open, key_close, known)
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
