"""The format of the raw and quarantine zones' files: names, encoding, records.

The stream job writes these files and the ETL and `bdp status` read them; the lake
owns the format so that all of them agree on it. A file's name carries the bus
partition and the offset range of the batch it came from
(`part-<partition>-<first>-<last>`), zero-padded so names sort in offset order. Every
file a batch produces has the same name, one per date directory, so re-landing a
batch after a crash rewrites the same files instead of adding new ones.

Reading is strict: a file whose compression is broken or cut short, or whose last
record has no line end, is a `RawFileError` naming the file, never fewer records.
zstd frames carry a checksum, so damage inside a frame is caught as well (gzip has
its own CRC).
"""

from __future__ import annotations

import base64
import gzip
import posixpath
import re
import zlib

import orjson
import zstandard

from bdp.errors import BdpError

__all__ = [
    "EXTENSIONS",
    "RAW_SUFFIXES",
    "RawFileError",
    "batch_name",
    "batch_stem",
    "count_lines",
    "decode_lines",
    "encode_lines",
    "quarantine_line",
    "raw_file_name",
]

EXTENSIONS = {"zstd": ".jsonl.zst", "gzip": ".jsonl.gz", "none": ".jsonl"}
RAW_SUFFIXES = tuple(EXTENSIONS.values())
"""Record files; anything else in a zone's partition (markers, checksums) is ignored."""
_BATCH_NAME = re.compile(r"part-\d{5,}-\d{20,}-\d{20,}")


class RawFileError(BdpError):
    """A landed file that cannot be read whole, or that differs from what was landed."""

    def __init__(self, path: str, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"{path}: {reason}")


def batch_stem(partition: int, first: int, last: int) -> str:
    """`part-<partition>-<first>-<last>`: what every file of one batch is named after."""
    return f"part-{partition:05d}-{first:020d}-{last:020d}"


def raw_file_name(partition: int, first: int, last: int, compression: str) -> str:
    return f"{batch_stem(partition, first, last)}{EXTENSIONS[compression]}"


def batch_name(path: str) -> str | None:
    """The `batch_stem` of the batch a landed file came from, or None for a file not
    named by the stream job."""
    name = posixpath.basename(path)
    for suffix in RAW_SUFFIXES:
        if name.endswith(suffix):
            stem = name.removesuffix(suffix)
            return stem if _BATCH_NAME.fullmatch(stem) else None
    return None


def encode_lines(lines: list[bytes], compression: str) -> bytes:
    body = b"\n".join(lines) + b"\n"
    if body.count(b"\n") != len(lines) or b"\r" in body:
        # A valid JSON record can only hold a raw line break as whitespace between
        # tokens, so a space in its place keeps the meaning and the file one per line.
        body = b"\n".join(line.replace(b"\r", b" ").replace(b"\n", b" ") for line in lines)
        body += b"\n"
    if compression == "zstd":
        return zstandard.ZstdCompressor(level=1, write_checksum=True).compress(body)
    if compression == "gzip":
        return gzip.compress(body, compresslevel=1)
    return body


def decode_lines(data: bytes, name: str) -> list[bytes]:
    """The records of a landed file (the inverse of `encode_lines`)."""
    return _body(data, name).splitlines()


def count_lines(data: bytes, name: str) -> int:
    """How many records a landed file holds, without splitting it."""
    return _body(data, name).count(b"\n")


def _body(data: bytes, name: str) -> bytes:
    """The JSON lines of the file `name` holding `data`, checked whole."""
    try:
        if name.endswith(".zst"):
            body = _unzstd(data)
        elif name.endswith(".gz"):
            if not data:
                raise EOFError("empty file")
            body = gzip.decompress(data)
        else:
            body = data
    except (zstandard.ZstdError, OSError, EOFError, zlib.error) as exc:
        raise RawFileError(name, f"cannot be decompressed ({exc})") from None
    if body and not body.endswith(b"\n"):
        raise RawFileError(name, "ends in the middle of a record (cut short)")
    return body


def _unzstd(data: bytes) -> bytes:
    """Every frame of `data`, each one complete; a frame cut short is an error (the
    streaming decompressor alone would return what it had)."""
    if not data:
        raise zstandard.ZstdError("empty file")
    parts, rest = [], data
    while rest:
        frame = zstandard.ZstdDecompressor().decompressobj()
        parts.append(frame.decompress(rest))
        if not frame.eof:
            raise zstandard.ZstdError("the data ends inside a frame")
        rest = frame.unused_data
    return b"".join(parts)


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
