"""The stream job: lands bus records in the lake's raw zone, exactly once, by event date.

Records that fail validation go to the quarantine zone with their reason and their
original bytes; nothing is dropped. `open_stream_job(settings, datasets)` builds the
engine `[stream] engine` names: `embedded` (bdp's own consumer loop, on any bus; the
default) or `spark` (a Spark Structured Streaming query on the Kafka bus; needs the
`spark` extra). Both land through the same `Lander` (`bdp.stream.landing`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from bdp.config import Settings
from bdp.errors import MissingExtraError, UnknownNameError
from bdp.lake import Lake
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


def _open_embedded(settings: Settings, lake: Lake, datasets: list[str]) -> StreamJob:
    from bdp.stream.embedded import EmbeddedStreamJob

    return EmbeddedStreamJob(settings, lake, datasets)


def _open_spark(settings: Settings, lake: Lake, datasets: list[str]) -> StreamJob:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        raise MissingExtraError("pyspark", "spark") from None
    from bdp.stream.spark import SparkStreamJob

    return SparkStreamJob(settings, lake, datasets)


STREAM_ENGINES: dict[str, Callable[[Settings, Lake, list[str]], StreamJob]] = {
    "embedded": _open_embedded,
    "spark": _open_spark,
}


def open_stream_job(
    settings: Settings,
    datasets: Iterable[str],
    *,
    lake: Lake | None = None,
    engine: str | None = None,
) -> StreamJob:
    """The stream job of the engine `engine` names (default: `[stream] engine`), landing
    `datasets` into `lake` (default: the configured lake)."""
    name = engine or settings.stream.engine
    try:
        factory = STREAM_ENGINES[name]
    except KeyError:
        raise UnknownNameError("stream engine", name, list(STREAM_ENGINES)) from None
    if lake is None:
        from bdp.lake import open_lake

        lake = open_lake(settings)
    return factory(settings, lake, list(datasets))
