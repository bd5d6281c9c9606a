"""The forward collector: Fluentd's forward protocol on TCP, acknowledged once durable.

Each connection is read in turn: whatever complete messages one read brings are grouped
per dataset, handed to `Ingest` together (one bus flush for many small messages), and
only once `Ingest.send` returned — the records are durable — is each message that asked
for it (`option.chunk`) answered `{"ack": chunk}`. A client that sends faster than the
bus takes records is slowed by TCP itself: the next read waits for the current landing.

A connection is closed, with one log line saying why, when it sends something that is
not a forward message, exceeds a limit, names a tag no dataset answers to, stays idle
for `idle_timeout_seconds`, or when the bus refuses its records (`IngestUnavailable`,
or `Backpressure` that outlasts `idle_timeout_seconds`). What it sent before that in
complete messages is landed and acknowledged; what follows is not acknowledged, so a
client that asked for acks sends it again. Other connections are not affected.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import time
from dataclasses import dataclass

import msgpack

from bdp.collect.base import Backpressure, Collected, Collector
from bdp.collect.forward.handshake import Handshake
from bdp.collect.forward.protocol import (
    ForwardMessage,
    Limits,
    ProtocolError,
    decode_message,
    new_unpacker,
    pack,
)
from bdp.collect.forward.records import TagRouter, to_collected
from bdp.collect.ingest import Ingest
from bdp.config import Settings
from bdp.datasets import Dataset
from bdp.errors import BdpError
from bdp.logs import fields

__all__ = ["ForwardCollector"]

LOG = logging.getLogger("bdp.collect")

READ_BYTES = 256 * 1024


@dataclass
class _Connection:
    peer: str
    reading: bool = False
    fed: int = 0
    """Bytes read so far."""
    stopped_while_reading: bool = False
    decoded: int = 0
    """Bytes of complete messages so far; what was fed beyond is a message's start."""
    messages: int = 0
    records: int = 0


class _Closed(Exception):
    """Ends a connection; the message is the reason logged."""


class ForwardCollector(Collector):
    """`[collect.forward]`: receives Fluentd forward-protocol clients on TCP."""

    name = "forward"

    def __init__(self, settings: Settings, ingest: Ingest) -> None:
        self.settings = settings
        self.config = settings.collect.forward
        self.ingest = ingest
        self.limits = Limits(self.config.max_message_bytes)
        self.router = TagRouter(settings)
        key = self.config.shared_key
        self._shared_key = key.get_secret_value().encode() if key is not None else None
        self._server: asyncio.Server | None = None
        self._connections: dict[asyncio.Task[None], _Connection] = {}
        self._stopping = False

    # -- Collector ------------------------------------------------------------------------

    async def start(self) -> None:
        host, port = self.config.host, self.config.port
        if self._shared_key is None and not _is_loopback(host):
            raise BdpError(
                f"the forward collector would accept anyone on {host}:{port}:"
                " set [collect.forward] shared_key to listen beyond 127.0.0.1"
            )
        try:
            self._server = await asyncio.start_server(
                self._serve, host, port, limit=READ_BYTES, reuse_address=True
            )
        except OSError as exc:
            raise BdpError(
                f"the forward collector cannot listen on {host}:{port}: {exc.strerror or exc}"
            ) from None
        LOG.info(
            "listening %s",
            fields(
                collector=self.name, address=self.address, handshake=self._shared_key is not None
            ),
        )

    async def stop(self, drain_timeout_seconds: float) -> None:
        """Stop listening; connections waiting for input close at once, those landing
        records finish (and acknowledge) within the timeout, then the rest are cut."""
        self._stopping = True
        if self._server is not None:
            self._server.close()
        for task, connection in list(self._connections.items()):
            if connection.reading:
                connection.stopped_while_reading = True
                task.cancel()
        pending = set(self._connections)
        if pending:
            _, pending = await asyncio.wait(pending, timeout=drain_timeout_seconds)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        LOG.info("stopped %s", fields(collector=self.name, address=self.address, cut=len(pending)))

    @property
    def ready(self) -> bool:
        return (
            self._server is not None
            and self._server.is_serving()
            and not self._stopping
            and self.ingest.healthy
        )

    @property
    def port(self) -> int:
        """The bound port (the ephemeral one when the settings say 0)."""
        if self._server is None or not self._server.sockets:
            return self.config.port
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def address(self) -> str:
        return f"{self.config.host}:{self.port}"

    # -- one connection -------------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peername = writer.get_extra_info("peername")
        peer = f"{peername[0]}:{peername[1]}" if isinstance(peername, tuple) else str(peername)
        connection = _Connection(peer)
        task = asyncio.current_task()
        if self._stopping or task is None or len(self._connections) >= self.config.max_connections:
            refusal = "the server is stopping" if self._stopping else "too many connections"
            LOG.warning(
                "refused %s",
                fields(
                    collector=self.name,
                    peer=peer,
                    reason=refusal,
                    max_connections=self.config.max_connections,
                ),
            )
            writer.close()
            return
        self._connections[task] = connection
        reason: str | None = None
        try:
            await self._converse(connection, reader, writer)
        except asyncio.CancelledError:
            # stop(): a connection waiting for input ends quietly; one cut off while its
            # records were landing is not acknowledged, and the client sends them again.
            if not connection.stopped_while_reading:
                reason = "the server stopped before its records were acknowledged"
        except _Closed as closed:
            reason = str(closed)
        except (ConnectionError, OSError) as exc:
            reason = f"connection lost: {exc}"
        except Exception as exc:  # no input may end the server; keep the reason
            LOG.exception("failed %s", fields(collector=self.name, peer=peer))
            reason = f"unexpected error: {exc}"
        finally:
            del self._connections[task]
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()
        summary = fields(peer=peer, messages=connection.messages, records=connection.records)
        if reason is None:
            LOG.info("closed %s", summary)
        else:
            LOG.warning("closed %s %s", summary, fields(reason=reason))

    async def _converse(
        self, connection: _Connection, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        unpacker = new_unpacker(self.limits, self.limits.max_message_bytes + READ_BYTES)
        if self._shared_key is not None:
            await self._handshake(connection, reader, writer, unpacker)
        while not self._stopping:
            data = await self._read(connection, reader)
            if not data:
                if connection.decoded < connection.fed:
                    raise _Closed("the client closed the connection in the middle of a message")
                return
            try:
                unpacker.feed(data)
                connection.fed += len(data)
            except msgpack.BufferFull:
                raise _Closed(
                    f"a message exceeds max_message_bytes ({self.limits.max_message_bytes})"
                ) from None
            messages, error = self._decode_available(connection, unpacker)
            if messages:
                await self._land(connection, messages, writer)
            if error:
                raise _Closed(error)

    async def _read(self, connection: _Connection, reader: asyncio.StreamReader) -> bytes:
        connection.reading = True
        try:
            return await asyncio.wait_for(
                reader.read(READ_BYTES), timeout=self.config.idle_timeout_seconds
            )
        except TimeoutError:
            raise _Closed(
                f"idle for idle_timeout_seconds ({self.config.idle_timeout_seconds:g})"
            ) from None
        finally:
            connection.reading = False

    async def _handshake(
        self,
        connection: _Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        unpacker: msgpack.Unpacker,
    ) -> None:
        assert self._shared_key is not None
        handshake = Handshake(self._shared_key, self.config.self_hostname)
        writer.write(handshake.helo())
        ping = None
        while ping is None:
            data = await self._read(connection, reader)
            if not data:
                raise _Closed("the client closed the connection during the handshake")
            try:
                unpacker.feed(data)
                connection.fed += len(data)
                ping = next(unpacker, None)
            except Exception as exc:
                raise _Closed(f"the handshake is not valid MessagePack: {exc}") from None
        connection.decoded = unpacker.tell()
        try:
            pong, refusal = handshake.answer_ping(ping)
        except ProtocolError as exc:
            raise _Closed(str(exc)) from None
        writer.write(pong)
        await self._drain(writer)
        if refusal is not None:
            raise _Closed(f"handshake refused: {refusal}")

    def _decode_available(
        self, connection: _Connection, unpacker: msgpack.Unpacker
    ) -> tuple[list[ForwardMessage], str | None]:
        """Every complete message the buffer holds, and why decoding stopped early."""
        messages: list[ForwardMessage] = []
        try:
            for value in unpacker:
                connection.decoded = unpacker.tell()
                messages.append(decode_message(value, self.limits))
        except ProtocolError as exc:
            return messages, str(exc)
        except Exception as exc:  # msgpack's refusals: malformed, too long, too deep
            return messages, f"not valid MessagePack: {exc}"
        return messages, None

    async def _land(
        self, connection: _Connection, messages: list[ForwardMessage], writer: asyncio.StreamWriter
    ) -> None:
        """Land the messages (up to the first whose tag names no dataset), acknowledge
        those that asked once they are durable; raise _Closed if any was not landed."""
        routed: list[tuple[ForwardMessage, Dataset]] = []
        unrouted: ForwardMessage | None = None
        for message in messages:
            dataset = self.router.dataset_for(message.tag)
            if dataset is None:
                unrouted = message
                break
            routed.append((message, dataset))
        by_dataset: dict[str, list[Collected]] = {}
        for message, dataset in routed:
            collected = to_collected(message, dataset, f"forward {connection.peer}")
            by_dataset.setdefault(dataset.name, []).append(collected)
        names = list(by_dataset)
        results = await asyncio.gather(
            *(self._send(_merge(by_dataset[name])) for name in names), return_exceptions=True
        )
        failed = {name: r for name, r in zip(names, results, strict=True) if r is not None}
        for message, dataset in routed:
            if dataset.name in failed:
                continue
            connection.messages += 1
            connection.records += len(message.entries)
            if message.chunk is not None:
                writer.write(pack({"ack": message.chunk}))
        await self._drain(writer)
        if failed:
            name, error = next(iter(failed.items()))
            lost = sum(len(m.entries) for m, d in routed if d.name in failed)
            raise _Closed(f"the bus refused {lost} records of {name!r}, not acknowledged: {error}")
        if unrouted is not None:
            dropped = sum(len(m.entries) for m in messages[len(routed) :])
            raise _Closed(
                f"tag {unrouted.tag!r} names no dataset (map it in [collect.forward] tags);"
                f" {dropped} records not acknowledged"
            )

    async def _send(self, collected: Collected) -> BaseException | None:
        """Hand records on; on Backpressure wait as told and try again, for at most
        `idle_timeout_seconds`. Returns the error that refused them, or None."""
        deadline = time.monotonic() + self.config.idle_timeout_seconds
        while True:
            try:
                await self.ingest.send(collected)
                return None
            except Backpressure as exc:
                if self._stopping or time.monotonic() + exc.retry_after_seconds > deadline:
                    return exc
                await asyncio.sleep(exc.retry_after_seconds)
            except BdpError as exc:
                return exc

    async def _drain(self, writer: asyncio.StreamWriter) -> None:
        try:
            await asyncio.wait_for(writer.drain(), timeout=self.config.idle_timeout_seconds)
        except TimeoutError:
            raise _Closed("the client does not read its acks") from None


def _merge(parts: list[Collected]) -> Collected:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    values = [value for part in parts for value in part.values]
    keys = [key for part in parts for key in (part.partition_keys or [None] * len(part))]
    ids = [rid for part in parts for rid in (part.ids or [None] * len(part))]
    return Collected(
        first.dataset,
        values,
        partition_keys=keys,
        ids=ids if any(rid is not None for rid in ids) else None,
        source=first.source,
    )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
