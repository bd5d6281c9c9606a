"""The format of the raw and quarantine zones' files: names, encoding, records.

The stream job writes these files and the ETL and `bdp status` read them; the lake
owns the format so that all of them agree on it. A file's name carries the bus
partition and the offset range of the batch it came from
(`part-<partition>-<first>-<last>`), zero-padded so names sort in offset order. Every
file a batch produces has the same name, one per date directory, so re-landing a
batch after a crash rewrites the same files instead of adding new ones.

Compaction (`bdp.lake.compaction`) merges a day's small files of one bus partition into
a file named after the range they cover, `part-<partition>-<first>-<last>-merged`; the
batches it holds are listed in its own manifest (`bdp.lake.manifests`).

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
    "LinesEncoder",
    "RawFileError",
    "batch_name",
    "batch_stem",
    "count_lines",
    "decode_body",
    "decode_lines",
    "encode_lines",
    "merged_name",
    "merged_stem",
    "quarantine_line",
    "raw_file_name",
    "stem_range",
]

EXTENSIONS = {"zstd": ".jsonl.zst", "gzip": ".jsonl.gz", "none": ".jsonl"}
RAW_SUFFIXES = tuple(EXTENSIONS.values())
"""Record files; anything else in a zone's partition (markers, checksums) is ignored."""
_BATCH_NAME = re.compile(r"part-\d{5,}-\d{20,}-\d{20,}")
MERGED = "-merged"
_MERGED_NAME = re.compile(rf"part-\d{{5,}}-\d{{20,}}-\d{{20,}}{MERGED}")
_RANGE = re.compile(r"part-(\d{5,})-(\d{20,})-(\d{20,})")


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


def merged_stem(partition: int, first: int, last: int) -> str:
    """What a file merging batches of `partition` from `first` to `last` is named after."""
    return f"{batch_stem(partition, first, last)}{MERGED}"


def batch_name(path: str) -> str | None:
    """The `batch_stem` of the batch a landed file came from, or None for a file not
    named by the stream job (a merged file among them)."""
    stem = _stem(path)
    return stem if stem is not None and _BATCH_NAME.fullmatch(stem) else None


def merged_name(path: str) -> str | None:
    """The `merged_stem` of a file compaction wrote, or None for any other file."""
    stem = _stem(path)
    return stem if stem is not None and _MERGED_NAME.fullmatch(stem) else None


def stem_range(stem: str) -> tuple[int, int, int]:
    """(partition, first, last) of a batch's or a merged file's stem."""
    found = _RANGE.match(stem)
    if found is None:
        raise ValueError(f"{stem!r} is not named after an offset range")
    partition, first, last = found.groups()
    return int(partition), int(first), int(last)


def _stem(path: str) -> str | None:
    name = posixpath.basename(path)
    for suffix in RAW_SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
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


class LinesEncoder:
    """Encodes the bodies of several files (as `decode_body` gives them) into one file,
    as `encode_lines` would encode all their lines, without holding them all at once:
    one zstd frame (with its checksum) or one gzip member."""

    def __init__(self, compression: str) -> None:
        self.compression = compression
        self._parts: list[bytes] = []
        self._zstd = (
            zstandard.ZstdCompressor(level=3, write_checksum=True).compressobj()
            if compression == "zstd"
            else None
        )
        # wbits 31: a gzip header and trailer, as `gzip.compress` writes.
        self._gzip = zlib.compressobj(6, zlib.DEFLATED, 31) if compression == "gzip" else None

    def write(self, body: bytes) -> None:
        """Append whole records: `body` is empty or ends with a line end."""
        if body and not body.endswith(b"\n"):
            raise ValueError("a body must end with a line end")
        if self._zstd is not None:
            self._parts.append(self._zstd.compress(body))
        elif self._gzip is not None:
            self._parts.append(self._gzip.compress(body))
        else:
            self._parts.append(body)

    def finish(self) -> bytes:
        if self._zstd is not None:
            self._parts.append(self._zstd.flush())
        elif self._gzip is not None:
            self._parts.append(self._gzip.flush())
        return b"".join(self._parts)


def decode_lines(data: bytes, name: str) -> list[bytes]:
    """The records of a landed file (the inverse of `encode_lines`)."""
    return _body(data, name).splitlines()


def decode_body(data: bytes, name: str) -> bytes:
    """The records of a landed file as one block of JSON lines, checked whole."""
    return _body(data, name)


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
