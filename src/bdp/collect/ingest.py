"""Putting collected records on the bus, acknowledged only once they are durable.

Every collector hands its records to one `Ingest`. A single writer thread owns the bus
producer (producers are not thread-safe): it takes every submission that is waiting,
sends them all, flushes once — a flush is durable per the bus's setting (`fsync` of
the embedded bus, `acks` of Kafka) — and only then resolves each submission. Many
small requests thus share one flush (a group commit), which is what lets a collector
acknowledge each request only after its records are safe and still keep up.

A record with an idempotency id is keyed on the bus by `id_key(id)` but kept in the
partition of its partition key (or, without one, of its id), so a client's retry
lands in the same partition as the original and the stream job drops it there
(`bdp.stream.dedupe`). Other records are keyed by their partition key, as the
simulators key theirs.
"""

from __future__ import annotations

import asyncio
import errno
import itertools
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass

from bdp.bus import Bus, Producer, partition_for_key
from bdp.collect.base import Backpressure, Collected, IngestUnavailable
from bdp.config import Settings
from bdp.errors import BdpError
from bdp.logs import fields
from bdp.stream.dedupe import ID_KEY_PREFIX, id_key, record_id

__all__ = ["ID_KEY_PREFIX", "Ingest", "id_key", "record_id"]

LOG = logging.getLogger("bdp.collect")

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@dataclass
class _Submission:
    collected: Collected
    future: Future[None]


class Ingest:
    """Sends `Collected` records to their dataset's topic; thread-safe, asyncio-friendly."""

    def __init__(self, settings: Settings, bus: Bus) -> None:
        self.settings = settings
        self.bus = bus
        self.max_pending = settings.collect.max_pending_records
        self._queue: deque[_Submission] = deque()
        self._pending_records = 0
        self._lock = threading.Condition()
        self._closing = False
        self._partitions: dict[str, int] = {}
        self._spread = itertools.count()
        self._producer: Producer | None = None
        self._thread = threading.Thread(target=self._write_loop, name="bdp-ingest", daemon=True)
        self._thread.start()
        self.acknowledged = 0
        """Records made durable so far (for health and benchmarks)."""

    # -- the collectors' side ----------------------------------------------------------

    def submit(self, collected: Collected) -> Future[None]:
        """Queue records; the future resolves once they are durable on the bus, or
        fails with the reason. Raises Backpressure at once when too much is pending."""
        future: Future[None] = Future()
        if not collected.values:
            future.set_result(None)
            return future
        with self._lock:
            if self._closing:
                raise IngestUnavailable("the server is stopping", retry_after_seconds=5.0)
            pending = self._pending_records
            if pending and pending + len(collected) > self.max_pending:
                raise Backpressure(
                    f"{pending} records are waiting for the bus "
                    f"(collect.max_pending_records = {self.max_pending})",
                    retry_after_seconds=1.0,
                )
            self._pending_records += len(collected)
            self._queue.append(_Submission(collected, future))
            self._lock.notify()
        return future

    async def send(self, collected: Collected) -> None:
        """`submit`, awaited: returns once the records are durable."""
        await asyncio.wrap_future(self.submit(collected))

    @property
    def pending_records(self) -> int:
        return self._pending_records

    @property
    def healthy(self) -> bool:
        return self._thread.is_alive() and not self._closing

    def close(self) -> None:
        """Write what is queued, then stop the writer and close the producer."""
        with self._lock:
            self._closing = True
            self._lock.notify()
        self._thread.join()

    def __enter__(self) -> Ingest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- the writer thread ---------------------------------------------------------------

    def _write_loop(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closing:
                    self._lock.wait()
                if not self._queue and self._closing:
                    break
                taken = list(self._queue)
                self._queue.clear()
            try:
                self._write(taken)
            finally:
                with self._lock:
                    self._pending_records -= sum(len(s.collected) for s in taken)
        if self._producer is not None:
            try:
                self._producer.close()
            except Exception as exc:  # nothing is pending: only release failed
                LOG.warning("closing the bus producer failed: %s", exc)

    def _write(self, taken: list[_Submission]) -> None:
        began = time.perf_counter()
        sent: list[_Submission] = []
        try:
            producer = self._producer or self._open_producer()
        except Exception as exc:
            self._fail(taken, exc)
            return
        for submission in taken:
            try:
                self._send(producer, submission.collected)
            except Exception as exc:
                self._fail([submission], exc)
            else:
                sent.append(submission)
        if not sent:
            return
        try:
            producer.flush()
        except Exception as exc:
            # What the producer holds may be half written: start afresh, and let the
            # clients retry (their ids make the retry land once).
            self._drop_producer()
            self._fail(sent, exc)
            return
        records = sum(len(s.collected) for s in sent)
        self.acknowledged += records
        for submission in sent:
            submission.future.set_result(None)
        if LOG.isEnabledFor(logging.DEBUG):
            LOG.debug(
                "flush %s",
                fields(
                    submissions=len(sent),
                    records=records,
                    seconds=time.perf_counter() - began,
                ),
            )

    def _send(self, producer: Producer, collected: Collected) -> None:
        topic = collected.dataset.topic
        count = self._partition_count(topic)
        keys: list[bytes | None] = []
        partitions: list[int] = []
        ids = collected.ids or [None] * len(collected)
        partition_keys = collected.partition_keys or [None] * len(collected)
        for rid, pkey in zip(ids, partition_keys, strict=True):
            if pkey is not None:
                partitions.append(partition_for_key(pkey, count))
            elif rid is not None:
                partitions.append(partition_for_key(rid, count))
            else:
                partitions.append(next(self._spread) % count)
            if rid is not None:
                keys.append(id_key(rid))
            elif pkey is not None and not pkey.startswith(ID_KEY_PREFIX):
                keys.append(pkey)
            else:
                keys.append(None)
        producer.send_batch(topic, collected.values, keys, collected.timestamps_ms, partitions)

    def _partition_count(self, topic: str) -> int:
        count = self._partitions.get(topic)
        if count is None:
            self.bus.create_topic(topic)
            count = self._partitions[topic] = self.bus.partitions(topic)
        return count

    def _open_producer(self) -> Producer:
        self._producer = self.bus.producer()
        return self._producer

    def _drop_producer(self) -> None:
        producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close()
            except Exception as exc:  # its records were already reported as failed
                LOG.debug("discarding a failed producer: %s", exc)

    def _fail(self, submissions: list[_Submission], exc: Exception) -> None:
        reason = _unavailable(exc)
        LOG.warning(
            "refused %s",
            fields(records=sum(len(s.collected) for s in submissions), error=str(reason)),
        )
        for submission in submissions:
            submission.future.set_exception(reason)


def _unavailable(exc: Exception) -> BdpError:
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return IngestUnavailable(f"the bus's disk is full: {exc}", retry_after_seconds=30.0)
    if isinstance(exc, ValueError):
        return BdpError(str(exc))
    return IngestUnavailable(f"the bus cannot take records: {exc}", retry_after_seconds=5.0)
