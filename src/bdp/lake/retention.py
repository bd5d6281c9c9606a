"""Deleting a dataset's days from the lake once they are older than its retention.

A dataset keeps `retention_days` days (its own, declared in `[datasets.<name>]`, or
`[maintenance] lake_retention_days`; neither set keeps everything), counted back from the
run's day D: day d goes once D - d reaches it. What goes is the lake's copy of the day:
its raw, quarantine and curated partitions (every table of the dataset), the manifests
of its merged files, then the manifests of batches none of whose files is left. The
warehouse keeps its partitions: it is where the history is queried from, and its size is
its own backend's business.

Deleting is by age only: a day is deleted whether or not its ETL ran. The partitions go
first and the manifests after them, so a run stopped part way never leaves a file
without its record (merged files' manifests go after every partition); the next run
deletes what is left. Deleting what is already gone is no error, so runs are idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from bdp.config import Settings
from bdp.lake.base import Lake, partition_dir
from bdp.lake.manifests import MANIFESTS, MERGED, Landed, sweep_batch_manifests
from bdp.logs import fields

__all__ = ["ZONES", "RetentionSummary", "expire_dataset", "oldest_kept_day", "retention_days"]

LOG = logging.getLogger("bdp.lake.retention")

ZONES = ("raw", "quarantine")


def retention_days(settings: Settings, dataset: str) -> int | None:
    """Days of `dataset` the lake keeps; None: all of them."""
    declared = settings.datasets.get(dataset)
    if declared is not None and declared.retention_days is not None:
        return declared.retention_days
    return settings.maintenance.lake_retention_days


def oldest_kept_day(settings: Settings, dataset: str, dt: date) -> date | None:
    """The oldest day of `dataset` a retention run for day `dt` keeps; None: all."""
    keep = retention_days(settings, dataset)
    return None if keep is None else dt - timedelta(days=keep - 1)


@dataclass
class RetentionSummary:
    oldest_kept: date | None
    deleted: dict[str, list[str]] = field(default_factory=dict)
    """Days deleted per zone (`raw`, `quarantine`, `curated/<table>`)."""
    files: int = 0
    bytes_freed: int = 0
    deleted_manifests: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "oldest_kept": None if self.oldest_kept is None else self.oldest_kept.isoformat(),
            "deleted_partitions": {zone: list(days) for zone, days in self.deleted.items()},
            "files": self.files,
            "bytes_freed": self.bytes_freed,
            "deleted_manifests": self.deleted_manifests,
        }


def expire_dataset(
    lake: Lake,
    dataset: str,
    tables: tuple[str, ...] | list[str],
    oldest_kept: date,
    landed: Landed,
) -> RetentionSummary:
    """Delete every day of `dataset` before `oldest_kept` from the lake: raw,
    quarantine, the curated `tables`, and their manifests. `landed(partition, first,
    last)` tells the batches the stream jobs are done with (`sweep_batch_manifests`)."""
    summary = RetentionSummary(oldest_kept)
    places = [(zone, zone, dataset) for zone in ZONES]
    places += [(f"curated/{table}", "curated", table) for table in tables]
    for label, zone, name in places:
        for day in lake.partitions(zone, name):
            dt = _as_date(day)
            if dt is None or dt >= oldest_kept:
                continue
            directory = partition_dir(zone, name, day)
            listed = lake.list_files(directory)
            lake.delete(directory)
            summary.deleted.setdefault(label, []).append(day)
            summary.files += len(listed)
            summary.bytes_freed += sum(info.size for info in listed)
            LOG.info(
                "deleted %s",
                fields(
                    path=directory,
                    files=len(listed),
                    bytes=sum(info.size for info in listed),
                ),
            )
    for zone in ZONES:
        # Merged manifests of days whose files went in a run stopped before them.
        merged = f"{MANIFESTS}/{dataset}/{MERGED}/{zone}"
        for directory in lake.list_dirs(merged):
            dt = _as_date(directory.removeprefix("dt="))
            if directory.startswith("dt=") and dt is not None and dt < oldest_kept:
                lake.delete(f"{merged}/{directory}")
    summary.deleted_manifests = sweep_batch_manifests(lake, dataset, landed)
    return summary


def _as_date(day: str) -> date | None:
    try:
        return date.fromisoformat(day)
    except ValueError:
        return None
