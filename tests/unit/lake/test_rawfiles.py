"""The raw zone's file format: records read back whole, or an error naming the file."""

from __future__ import annotations

import pytest

from bdp.lake.rawfiles import (
    EXTENSIONS,
    LinesEncoder,
    RawFileError,
    batch_name,
    batch_stem,
    count_lines,
    decode_body,
    decode_lines,
    encode_lines,
    merged_name,
    merged_stem,
    raw_file_name,
    stem_range,
)

LINES = [b'{"n":%d,"pad":"%s"}' % (i, b"x" * (i % 50)) for i in range(5000)]


@pytest.mark.parametrize("compression", sorted(EXTENSIONS))
def test_encoded_lines_decode_and_count_back(compression: str) -> None:
    name = raw_file_name(0, 0, len(LINES) - 1, compression)
    data = encode_lines(LINES, compression)
    assert decode_lines(data, name) == LINES
    assert count_lines(data, name) == len(LINES)


@pytest.mark.parametrize("compression", sorted(EXTENSIONS))
def test_a_file_cut_short_is_an_error_naming_it_not_fewer_records(compression: str) -> None:
    name = f"raw/weblogs/dt=2024-04-16/{raw_file_name(0, 0, len(LINES) - 1, compression)}"
    data = encode_lines(LINES, compression)
    for size in (0, len(data) // 2, len(data) - 1):
        if compression == "none" and size == 0:
            continue  # an empty plain file is a file of no records
        with pytest.raises(RawFileError, match=r"cannot be decompressed|cut short") as caught:
            count_lines(data[:size], name)
        assert caught.value.path == name
        with pytest.raises(RawFileError):
            decode_lines(data[:size], name)


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_damage_inside_a_compressed_file_is_caught_by_its_checksum(compression: str) -> None:
    name = raw_file_name(0, 0, len(LINES) - 1, compression)
    damaged = bytearray(encode_lines(LINES, compression))
    damaged[len(damaged) // 2] ^= 0x55
    with pytest.raises(RawFileError, match="cannot be decompressed"):
        count_lines(bytes(damaged), name)


def test_files_of_several_zstd_frames_are_read_whole() -> None:
    data = encode_lines(LINES[:10], "zstd") + encode_lines(LINES[10:20], "zstd")
    assert decode_lines(data, "part.jsonl.zst") == LINES[:20]


def test_batch_name_is_the_offset_range_of_a_landed_file() -> None:
    name = raw_file_name(3, 10, 20, "gzip")
    assert batch_name(f"quarantine/adlogs/dt=2024-04-16/{name}") == name.removesuffix(".jsonl.gz")
    assert batch_name("raw/adlogs/dt=2024-04-16/part-0-1-2.jsonl") is None
    assert batch_name(f"raw/adlogs/dt=2024-04-16/{name}.crc") is None


@pytest.mark.parametrize("compression", sorted(EXTENSIONS))
def test_bodies_encoded_together_read_as_one_file(compression: str) -> None:
    name = f"part.{EXTENSIONS[compression]}"
    encoder = LinesEncoder(compression)
    for start in range(0, len(LINES), 700):
        part = encode_lines(LINES[start : start + 700], compression)
        encoder.write(decode_body(part, name))
    data = encoder.finish()
    assert decode_lines(data, name) == LINES
    with pytest.raises(ValueError, match="line end"):
        LinesEncoder(compression).write(b'{"cut": 1}')


def test_a_merged_file_is_named_after_the_range_it_covers() -> None:
    stem = merged_stem(3, 10, 2000)
    path = f"raw/adlogs/dt=2024-04-16/{stem}.jsonl.zst"
    assert (merged_name(path), batch_name(path)) == (stem, None)
    assert merged_name(f"raw/adlogs/dt=2024-04-16/{raw_file_name(3, 10, 20, 'zstd')}") is None
    assert stem_range(stem) == (3, 10, 2000) == stem_range(batch_stem(3, 10, 2000))
    with pytest.raises(ValueError, match="offset range"):
        stem_range("other")
