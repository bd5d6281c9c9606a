"""The HTTP collector: a bounded aiohttp server in front of `Ingest`.

Bounds are what keep one process serving many clients: at most `max_connections` at once
(one more is answered 503 and closed), a whole request within `request_timeout_seconds`
(a client trickling its body is cut off), an idle keep-alive connection closed after
`idle_timeout_seconds` (which also ends a client that never finishes its headers), and
aiohttp's limits on header sizes. Every answer is JSON; an unforeseen failure is logged
once with its traceback and answered 500, and the server goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import msgspec
from aiohttp import web

from bdp.collect.base import Collector, find_dataset
from bdp.collect.http.auth import Tokens, is_loopback
from bdp.collect.http.events import EventsEndpoint, Outcome, json_answer
from bdp.collect.http.openapi import openapi_document
from bdp.collect.ingest import Ingest
from bdp.config import Settings
from bdp.datasets import Dataset, load_datasets
from bdp.errors import BdpError, UnknownNameError
from bdp.logs import fields

__all__ = ["HealthReport", "HttpCollector"]

LOG = logging.getLogger("bdp.collect")

EVENTS_PREFIX = "/v1/events/"
STATS_INTERVAL_SECONDS = 60.0
_LINGER_SECONDS = 2.0
"""How long the rest of a refused body is read (then dropped) so the client sees the
answer rather than a reset."""


class HealthReport(Protocol):
    """What `bdp serve` knows of its own health, for `/readyz`."""

    @property
    def ready(self) -> bool: ...

    @property
    def reasons(self) -> Sequence[str]: ...


class HttpCollector(Collector):
    name = "http"

    def __init__(
        self,
        settings: Settings,
        ingest: Ingest,
        health: Callable[[], HealthReport] | None = None,
    ) -> None:
        self.settings = settings
        self.ingest = ingest
        self.health = health
        http = settings.collect.http
        self.tokens = Tokens(http.tokens, loopback_only=is_loopback(http.host))
        self.events = EventsEndpoint(settings, ingest, self.tokens)
        self._server: asyncio.Server | None = None
        self._web: _BoundedServer | None = None
        self._port: int | None = None
        self._stopping = False
        self._stats_task: asyncio.Task[None] | None = None
        self._counts: Counter[str] = Counter()
        self._openapi: bytes | None = None

    # -- the Collector interface ---------------------------------------------------------

    async def start(self) -> None:
        http = self.settings.collect.http
        if self.tokens.loopback_only is False and not self.tokens.configured:
            raise BdpError(
                f"collect.http.host is {http.host!r}, beyond loopback, and no token is"
                " configured: any client could post records. Set collect.http.tokens, or"
                " listen on 127.0.0.1"
            )
        for name in http.tokens:
            try:
                find_dataset(self.settings, name)
            except UnknownNameError as exc:
                raise BdpError(f"collect.http.tokens: {exc}") from None
        self._web = _BoundedServer(
            self._dispatch,
            max_connections=http.max_connections,
            keepalive_timeout=http.idle_timeout_seconds,
            lingering_time=min(_LINGER_SECONDS, http.request_timeout_seconds),
            access_log=None,
            # The body is decompressed here, bounded: aiohttp's own would not be.
            auto_decompress=False,
        )
        try:
            self._server = await asyncio.get_running_loop().create_server(
                self._web, http.host, http.port, reuse_address=True
            )
        except OSError as exc:
            raise BdpError(
                f"the HTTP collector cannot listen on {http.host}:{http.port}:"
                f" {exc.strerror or exc}"
            ) from None
        self._port = self._server.sockets[0].getsockname()[1]
        self._stats_task = asyncio.create_task(self._log_counts(), name="bdp-http-stats")
        LOG.info("listening %s", fields(collector=self.name, address=self.address))

    async def stop(self, drain_timeout_seconds: float) -> None:
        self._stopping = True
        if self._server is not None:
            self._server.close()
        if self._web is not None:
            # Close idle keep-alive connections at once (`shutdown` alone would wait the
            # whole drain time for their next request); let requests in flight finish.
            self._web.pre_shutdown()
            await self._web.shutdown(drain_timeout_seconds)
        if self._stats_task is not None:
            self._stats_task.cancel()
        self._log_counts_now()
        LOG.info("stopped %s", fields(collector=self.name, address=self.address))

    @property
    def ready(self) -> bool:
        return self._server is not None and not self._stopping and self.ingest.healthy

    @property
    def port(self) -> int:
        return self._port if self._port is not None else self.settings.collect.http.port

    @property
    def address(self) -> str:
        host = self.settings.collect.http.host
        return f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"

    # -- requests ------------------------------------------------------------------------

    async def _dispatch(self, request: web.BaseRequest) -> web.StreamResponse:
        began = time.perf_counter()
        outcome = Outcome(status=500)
        try:
            response, outcome = await self._route(request)
        except ConnectionError:  # the client went away mid-request
            outcome.status = 499
            response = json_answer(400, {"error": "the connection was lost"})
        except Exception:
            LOG.exception("unforeseen failure %s", fields(method=request.method, path=request.path))
            response = json_answer(500, {"error": "an unforeseen failure; the server logged it"})
        self._counts["requests"] += 1
        self._counts[f"status_{outcome.status}"] += 1
        if outcome.status == 200:
            self._counts["records"] += outcome.records
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug(
                "request %s",
                fields(
                    method=request.method,
                    path=request.path,
                    remote=request.remote or "",
                    status=outcome.status,
                    records=outcome.records,
                    bytes=outcome.body_bytes,
                    seconds=time.perf_counter() - began,
                ),
            )
        return response

    async def _route(self, request: web.BaseRequest) -> tuple[web.Response, Outcome]:
        path = request.path
        if path.startswith(EVENTS_PREFIX):
            dataset = self._dataset(path[len(EVENTS_PREFIX) :])
            if isinstance(dataset, web.Response):
                return dataset, Outcome(404)
            if request.method != "POST":
                return _wrong_method("POST"), Outcome(405)
            return await self.events.post(request, dataset)
        probe = {"/healthz": self._healthz, "/readyz": self._readyz, "/openapi.json": self._doc}
        if path in probe:
            if request.method not in ("GET", "HEAD"):
                return _wrong_method("GET, HEAD"), Outcome(405)
            response = probe[path]()
            return response, Outcome(response.status)
        message = f"no such path {path!r}: records go to POST {EVENTS_PREFIX}<dataset>"
        return json_answer(404, {"error": message}), Outcome(404)

    def _dataset(self, name: str) -> Dataset | web.Response:
        try:
            return find_dataset(self.settings, name)
        except UnknownNameError as exc:
            return json_answer(404, {"error": str(exc)})

    def _healthz(self) -> web.Response:
        return json_answer(200, {"status": "ok"})

    def _readyz(self) -> web.Response:
        ready, reasons = self.readiness()
        payload = {"status": "ready" if ready else "not ready", "reasons": reasons}
        return json_answer(200 if ready else 503, payload)

    def readiness(self) -> tuple[bool, list[str]]:
        """Whether to send traffic here, and if not, why."""
        if self._stopping:
            return False, ["the HTTP collector is stopping"]
        if self.health is not None:
            report = self.health()
            return bool(report.ready), [str(reason) for reason in report.reasons]
        if not self.ingest.healthy:
            return False, ["the bus writer is not running"]
        return True, []

    def _doc(self) -> web.Response:
        if self._openapi is None:
            datasets = list(load_datasets(self.settings).values())
            open_ = {d.name for d in datasets if not self.tokens.needs_token(d.name)}
            document = openapi_document(self.settings, datasets, open_)
            self._openapi = msgspec.json.encode(document)
        return web.Response(body=self._openapi, content_type="application/json")

    # -- counts ----------------------------------------------------------------------------

    async def _log_counts(self) -> None:
        while True:
            await asyncio.sleep(STATS_INTERVAL_SECONDS)
            self._log_counts_now()

    def _log_counts_now(self) -> None:
        counts, self._counts = self._counts, Counter()
        if counts:
            LOG.info("http %s", fields(**dict(sorted(counts.items()))))


def _wrong_method(allowed: str) -> web.Response:
    return json_answer(405, {"error": f"method not allowed; use {allowed}"}, {"Allow": allowed})


class _BoundedServer(web.Server):
    """aiohttp's server, refusing connections beyond `max_connections`."""

    def __init__(self, handler: Any, max_connections: int, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.max_connections = max_connections
        self.open_connections = 0

    def __call__(self) -> Any:
        if self.open_connections >= self.max_connections:
            return _Busy()
        self.open_connections += 1
        return super().__call__()

    def connection_lost(self, handler: Any, exc: BaseException | None = None) -> None:
        self.open_connections -= 1
        super().connection_lost(handler, exc)


class _Busy(asyncio.Protocol):
    """Answers a connection over the limit with 503 and closes it."""

    BODY = b'{"error":"too many connections (collect.http.max_connections); retry later"}'
    ANSWER = (
        b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Retry-After: 1\r\nConnection: close\r\nContent-Length: "
        + str(len(BODY)).encode()
        + b"\r\n\r\n"
        + BODY
    )

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(self.ANSWER)
        transport.close()
