"""How the stream job names and encodes the files it lands in the lake.

A file's name carries the bus partition and the offset range of the batch it came
from (`part-<partition>-<first>-<last>`), zero-padded so names sort in offset order.
Every file a batch produces has the same name, one per date directory, so re-landing
a batch after a crash rewrites the same files instead of adding new ones.
"""

from __future__ import annotations

import base64
import gzip

import orjson
import zstandard

__all__ = [
    "EXTENSIONS",
    "count_lines",
    "decode_lines",
    "encode_lines",
    "quarantine_line",
    "raw_file_name",
]

EXTENSIONS = {"zstd": ".jsonl.zst", "gzip": ".jsonl.gz", "none": ".jsonl"}


def raw_file_name(partition: int, first: int, last: int, compression: str) -> str:
    return f"part-{partition:05d}-{first:020d}-{last:020d}{EXTENSIONS[compression]}"


def encode_lines(lines: list[bytes], compression: str) -> bytes:
    body = b"\n".join(lines) + b"\n"
    if body.count(b"\n") != len(lines) or b"\r" in body:
        # A valid JSON record can only hold a raw line break as whitespace between
        # tokens, so a space in its place keeps the meaning and the file one per line.
        body = b"\n".join(line.replace(b"\r", b" ").replace(b"\n", b" ") for line in lines)
        body += b"\n"
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=1).compress(body)
    if compression == "gzip":
        return gzip.compress(body, compresslevel=1)
    return body


def decode_lines(data: bytes, name: str) -> list[bytes]:
    """The records of a landed file (the inverse of `encode_lines`)."""
    if name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    elif name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.splitlines()


def count_lines(data: bytes, name: str) -> int:
    """How many records a landed file holds, without splitting it."""
    if name.endswith(".zst"):
        data = zstandard.ZstdDecompressor().decompressobj().decompress(data)
    elif name.endswith(".gz"):
        data = gzip.decompress(data)
    return data.count(b"\n")


def quarantine_line(
    reason: str,
    detail: str,
    topic: str,
    partition: int,
    offset: int,
    timestamp_ms: int,
    value: bytes,
) -> bytes:
    """One quarantined record: why, where it came from, and its original bytes."""
    return orjson.dumps(
        {
            "reason": reason,
            # Error text can quote a record's broken text; JSON cannot hold a lone surrogate.
            "detail": detail.encode("utf-8", "backslashreplace").decode("utf-8"),
            "topic": topic,
            "partition": partition,
            "offset": offset,
            "bus_timestamp_ms": timestamp_ms,
            "value_b64": base64.b64encode(value).decode("ascii"),
        }
    )
