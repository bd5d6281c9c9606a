"""From a request body to one JSON text per record, bounded, without trusting the client.

A client may send one object, an array of objects, or NDJSON, compressed or not, and may
label it loosely: the shape is read from the body itself. Decompression stops one byte
past `max_body_bytes`, so a small compressed body cannot expand into memory it was not
allowed to take. Each record keeps the bytes the client sent (a slice of the body) unless
it spans lines: the lake holds one record per line, so such a record is reformatted onto
one line, its keys, their order and its numbers untouched.
"""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass

import msgspec
import zstandard

__all__ = [
    "ENCODINGS",
    "BodyError",
    "BodyTooLarge",
    "Records",
    "UnsupportedEncoding",
    "decompress",
    "split_records",
]

ENCODINGS = ("identity", "gzip", "x-gzip", "zstd")
"""`Content-Encoding` values the collector decodes."""

_READ_SIZE = 256 * 1024
_BYTE_AT = re.compile(r"\(byte (\d+)\)")
_NDJSON_TYPES = ("application/x-ndjson", "application/ndjson", "application/jsonl")


class BodyError(ValueError):
    """The body cannot be read as records; the message says where and why (400)."""


class BodyTooLarge(ValueError):
    """The body, once decompressed, is larger than allowed (413)."""


class UnsupportedEncoding(ValueError):
    """A `Content-Encoding` the collector does not decode (415)."""


@dataclass
class Records:
    """The records of one body, and the line each starts on when the body was NDJSON."""

    values: list[bytes]
    lines: list[int] | None = None


def decompress(body: bytes, encoding: str, limit: int) -> bytes:
    """The body decoded per `Content-Encoding`; BodyTooLarge past `limit` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding in ("gzip", "x-gzip"):
        return _gunzip(body, limit)
    if encoding == "zstd":
        return _unzstd(body, limit)
    raise UnsupportedEncoding(
        f"Content-Encoding {encoding!r} is not supported; use gzip, zstd or none"
    )


def _gunzip(body: bytes, limit: int) -> bytes:
    out = bytearray()
    rest = body
    try:
        while rest:  # a gzip file may hold several members, one after another
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            pending = rest
            while pending and not inflater.eof:
                out += inflater.decompress(pending, limit + 1 - len(out))
                if len(out) > limit:
                    raise BodyTooLarge(f"the body decompresses to more than {limit} bytes")
                pending = inflater.unconsumed_tail
            if not inflater.eof:
                raise BodyError("the gzip body is truncated")
            rest = inflater.unused_data
    except zlib.error as exc:
        raise BodyError(f"the body is not valid gzip: {exc}") from None
    return bytes(out)


def _unzstd(body: bytes, limit: int) -> bytes:
    out = bytearray()
    try:
        reader = zstandard.ZstdDecompressor().stream_reader(
            io.BytesIO(body), read_across_frames=True
        )
        while chunk := reader.read(min(_READ_SIZE, limit + 1 - len(out))):
            out += chunk
            if len(out) > limit:
                raise BodyTooLarge(f"the body decompresses to more than {limit} bytes")
    except zstandard.ZstdError as exc:
        raise BodyError(f"the body is not valid zstd: {exc}") from None
    return bytes(out)


def split_records(body: bytes, content_type: str) -> Records:
    """The records of a body: an object, an array of them, or one per line (NDJSON).

    NDJSON is chosen by its content type, or when the body holds one JSON value after
    another; any other body must be exactly one JSON value."""
    text = body.removeprefix(b"\xef\xbb\xbf")  # a byte-order mark some tools write
    stripped = text.lstrip()
    if not stripped:
        raise BodyError("the body is empty: send a JSON object, an array of them, or NDJSON")
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _NDJSON_TYPES and not stripped.startswith(b"["):
        return _lines(text)
    first = stripped[:1]
    if first == b"[":
        try:
            raws = msgspec.json.decode(text, type=list[msgspec.Raw])
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise BodyError(_malformed(text, exc)) from None
        return Records([_one_line(bytes(raw)) for raw in raws])
    if first != b"{":
        raise BodyError(
            "the body must be a JSON object, an array of objects, or NDJSON;"
            f" it starts with {first.decode('latin-1')!r}"
        )
    try:
        raw = msgspec.json.decode(text, type=msgspec.Raw)
    except msgspec.DecodeError as exc:
        if "trailing characters" in str(exc):
            return _lines(text)
        raise BodyError(_malformed(text, exc)) from None
    return Records([_one_line(bytes(raw))])


def _lines(text: bytes) -> Records:
    values: list[bytes] = []
    lines: list[int] = []
    for number, line in enumerate(text.split(b"\n"), start=1):
        record = line.strip()
        if record:
            values.append(record)
            lines.append(number)
    return Records(values, lines)


def _one_line(record: bytes) -> bytes:
    if b"\n" not in record and b"\r" not in record:
        return record
    return msgspec.json.format(record, indent=0)


def _malformed(text: bytes, exc: Exception) -> str:
    """The decoder's complaint, with the byte it names given as line and column."""
    message = str(exc)
    found = _BYTE_AT.search(message)
    if found is None:
        return f"the body is not valid JSON: {message}"
    at = int(found.group(1))
    line = text.count(b"\n", 0, at) + 1
    column = at - (text.rfind(b"\n", 0, at) + 1) + 1
    reason = message[: found.start()].strip().removeprefix("JSON is malformed:").strip()
    return f"the body is not valid JSON at line {line}, column {column}: {reason}"
