"""Batch frames: round trips, and every kind of damage is refused."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdp.bus.local.frame import HEADER_SIZE, Frame, encode_body, parse_header
from bdp.bus.local.records import Records, concat_records


def frame_bytes(records: Records, base_offset: int = 0) -> bytes:
    body = encode_body(records)
    return body.header(base_offset) + b"".join(bytes(part) for part in body.parts)


def build(values: list[bytes], keys: list[bytes | None] | None = None) -> Records:
    stamps = np.arange(len(values), dtype=np.int64) * 7 - 3
    return Records.build(values, keys, stamps)


@settings(max_examples=60, deadline=None, database=None)
@given(
    st.lists(
        st.tuples(st.binary(max_size=40), st.one_of(st.none(), st.binary(max_size=10))),
        min_size=1,
        max_size=30,
    ),
    st.integers(0, 2**40),
    st.binary(max_size=9),
)
def test_a_frame_round_trips_values_keys_and_timestamps(
    pairs: list[tuple[bytes, bytes | None]], base: int, prefix: bytes
) -> None:
    values = [v for v, _ in pairs]
    keys = [k for _, k in pairs]
    records = build(values, keys)
    buf = prefix + frame_bytes(records, base)
    frame = Frame.verified(buf, len(prefix))
    assert frame is not None
    assert frame.header.base_offset == base
    assert frame.header.count == len(values)
    assert frame.header.max_timestamp_ms == int(records.timestamps.max())
    assert frame.values(0, len(values)) == values
    assert frame.keys(0, len(values)) == keys
    assert frame.timestamps.tolist() == records.timestamps.tolist()
    middle = len(values) // 2
    assert frame.values(middle, len(values)) == values[middle:]
    assert frame.keys(middle, len(values)) == keys[middle:]


def test_frames_without_keys_return_none_keys() -> None:
    frame = Frame.verified(frame_bytes(build([b"a", b"", b"ccc"])), 0)
    assert frame is not None
    assert frame.values(0, 3) == [b"a", b"", b"ccc"]
    assert frame.keys(0, 3) == [None, None, None]


def test_any_damaged_byte_is_detected() -> None:
    good = frame_bytes(build([b"alpha", b"beta"], [b"k", None]), 5)
    assert Frame.verified(good, 0) is not None
    for i in range(len(good)):
        damaged = bytearray(good)
        damaged[i] ^= 0x5A
        assert Frame.verified(bytes(damaged), 0) is None, f"byte {i} not covered"


def test_a_truncated_frame_is_never_accepted() -> None:
    good = frame_bytes(build([b"x" * 50, b"y" * 50]))
    for length in range(len(good)):
        assert Frame.verified(good[:length], 0) is None
    assert parse_header(good[: HEADER_SIZE - 1]) is None


def test_arrow_arrays_encode_exactly_like_lists() -> None:
    values = [b"one", b"", b"three", b"four" * 10, b"5"]
    stamps = np.arange(5, dtype=np.int64)
    expected = frame_bytes(Records.build(values, None, stamps))
    for array in (
        pa.array(values, pa.binary()),
        pa.array(values, pa.large_binary()),
        pa.chunked_array([values[:2], values[2:]], pa.binary()),
    ):
        assert frame_bytes(Records.build(array, None, stamps)) == expected
    sliced = pa.array([b"skip", *values], pa.binary()).slice(1)
    assert frame_bytes(Records.build(sliced, None, stamps)) == expected


def test_arrow_nulls_and_non_binary_arrays_are_refused() -> None:
    stamps = np.zeros(2, np.int64)
    with pytest.raises(ValueError, match="nulls"):
        Records.build(pa.array([b"a", None], pa.binary()), None, stamps)
    with pytest.raises(ValueError, match="binary"):
        Records.build(pa.array([1, 2]), None, stamps)


def test_non_bytes_values_are_refused() -> None:
    with pytest.raises(ValueError, match="bytes"):
        Records.build([b"ok", "text"], None, np.zeros(2, np.int64))


def test_split_keeps_every_record_in_order() -> None:
    values = [bytes([i % 256]) * (i % 17 + 1) for i in range(200)]
    keys: list[bytes | None] = [None if i % 3 else b"k%d" % i for i in range(200)]
    records = build(values, keys)
    pieces = records.split(100)
    assert len(pieces) > 5
    for piece in pieces:
        assert len(piece) == 1 or len(piece.data) <= 100
    joined = concat_records(pieces)
    assert bytes(joined.data) == bytes(records.data)
    assert joined.lengths.tolist() == records.lengths.tolist()
    assert joined.timestamps.tolist() == records.timestamps.tolist()
    assert joined.keys == keys


def test_split_lets_a_record_larger_than_the_limit_through_alone() -> None:
    pieces = build([b"a", b"b" * 500, b"c"]).split(10)
    assert [len(piece) for piece in pieces] == [1, 1, 1]
    assert bytes(pieces[1].data) == b"b" * 500
