"""The stream job: lands bus records in the lake's raw zone, exactly once, by event date.

Records that fail validation go to the quarantine zone with their reason and their
original bytes; nothing is dropped. `open_stream_job(settings, datasets)` builds the
engine `[stream] engine` names: `embedded` (bdp's own consumer loop, on any bus; the
default) or `spark` (a Spark Structured Streaming query on the Kafka bus; needs the
`spark` extra). Both land through the same `Lander` (`bdp.stream.landing`).
"""

from __future__ import annotations

from collections.abc import Iterable

from bdp.config import Settings
from bdp.lake import Lake
from bdp.registry import Registry
from bdp.stream.base import (
    GROUP,
    BatchCallback,
    DatasetStats,
    StreamCapabilities,
    StreamError,
    StreamJob,
)

__all__ = [
    "GROUP",
    "STREAM_ENGINES",
    "BatchCallback",
    "DatasetStats",
    "StreamCapabilities",
    "StreamError",
    "StreamJob",
    "open_stream_job",
]


STREAM_ENGINES: Registry[StreamJob, StreamCapabilities] = Registry("stream engine")
"""Stream engines by name; each factory takes the settings, the lake and the datasets."""


@STREAM_ENGINES.register(
    "embedded",
    StreamCapabilities(
        distributed=False, parallel_workers=True, kafka_client=False, checkpoints="stream"
    ),
)
def _open_embedded(settings: Settings, lake: Lake, datasets: list[str]) -> StreamJob:
    from bdp.stream.embedded import EmbeddedStreamJob

    return EmbeddedStreamJob(settings, lake, datasets)


@STREAM_ENGINES.register(
    "spark",
    StreamCapabilities(
        distributed=True,
        parallel_workers=False,
        kafka_client=True,
        checkpoints="spark-stream/partitions",
    ),
    requires="pyspark",
    extra="spark",
)
def _open_spark(settings: Settings, lake: Lake, datasets: list[str]) -> StreamJob:
    from bdp.stream.spark import SparkStreamJob

    return SparkStreamJob(settings, lake, datasets)


def open_stream_job(
    settings: Settings,
    datasets: Iterable[str],
    *,
    lake: Lake | None = None,
    engine: str | None = None,
) -> StreamJob:
    """The stream job of the engine `engine` names (default: `[stream] engine`), landing
    `datasets` into `lake` (default: the configured lake)."""
    factory = STREAM_ENGINES.factory(engine or settings.stream.engine)
    if lake is None:
        from bdp.lake import open_lake

        lake = open_lake(settings)
    return factory(settings, lake, list(datasets))
