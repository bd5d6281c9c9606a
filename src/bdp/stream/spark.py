"""The stream job on Spark Structured Streaming (`[stream] engine = "spark"`).

One query reads every dataset topic from Kafka (from the earliest offset on a first
start). Each micro-batch goes through `foreachBatch`: per Kafka partition its records
are collected to the driver, ordered by offset, and handed to the same `Lander` as the
embedded job's: validation, one raw file per event date and one quarantine file per
arrival date, named `part-<partition>-<first>-<last>` after the partition and the offset
range, published atomically through the lake.

Exactly once: Spark writes a micro-batch's offset ranges to its checkpoint (in the lake,
`_checkpoints/spark-stream/query`) before running it, and marks it committed after
`foreachBatch` returns. A crash in between replays the batch with the same ranges on
restart, so it rewrites the same file names with the same content. Per-partition
progress is also kept as in the embedded job (`_checkpoints/spark-stream/partitions`),
for inspection; Spark's checkpoint is the source of truth. After each partition is
landed its next offset is committed to the same consumer group as the embedded job's,
so `bdp status` reports the lag of either engine.

The Kafka source (`spark-sql-kafka-0-10_2.13`) is resolved from Maven Central by Ivy on
first use and cached under `stream.spark_ivy_dir` (default `<home>/cache/spark-ivy`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

from bdp.bus import Bus, Consumer, RecordBatch
from bdp.bus.kafka import KafkaConnection
from bdp.config import Settings
from bdp.datasets import Dataset
from bdp.errors import BdpError
from bdp.lake import Lake
from bdp.logs import fields
from bdp.retry import Retry
from bdp.stream import STREAM_ENGINES
from bdp.stream.base import (
    GROUP,
    BatchCallback,
    DatasetStats,
    StreamError,
    StreamJob,
)
from bdp.stream.landing import LOG, Lander
from bdp.stream.lease import LEASE_TIMEOUT_S, PartitionLease

__all__ = ["JOB", "SparkStreamJob", "kafka_package"]

JOB = "spark-stream"
QUERY_CHECKPOINT = f"_checkpoints/{JOB}/query"


def kafka_connection(settings: Settings) -> KafkaConnection:
    """How Spark's Kafka source reaches bdp's topics: the Kafka bus's own address,
    options and naming (its namespace prefix), never a copy of them. The one place
    this module reaches into the bus's Kafka backend."""
    return KafkaConnection.of(settings.bus)


def kafka_package() -> str:
    """Maven coordinates of the Kafka source for the installed pyspark.

    Spark keeps binary compatibility within a minor line, and patch releases of the
    connector are not always published to Maven Central (4.2.1 is not), so the line's
    first release, which always is, serves every patch release of pyspark.
    """
    import pyspark

    major, minor = pyspark.__version__.split(".")[:2]
    return f"org.apache.spark:spark-sql-kafka-0-10_2.13:{major}.{minor}.0"


class SparkStreamJob(StreamJob):
    """Lands every dataset topic from Kafka with one Structured Streaming query."""

    name = "spark"
    capabilities = STREAM_ENGINES.capabilities(name)

    def __init__(
        self,
        settings: Settings,
        lake: Lake,
        datasets: Iterable[str],
        *,
        retry: Retry | None = None,
    ) -> None:
        super().__init__(settings, lake, datasets)
        self.lander = Lander(settings, lake, self.capabilities.checkpoints, retry)
        self._kafka = kafka_connection(settings)
        self._broker_name = self._kafka.names.physical
        self._by_topic = {self._broker_name(d.topic): d for d in self.datasets}
        self._lock = threading.Lock()
        self._bus: Bus | None = None
        self._committers: dict[str, Consumer] = {}
        self._failure: BaseException | None = None
        """What stopped a micro-batch, raised as is once the query has stopped."""

    def run(
        self,
        until_idle: bool = False,
        stop: threading.Event | None = None,
        on_batch: BatchCallback | None = None,
    ) -> dict[str, DatasetStats]:
        stop = stop or threading.Event()
        lease = PartitionLease(self.settings.paths.home / "locks" / JOB, "query", 0)
        lease.acquire(LEASE_TIMEOUT_S)
        session = None
        began = time.perf_counter()
        try:
            from bdp.bus import open_bus

            self._bus = open_bus(self.settings)
            self._create_topics()
            session = self._session()
            query = self._start(session, until_idle, on_batch)
            LOG.info(
                "started %s",
                fields(
                    engine=self.name,
                    topics=",".join(self._by_topic),
                    checkpoint=QUERY_CHECKPOINT,
                    trigger="available-now"
                    if until_idle
                    else f"{self.settings.stream.trigger_interval_ms}ms",
                ),
            )
            try:
                try:
                    while query.isActive and not stop.is_set():
                        query.awaitTermination(0.5)
                except Exception:
                    self._raise_failure(query)  # awaitTermination re-raises the query's failure
                    raise
                self._raise_failure(query)
            finally:
                if query.isActive:
                    query.stop()
        finally:
            if session is not None:
                session.stop()
            for committer in self._committers.values():
                committer.close()
            self._committers.clear()
            if self._bus is not None:
                self._bus.close()
            lease.release()
        self.log_totals(began)
        return self.stats

    def _raise_failure(self, query: Any) -> None:
        if self._failure is not None:
            if isinstance(self._failure, BdpError):
                raise self._failure  # e.g. a lake that stayed away: its own one-line error
            raise StreamError(f"spark stream query failed: {self._failure}") from self._failure
        failure = query.exception()
        if failure is not None:
            first_line = (str(failure).strip().splitlines() or ["(no message)"])[0]
            raise StreamError(f"spark stream query failed: {first_line}")

    def _create_topics(self) -> None:
        assert self._bus is not None
        for dataset in self.datasets:
            self._bus.create_topic(dataset.topic)

    def _commit(self, dataset: Dataset, partition: int, next_offset: int) -> None:
        """Record progress in the consumer group (for lag reports; not for recovery)."""
        committer = self._committers.get(dataset.topic)
        if committer is None:
            assert self._bus is not None
            committer = self._bus.consumer(GROUP, dataset.topic)
            self._committers[dataset.topic] = committer
        committer.commit({partition: next_offset})

    def _session(self) -> Any:
        from pyspark.sql import SparkSession

        from bdp.etl.engine.spark import DEFAULT_CONF, FIXED_CONF, LOCAL_CONF

        etl = self.settings.etl
        local = etl.spark_master.startswith("local")
        ivy = self.settings.stream.spark_ivy_dir or str(
            self.settings.paths.home / "cache" / "spark-ivy"
        )
        conf = {
            **DEFAULT_CONF,
            **(LOCAL_CONF if local else {}),
            "spark.jars.packages": kafka_package(),
            "spark.jars.ivy": ivy,
            **etl.spark_conf,
            **FIXED_CONF,
        }
        builder = SparkSession.builder.master(etl.spark_master).appName("bdp-stream")
        for key, value in conf.items():
            builder = builder.config(key, value)
        session = builder.getOrCreate()
        session.sparkContext.setLogLevel("WARN")
        return session

    def _start(
        self,
        session: Any,
        until_idle: bool,
        on_batch: BatchCallback | None,
    ) -> Any:
        from pyspark.sql import functions as F

        reader = (
            session.readStream.format("kafka")
            .option("subscribe", ",".join(self._by_topic))
            .option("startingOffsets", "earliest")
            .option("maxOffsetsPerTrigger", str(self.settings.stream.batch_records))
            .option("groupIdPrefix", self._broker_name("bdp-stream-spark"))
        )
        # Secrets revealed for the client only; Spark's Kafka options carry a prefix.
        for key, value in self._kafka.client_config().items():
            reader = reader.option(f"kafka.{key}", value)
        records = reader.load().select(
            "topic",
            "partition",
            "offset",
            F.unix_millis("timestamp").alias("timestamp_ms"),
            "key",
            "value",
        )

        def land(batch: Any, batch_id: int) -> None:
            try:
                self._land_batch(batch, on_batch)
            except BaseException as exc:
                self._failure = exc  # Spark's report of it would be a page of trace
                raise

        writer = (
            records.writeStream.queryName("bdp-stream")
            .option("checkpointLocation", self.lake.uri(QUERY_CHECKPOINT))
            .foreachBatch(land)
        )
        if until_idle:
            writer = writer.trigger(availableNow=True)
        else:
            writer = writer.trigger(
                processingTime=f"{self.settings.stream.trigger_interval_ms} milliseconds"
            )
        return writer.start()

    def _land_batch(self, batch: Any, on_batch: BatchCallback | None) -> None:
        """Land one micro-batch: per topic partition, its records in offset order."""
        table = batch.toArrow()
        if table.num_rows == 0:
            return
        table = table.sort_by(
            [("topic", "ascending"), ("partition", "ascending"), ("offset", "ascending")]
        )
        topics = table.column("topic").to_pylist()
        partitions = table.column("partition").to_numpy()
        offsets = table.column("offset").to_numpy()
        stamps = table.column("timestamp_ms").to_numpy()
        values = [v if v is not None else b"" for v in table.column("value").to_pylist()]
        # Keys carry the idempotency ids the collectors give (`bdp.stream.dedupe`).
        keys = table.column("key").to_pylist()
        starts = [0] + [
            i
            for i in range(1, len(topics))
            if topics[i] != topics[i - 1] or partitions[i] != partitions[i - 1]
        ]
        for start, end in zip(starts, [*starts[1:], len(topics)], strict=True):
            dataset = self._by_topic[topics[start]]
            part = RecordBatch(
                topic=dataset.topic,
                partition=int(partitions[start]),
                offsets=np.asarray(offsets[start:end], dtype=np.int64),
                timestamps_ms=np.asarray(stamps[start:end], dtype=np.int64),
                values=values[start:end],
                keys=keys[start:end],
            )
            outcome = self.lander.land(dataset, part)
            self._commit(dataset, part.partition, part.last_offset + 1)
            with self._lock:
                self.stats[dataset.name].add(outcome)
            if on_batch is not None:
                on_batch(dataset.name, outcome)
