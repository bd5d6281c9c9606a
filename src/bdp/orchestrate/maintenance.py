"""The maintenance DAGs' operations: merge small raw files, enforce the lake's and the
bus's retention. Thin wrappers: the work is `bdp.lake.compaction`, `bdp.lake.retention`
and the bus's `enforce_retention`; here it is given the settings, the run's day and the
stream jobs' progress, and summed up as JSON.

All three look at the lake or the bus as it is, so each is idempotent and a re-run after
a crash finishes what the crashed one began.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bdp.orchestrate.operations import TaskContext

if TYPE_CHECKING:
    from bdp.bus import Bus
    from bdp.stream.checkpoint import LandingProgress

__all__ = ["bus_retention", "compact_raw", "lake_retention"]

LOG = logging.getLogger("bdp.orchestrate.maintenance")


def compact_raw(ctx: TaskContext) -> dict[str, Any]:
    """Merge the small raw and quarantine files of every dataset's days before
    D - `[maintenance] compact_after_days`."""
    from bdp.datasets import load_datasets
    from bdp.lake import open_lake
    from bdp.lake.compaction import CompactionPolicy, compact_dataset
    from bdp.lake.retrying import retrying
    from bdp.retry import Retry
    from bdp.stream.checkpoint import LandingProgress, landing_progress

    settings = ctx.settings
    maintenance = settings.maintenance
    lake = retrying(open_lake(settings), Retry(log=LOG))
    before = ctx.dt - timedelta(days=maintenance.compact_after_days)
    policy = CompactionPolicy(
        target_bytes=maintenance.compact_target_bytes,
        min_file_bytes=maintenance.compact_min_file_bytes,
        min_files=maintenance.compact_min_files,
    )
    progress = landing_progress(lake)
    datasets = {}
    for name, dataset in load_datasets(settings).items():
        topic = progress.get(dataset.topic, LandingProgress())
        summary = compact_dataset(
            lake, name, before, policy, topic.landed, settings.lake.raw_compression
        )
        datasets[name] = summary.as_dict()
    return {
        "compacted_before": before.isoformat(),
        "merged_files": sum(d["merged_files"] for d in datasets.values()),
        "source_files": sum(d["source_files"] for d in datasets.values()),
        "bytes_before": sum(d["bytes_before"] for d in datasets.values()),
        "bytes_after": sum(d["bytes_after"] for d in datasets.values()),
        "damaged": [path for d in datasets.values() for path in d["damaged"]],
        "datasets": datasets,
    }


def lake_retention(ctx: TaskContext) -> dict[str, Any]:
    """Delete the lake's days older than each dataset's retention (relative to D); the
    warehouse keeps its partitions."""
    from bdp.datasets import load_datasets
    from bdp.etl.transforms import get_transform
    from bdp.lake import open_lake
    from bdp.lake.retention import expire_dataset, oldest_kept_day, retention_days
    from bdp.lake.retrying import retrying
    from bdp.retry import Retry
    from bdp.stream.checkpoint import LandingProgress, landing_progress

    settings = ctx.settings
    lake = retrying(open_lake(settings), Retry(log=LOG))
    progress = landing_progress(lake)
    datasets: dict[str, Any] = {}
    for name, dataset in load_datasets(settings).items():
        oldest = oldest_kept_day(settings, name, ctx.dt)
        if oldest is None:
            datasets[name] = {"retention_days": None, "kept": "everything"}
            continue
        tables = get_transform(name, settings).TABLES
        topic = progress.get(dataset.topic, LandingProgress())
        summary = expire_dataset(lake, name, tables, oldest, topic.landed)
        datasets[name] = {"retention_days": retention_days(settings, name), **summary.as_dict()}
    expired = [d for d in datasets.values() if "bytes_freed" in d]
    return {
        "deleted_partitions": sum(
            len(days) for d in expired for days in d["deleted_partitions"].values()
        ),
        "bytes_freed": sum(d["bytes_freed"] for d in expired),
        "warehouse": "kept (lake retention deletes lake partitions only)",
        "datasets": datasets,
    }


def bus_retention(ctx: TaskContext) -> dict[str, Any]:
    """Delete bus segments past `[bus] retention_hours` / `retention_bytes`, keeping
    every record of a dataset's topic that the stream job has not landed yet. A bus
    whose server enforces retention (Kafka's broker) is left to it. Either way, records
    gone from the bus before the stream job landed them are reported (`lost_unlanded`):
    the broker's retention does not wait for the stream job."""
    from bdp.bus import open_bus
    from bdp.lake import open_lake
    from bdp.lake.retrying import retrying
    from bdp.retry import Retry
    from bdp.stream.checkpoint import landing_progress

    settings = ctx.settings
    summary: dict[str, Any] = {
        "retention_hours": settings.bus.retention_hours,
        "retention_bytes": settings.bus.retention_bytes,
    }
    progress = landing_progress(retrying(open_lake(settings), Retry(log=LOG)))
    with open_bus(settings) as bus:
        summary["bus"] = bus.name
        keep_from = _landed_offsets(ctx, bus, progress)
        if bus.capabilities.server_retention:
            summary["enforced_by"] = "server"
            summary["note"] = (
                "the broker deletes old records itself (the topics carry retention.ms and"
                " retention.bytes); nothing was deleted here"
            )
            summary["deleted_segments"] = 0
        else:
            outcome = bus.enforce_retention(int(ctx.now.timestamp() * 1000), keep_from)
            summary["enforced_by"] = "bdp"
            summary["deleted_segments"] = outcome.segments
            summary["deleted_records"] = outcome.records
            summary["bytes_freed"] = outcome.bytes
            summary["held_back"] = {
                topic: {str(p): segments for p, segments in parts.items()}
                for topic, parts in outcome.held_back.items()
            }
            if outcome.held_back:
                summary["note"] = (
                    "retention held back: segments past the limits hold records the"
                    " stream job has not landed yet (they go once landed)"
                )
                LOG.warning("bus retention held back %s", summary["held_back"])
        lost: dict[str, dict[str, int]] = {}
        for topic, landed in keep_from.items():
            for p, begin in bus.begin_offsets(topic).items():
                if begin > landed[p]:
                    lost.setdefault(topic, {})[str(p)] = begin - landed[p]
    summary["lost_unlanded"] = lost
    if lost:
        LOG.warning("records left the bus before they were landed: %s", lost)
    return summary


def _landed_offsets(
    ctx: TaskContext, bus: Bus, progress: dict[str, LandingProgress]
) -> dict[str, dict[int, int]]:
    """Per dataset topic on the bus and partition, the first offset not landed yet."""
    from bdp.datasets import load_datasets
    from bdp.stream.checkpoint import LandingProgress

    topics = set(bus.topics())
    keep_from: dict[str, dict[int, int]] = {}
    for dataset in load_datasets(ctx.settings).values():
        if dataset.topic in topics:
            landed = progress.get(dataset.topic, LandingProgress())
            count = bus.partitions(dataset.topic)
            keep_from[dataset.topic] = {p: landed.keep_from(p) for p in range(count)}
    return keep_from
