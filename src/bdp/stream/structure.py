"""What a record's JSON structure hides from a schema decoder: its nesting depth, and
keys an object repeats.

A record nested deeper than the limit is refused: decoders and the ETL's JSON readers
recurse, and each has its own limit. Only a record holding keys its schema lacks can
nest deeper than the schema, so only those are measured. A repeated key is valid JSON
that readers disagree on (the validator and Spark keep the last value, DuckDB refuses
the record), so a record that repeats one never reaches the lake.

Both are found for a whole batch at once, with numpy over the records joined into one
buffer. The depth of a record cannot exceed the number of brackets it opens, so only a
record opening more than the limit is measured exactly. A key ends where a quote stands
right before a colon; each is fingerprinted by its last eight bytes and its length and
matched to the raw schema's names. A record that names one twice, or holds a name the
schema lacks, is checked exactly with a plain parser; so is one with an escaped quote.
Where the schema declares a name in two objects, keys are first told apart by object
(the last brace opened at their depth), which quotes paired up locate.
"""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["Joined", "KeyScan", "duplicate_keys", "nesting_depth", "scan_keys", "too_deep"]

_QUOTE, _BACKSLASH, _COLON = 0x22, 0x5C, 0x3A
_BRACKET_BITS = 0xDF
"""`{` and `[` (and `}` and `]`) differ only in bit 0x20, which no other byte pairs
with them: masked out, one comparison finds either bracket of a kind."""
_OPEN_MASKED, _CLOSE_MASKED = 0x5B, 0x5D
_BRACE_BITS, _BRACE_MASKED = 0xF9, 0x79
"""`{` and `}` masked alike (as are `y` and DEL, told apart after)."""
_WHITESPACE = (0x20, 0x09, 0x0A, 0x0D)
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


@dataclass(frozen=True)
class Joined:
    """Records joined by newlines: as bytes, as a byte array, and where each starts."""

    data: bytes
    buffer: np.ndarray
    starts: np.ndarray

    @classmethod
    def of(
        cls, values: list[bytes], data: bytes | None = None, lengths: np.ndarray | None = None
    ) -> Joined:
        """`data` (the joined bytes) and `lengths` (of the records) when known already."""
        data = b"\n".join(values) if data is None else data
        if lengths is None:
            lengths = np.fromiter(map(len, values), dtype=np.int64, count=len(values))
        starts = np.zeros(len(values), dtype=np.int64)
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
        return cls(data, np.frombuffer(data, dtype=np.uint8), starts)


def too_deep(
    values: list[bytes], limit: int, joined: Joined | None = None
) -> list[tuple[int, int]]:
    """(position, depth) of each record nested deeper than `limit` containers; `joined`
    is `Joined.of(values)` when the caller has it already."""
    if not values:
        return []
    joined = joined or Joined.of(values)
    buffer, starts = joined.buffer, joined.starts
    # Records are joined with a newline, so every position maps to one record.
    opens = np.flatnonzero(_equal(_masked(buffer, _BRACKET_BITS), _OPEN_MASKED))
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


@dataclass(frozen=True)
class KeyScan:
    """What the keys of a batch of records show."""

    repeated: list[tuple[int, str]]
    """(position, key) of each record with an object that repeats a key."""
    strangers: list[int]
    """Records holding a key the raw schema lacks (or that the fast pass could not
    read): only these can nest deeper than the schema does."""


def duplicate_keys(
    values: list[bytes], known: Iterable[str] = (), joined: Joined | None = None
) -> list[tuple[int, str]]:
    """(position, key) of each record with an object that repeats a key."""
    return scan_keys(values, known, joined).repeated


def scan_keys(
    values: list[bytes], known: Iterable[str] = (), joined: Joined | None = None
) -> KeyScan:
    """Repeated keys, and records with keys not `known`.

    `values` must be valid JSON (the decoder has accepted them): the fast pass relies on
    quotes pairing up. `known` are the keys the records normally hold (the raw schema's
    field names, once per object that declares them). `joined` is `Joined.of(values)`
    when the caller has it already."""
    if not values:
        return KeyScan([], [])
    joined = joined or Joined.of(values)
    buffer, starts = joined.buffer, joined.starts
    escaped: list[int] = []
    if b"\\" in joined.data and b'\\"' in joined.data:
        escaped = _escaped_quotes(buffer, starts)
        buffer = buffer.copy()
        ends = [*starts.tolist()[1:], len(buffer) + 1]
        for position in escaped:
            buffer[starts[position] : ends[position] - 1] = 0x20
    names = list(known)
    fingerprints = _known_fingerprints(names)
    if len(set(names)) < len(names) and joined.data.count(b"{") > len(values):
        # A name declared in two objects (`Ad.viewing_time`, `delta.viewing_time`) is
        # held twice by a good record: look at each object on its own.
        suspects, strangers = _repeated_in_objects(buffer, starts, fingerprints)
    else:
        suspects, strangers = _repeated_names(buffer, starts, fingerprints)
        if strangers:
            # Unknown keys: the objects of those records tell a repeat from a namesake.
            sub = Joined.of([values[position] for position in strangers])
            again, _ = _repeated_in_objects(sub.buffer, sub.starts, fingerprints)
            suspects = sorted({*suspects, *(strangers[position] for position in again)})
    found = []
    for position in sorted({*escaped, *suspects}):
        key = _repeated_key(values[position])
        if key is not None:
            found.append((position, key))
    return KeyScan(found, sorted({*escaped, *strangers}))


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


def _repeated_names(
    buffer: np.ndarray, starts: np.ndarray, known: np.ndarray
) -> tuple[list[int], list[int]]:
    """Records holding a known name twice (in one object or two), and records holding a
    name not known."""
    # A quote right before a colon closes a key (inside text a quote is escaped, and
    # records with escaped quotes are not looked at here). A key with space before its
    # colon is found by pairing quotes, in the few records with space before a colon.
    colons = np.flatnonzero(_equal(buffer, _COLON))
    before = buffer[np.maximum(colons - 1, 0)]
    key_close = colons[before == _QUOTE] - 1
    # JSON text holds no raw control character, so a byte up to 0x20 is whitespace.
    spaced = colons[before <= 0x20]
    odd = np.unique(np.searchsorted(starts, spaced, side="right") - 1)
    repeated, strangers = _repeated_runs(buffer, starts, key_close, known)
    if len(odd):
        ends = np.append(starts[1:] - 1, len(buffer))
        sub = Joined.of([buffer[starts[i] : ends[i]].tobytes() for i in odd.tolist()])
        _, sub_close = _keys(sub.buffer)
        again, odd_strangers = _repeated_runs(sub.buffer, sub.starts, sub_close, known)
        odd_set = set(odd.tolist())
        repeated = [i for i in repeated if i not in odd_set] + odd[again].tolist()
        strangers = [i for i in strangers if i not in odd_set] + odd[odd_strangers].tolist()
    return sorted(repeated), sorted(strangers)


def _repeated_runs(
    buffer: np.ndarray, starts: np.ndarray, key_close: np.ndarray, known: np.ndarray
) -> tuple[list[int], list[int]]:
    if not len(key_close):
        return [], []
    if len(known) > 63:  # one bit per name does not fit: every record is a stranger
        return [], list(range(len(starts)))
    slot, unknown = _slots(buffer, key_close, known)
    # Keys come in buffer order, so each record's keys are one run: OR their name bits,
    # and a record whose run is longer than its distinct bits holds a name twice.
    first = np.searchsorted(key_close, starts)
    counts = np.diff(first, append=len(key_close))
    held = np.flatnonzero(counts > 0)
    names = np.bitwise_or.reduceat(np.left_shift(np.int64(1), slot), first[held])
    strangers = np.unique(np.searchsorted(starts, key_close[unknown], side="right") - 1)
    # An unknown key counted as the name its slot points at is no repeat of it.
    repeated = held[np.bitwise_count(names) < counts[held]]
    return np.setdiff1d(repeated, strangers).tolist(), strangers.tolist()


_SCRATCH = threading.local()


def _scratch(name: str, size: int, dtype: type) -> np.ndarray:
    """A per-thread work array reused across batches: a fresh one of the batch's size
    costs more (its pages are zeroed by the system) than the comparison written into it."""
    array = getattr(_SCRATCH, name, None)
    if array is None or len(array) < size:
        array = np.empty(max(size, 1 << 20), dtype=dtype)
        setattr(_SCRATCH, name, array)
    return array[:size]


def _masked(buffer: np.ndarray, bits: int) -> np.ndarray:
    masked: np.ndarray = np.bitwise_and(buffer, bits, out=_scratch("masked", len(buffer), np.uint8))
    return masked


def _equal(buffer: np.ndarray, byte: int) -> np.ndarray:
    equal: np.ndarray = np.equal(buffer, byte, out=_scratch("equal", len(buffer), np.bool_))
    return equal


def _escaped_quotes(buffer: np.ndarray, starts: np.ndarray) -> list[int]:
    """Records with a backslash before a quote: inside them a quote may not pair up."""
    escaped = np.flatnonzero((buffer[:-1] == _BACKSLASH) & (buffer[1:] == _QUOTE))
    records: list[int] = np.unique(np.searchsorted(starts, escaped, side="right") - 1).tolist()
    return records


@functools.lru_cache(maxsize=64)
def _known_fingerprints_of(names: tuple[str, ...]) -> np.ndarray:
    texts = [json.dumps(name).encode() for name in names]
    return np.unique(np.array([_fingerprint_of(text) for text in texts], dtype=np.uint64))


def _known_fingerprints(known: Iterable[str]) -> np.ndarray:
    return _known_fingerprints_of(tuple(sorted(set(known))))


_WORD = 8
_LENGTH_MIX = 0x9E3779B97F4A7C15
_LOW_BITS = np.uint64(0x7F7F7F7F7F7F7F7F)
_HIGH_BITS = np.uint64(0x8080808080808080)


def _fingerprint_of(quoted: bytes) -> int:
    """`_fingerprints` of one key, given with its quotes."""
    tail = quoted[1:-1][-_WORD:]
    bits = int.from_bytes(tail, "little") << (8 * (_WORD - len(tail)))
    return (bits ^ (len(tail) * _LENGTH_MIX)) % 2**64


def _fingerprints(buffer: np.ndarray, key_close: np.ndarray) -> np.ndarray:
    """Each key's last 8 bytes (all of a shorter key) and how many they are: equal keys
    always share it, and the names of a raw schema all differ in it (a test holds that).

    Read as one little-endian word ending before the closing quote: the highest quote
    byte in it, if any, is the key's opening quote; it and the bytes below it go."""
    early = key_close < _WORD
    source = buffer if len(buffer) >= _WORD else np.zeros(_WORD, dtype=np.uint8)
    windows = np.ndarray((len(source) - _WORD + 1,), "<u8", source, 0, (1,))
    words = windows[np.maximum(key_close - _WORD, 0)]
    # A byte equal to a quote is zero after the XOR; a zero byte is the one without its
    # high bit after adding 0x7F to its low bits (no carry crosses bytes that way).
    # Operations write in place: these arrays hold a word per key of the batch.
    work = np.bitwise_xor(words, np.uint64(0x2222222222222222))
    quotes = np.bitwise_and(work, _LOW_BITS)
    quotes += _LOW_BITS
    quotes |= work
    np.invert(quotes, out=quotes)
    quotes &= _HIGH_BITS
    # Smear each quote's marker down to every lower byte, then widen markers to bytes.
    for shift in (8, 16, 32):
        np.right_shift(quotes, np.uint64(shift), out=work)
        quotes |= work
    lengths = np.bitwise_count(quotes).astype(np.uint64)
    np.right_shift(quotes, np.uint64(7), out=work)
    work *= np.uint64(0xFF)
    np.invert(work, out=work)
    words &= work
    np.subtract(np.uint64(_WORD), lengths, out=lengths)
    lengths *= np.uint64(_LENGTH_MIX)
    prints: np.ndarray = np.bitwise_xor(words, lengths, out=words)
    for index in np.flatnonzero(early).tolist():  # a key at the very start of the batch
        close = int(key_close[index])
        opening = buffer[:close].tobytes().rfind(b'"')
        prints[index] = _fingerprint_of(buffer[opening : close + 1].tobytes())
    return prints


def _repeated_in_objects(
    buffer: np.ndarray, starts: np.ndarray, known: np.ndarray
) -> tuple[list[int], list[int]]:
    """Records where two keys of one object look alike, and records holding a name not
    known."""
    quotes, key_close = _keys(buffer)
    if not len(key_close):
        return [], []
    fingerprints = _fingerprints(buffer, key_close)
    objects = _objects(buffer, quotes, key_close)
    # Two keys of one object with one fingerprint: a repeat, or two names alike.
    order = np.lexsort((fingerprints, objects))
    same = (objects[order][1:] == objects[order][:-1]) & (
        fingerprints[order][1:] == fingerprints[order][:-1]
    )
    clashes = key_close[order][1:][same]
    slot = np.minimum(np.searchsorted(known, fingerprints), max(len(known) - 1, 0))
    unknown = known[slot] != fingerprints if len(known) else np.ones(len(slot), dtype=bool)
    records = np.searchsorted(starts, clashes, side="right") - 1
    strangers = np.searchsorted(starts, key_close[unknown], side="right") - 1
    return np.unique(records).tolist(), np.unique(strangers).tolist()


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
    objects: np.ndarray = np.searchsorted(ranked_opens, key_depth * width + key_close)
    return objects


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
