"""`POST /v1/events/<dataset>`: a request's records, all valid and durable, or none.

The order of the checks is the order of their cost: who asks (a token), what they declare
(the idempotency key, the encoding, the length), then the body, read against a deadline
and a byte limit, decoded, split and validated exactly as the stream job validates, so a
record accepted here is one the stream job lands, not quarantines. A request with an
invalid record writes nothing: the client fixes it and sends the whole request again, with
no way to half-land a batch. The answer 200 is sent only after `Ingest.send` returns, when
the bus holds every record durably.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import HttpVersion11, web
from aiohttp.http_exceptions import HttpProcessingError

from bdp.collect.base import Backpressure, Collected, IngestUnavailable
from bdp.collect.http.auth import Access, Tokens
from bdp.collect.http.body import (
    BodyError,
    BodyTooLarge,
    UnsupportedEncoding,
    decompress,
    split_records,
)
from bdp.collect.http.openapi import MAX_LISTED_REJECTIONS
from bdp.collect.ingest import Ingest
from bdp.collect.keys import read_field
from bdp.config import Settings
from bdp.datasets import Dataset
from bdp.errors import BdpError
from bdp.stream.validate import validate_batch

__all__ = ["EventsEndpoint", "json_answer"]

LOG = logging.getLogger("bdp.collect")

MAX_IDEMPOTENCY_KEY = 200
_INLINE_BYTES = 64 * 1024
"""Bodies up to this size are checked on the event loop; larger ones in a thread, so
one big request does not stall every other connection."""


def json_answer(status: int, payload: Any, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        status=status,
        body=msgspec.json.encode(payload),
        content_type="application/json",
        headers=headers,
    )


class Refusal(Exception):
    """A request answered with an error before its records reach the bus."""

    def __init__(
        self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(payload.get("error", ""))
        self.status, self.payload, self.headers = status, payload, headers
        self.close = False
        """Close the connection after the answer: the body was not read to its end."""

    def answer(self) -> web.Response:
        response = json_answer(self.status, self.payload, self.headers)
        if self.close:
            response.force_close()
        return response


def _refusal(status: int, message: str, headers: dict[str, str] | None = None) -> Refusal:
    return Refusal(status, {"error": message}, headers)


@dataclass
class Outcome:
    """What a request did, for the log line."""

    status: int
    records: int = 0
    body_bytes: int = 0


class EventsEndpoint:
    def __init__(self, settings: Settings, ingest: Ingest, tokens: Tokens) -> None:
        self.settings = settings
        self.ingest = ingest
        self.tokens = tokens
        self.limit = settings.collect.http.max_body_bytes
        self.request_timeout = settings.collect.http.request_timeout_seconds

    async def post(
        self, request: web.BaseRequest, dataset: Dataset
    ) -> tuple[web.Response, Outcome]:
        deadline = asyncio.get_running_loop().time() + self.request_timeout
        outcome = Outcome(status=200)
        try:
            self._authorise(request, dataset)
            key = _idempotency_key(request.headers.get("Idempotency-Key"))
            encoding = request.headers.get("Content-Encoding", "")
            declared = request.content_length
            if declared is not None and declared > self.limit:
                raise _closing(413, f"the body is {declared} bytes; the limit is {self.limit}")
            await _continue(request)
            body = await self._read(request, deadline)
            outcome.body_bytes = len(body)
            collected = await self._checked(dataset, body, encoding, request.content_type, key)
            outcome.records = len(collected)
            collected.source = f"http {request.remote or ''}".strip()
            await self._send(collected)
        except Refusal as refusal:
            outcome.status = refusal.status
            return refusal.answer(), outcome
        return json_answer(200, {"accepted": len(collected)}), outcome

    def _authorise(self, request: web.BaseRequest, dataset: Dataset) -> None:
        access = self.tokens.check(dataset.name, request.headers.get("Authorization"))
        if access is Access.UNAUTHENTICATED:
            raise _refusal(
                401,
                f"dataset {dataset.name!r} needs a bearer token: Authorization: Bearer <token>",
                {"WWW-Authenticate": 'Bearer realm="bdp"'},
            )
        if access is Access.FORBIDDEN:
            raise _refusal(403, f"the token is not one of dataset {dataset.name!r}")

    async def _read(self, request: web.BaseRequest, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            async with asyncio.timeout_at(deadline):
                while chunk := await request.content.readany():
                    size += len(chunk)
                    if size > self.limit:
                        raise _closing(413, f"the body is over the limit of {self.limit} bytes")
                    chunks.append(chunk)
        except TimeoutError:
            raise _closing(
                408,
                f"the request took over {self.request_timeout:g} seconds to arrive"
                " (collect.http.request_timeout_seconds)",
            ) from None
        except HttpProcessingError as exc:
            raise _closing(400, f"the body is not valid HTTP: {exc.message}") from None
        return b"".join(chunks)

    async def _checked(
        self, dataset: Dataset, body: bytes, encoding: str, content_type: str, key: bytes | None
    ) -> Collected:
        if len(body) <= _INLINE_BYTES and encoding in ("", "identity"):
            return self._collect(dataset, body, encoding, content_type, key)
        return await asyncio.to_thread(self._collect, dataset, body, encoding, content_type, key)

    def _collect(
        self, dataset: Dataset, body: bytes, encoding: str, content_type: str, key: bytes | None
    ) -> Collected:
        """The body's records, checked and keyed; a Refusal if any is not acceptable."""
        try:
            records = split_records(decompress(body, encoding, self.limit), content_type)
        except UnsupportedEncoding as exc:
            raise _refusal(415, str(exc)) from None
        except BodyTooLarge as exc:
            raise _refusal(413, str(exc)) from None
        except BodyError as exc:
            raise _refusal(400, str(exc)) from None
        values = records.values
        stream = self.settings.stream
        checked = validate_batch(
            dataset, values, stream.max_record_bytes, self.settings.tz, stream.max_nesting_depth
        )
        if checked.rejected:
            raise _invalid(checked.rejected, len(values), records.lines)
        return Collected(
            dataset,
            values,
            partition_keys=read_field(values, dataset.key_field)
            if values and dataset.key_field
            else None,
            ids=_ids(dataset, values, key),
        )

    async def _send(self, collected: Collected) -> None:
        try:
            await self.ingest.send(collected)
        except Backpressure as exc:
            raise _refusal(429, str(exc), _retry_after(exc.retry_after_seconds)) from None
        except IngestUnavailable as exc:
            raise _refusal(503, str(exc), _retry_after(exc.retry_after_seconds)) from None
        except BdpError as exc:  # the bus refused the records themselves
            raise _refusal(400, f"the bus refused the records: {exc}") from None


async def _continue(request: web.BaseRequest) -> None:
    """Tell a client that waits for leave (`Expect: 100-continue`, as curl sends before a
    large body) to send its body: the request passed every check made before reading it."""
    expect = request.headers.get("Expect", "")
    if request.version == HttpVersion11 and expect.lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the answer itself has not begun


def _closing(status: int, message: str) -> Refusal:
    refusal = _refusal(status, message)
    refusal.close = True
    return refusal


def _idempotency_key(header: str | None) -> bytes | None:
    if header is None:
        return None
    if not 0 < len(header) <= MAX_IDEMPOTENCY_KEY or not all(" " <= c <= "~" for c in header):
        raise _refusal(
            400,
            f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters",
        )
    return header.encode("ascii")


def _ids(dataset: Dataset, values: list[bytes], key: bytes | None) -> list[bytes | None] | None:
    """Each record's idempotency id: from the request's key, else from the dataset's id
    field, else none."""
    if key is not None:
        return [b"h:" + key + b":" + str(index).encode() for index in range(len(values))]
    id_field: str | None = getattr(dataset, "id_field", None)
    if not id_field or not values:
        return None
    found = read_field(values, id_field)
    if all(value is None for value in found):
        return None
    return [None if value is None else b"f:" + value for value in found]


def _invalid(rejected: list[Any], total: int, lines: list[int] | None) -> Refusal:
    listed = []
    for rejection in rejected[:MAX_LISTED_REJECTIONS]:
        entry: dict[str, Any] = {"index": rejection.index}
        if lines is not None:
            entry["line"] = lines[rejection.index]
        entry["reason"] = rejection.reason
        entry["detail"] = rejection.detail
        listed.append(entry)
    invalid = len({rejection.index for rejection in rejected})
    message = f"{invalid} of {total} records are invalid; nothing was written"
    return Refusal(400, {"error": message, "rejected": invalid, "records": listed})


def _retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
