"""Is day D of a dataset complete: has the stream job landed everything of it?

Day D ends at the midnight after it in the platform timezone; records may come late, so
D is due `[scheduler] allowed_lateness_minutes` after that. D is complete when the clock
is past due and every bus partition of the dataset's topic either

- has a watermark past due: the stream job landed from it an event later than that
  (what comes after is late data, which re-runs the day: `late_data_check_seconds`), or
- has nothing left to land: its checkpoint's next offset reached the bus's end offset.

A quiet partition needs the second rule: it may never see an event past due. A topic
that does not exist (the data reached the lake another way) has nothing to land.

Progress is read where the stream job keeps it: the per-partition checkpoints in the
lake (`bdp.stream.checkpoint`), under the job name each stream engine declares
(`StreamCapabilities.checkpoints`). Every engine's checkpoints are read and the most
advanced taken, so a day is complete whichever engine landed it: what any engine landed
is in the lake.

`day_completeness` answers with the details (`bdp status` can show them);
`wait_complete` is the daily DAG's sensor, which says "not yet" with `NotReady`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

from bdp.bus import Bus
from bdp.clock import day_start_ms
from bdp.config import Settings
from bdp.errors import NotFoundError, TransientError
from bdp.lake import Lake
from bdp.orchestrate.operations import NotReady, TaskContext

__all__ = [
    "Completeness",
    "PartitionProgress",
    "checkpoint_jobs",
    "day_completeness",
    "day_due",
    "wait_complete",
]

_SHOWN_PARTITIONS = 3
"""Partitions named in a one-line "not yet"; the others are counted."""


@dataclass(frozen=True)
class PartitionProgress:
    """Where landing stands for one bus partition, and what it says of the day."""

    partition: int
    landed_to: int
    """The next offset to land: every record before it is landed (or quarantined)."""
    end_offset: int
    watermark_ms: int | None
    """The greatest event time landed from the partition (`Checkpoint.watermark_ms`)."""
    pending: bool
    """A batch was being landed when the checkpoint was last written."""
    done_by: Literal["watermark", "caught_up"] | None
    """Why the partition holds the day back no more; None: it still does."""

    @property
    def lag(self) -> int:
        """Records on the bus not landed yet."""
        return max(0, self.end_offset - self.landed_to)

    def as_dict(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "partition": self.partition,
            "landed_to": self.landed_to,
            "end_offset": self.end_offset,
            "lag": self.lag,
            "watermark": _moment(self.watermark_ms, tz),
            "watermark_ms": self.watermark_ms,
            "pending": self.pending,
            "done_by": self.done_by,
        }


@dataclass(frozen=True)
class Completeness:
    """Whether day `dt` of `dataset` is complete at `now`, and why not."""

    dataset: str
    topic: str
    dt: date
    due: datetime
    """End of `dt` plus the allowed lateness, in the platform timezone."""
    now: datetime
    complete: bool
    topic_exists: bool
    partitions: tuple[PartitionProgress, ...]
    reasons: tuple[str, ...]
    """What holds the day back, one short phrase each; empty when complete."""

    @property
    def lag(self) -> int:
        return sum(p.lag for p in self.partitions)

    def summary(self) -> str:
        """One line: complete, or what it waits for."""
        if self.complete:
            return f"{self.dataset} {self.dt} is complete"
        shown = list(self.reasons[:_SHOWN_PARTITIONS])
        if len(self.reasons) > _SHOWN_PARTITIONS:
            shown.append(f"and {len(self.reasons) - _SHOWN_PARTITIONS} more partitions")
        return f"{self.dataset} {self.dt} is not complete: " + "; ".join(shown)

    def as_dict(self) -> dict[str, Any]:
        tz = self.due.tzinfo
        assert isinstance(tz, ZoneInfo)
        return {
            "dataset": self.dataset,
            "topic": self.topic,
            "dt": self.dt.isoformat(),
            "due": self.due.isoformat(),
            "now": self.now.astimezone(tz).isoformat(timespec="seconds"),
            "complete": self.complete,
            "topic_exists": self.topic_exists,
            "lag": self.lag,
            "partitions": [p.as_dict(tz) for p in self.partitions],
            "reasons": list(self.reasons),
        }


def day_due(settings: Settings, dt: date) -> datetime:
    """When day `dt` may be complete: the midnight after it in the platform timezone,
    plus `[scheduler] allowed_lateness_minutes`."""
    tz = settings.tz
    # Through epoch milliseconds, as landing dates records: the first instant of D + 1.
    end = datetime.fromtimestamp(day_start_ms(dt + timedelta(days=1), tz) / 1000, tz)
    return end + timedelta(minutes=settings.scheduler.allowed_lateness_minutes)


def checkpoint_jobs() -> list[str]:
    """The job names under `_checkpoints/` where stream engines keep partition progress."""
    from bdp.stream import STREAM_ENGINES

    jobs = (STREAM_ENGINES.capabilities(name).checkpoints for name in STREAM_ENGINES.names())
    return list(dict.fromkeys(jobs))


def day_completeness(
    settings: Settings,
    dataset: str,
    dt: date,
    now: datetime,
    *,
    bus: Bus | None = None,
    lake: Lake | None = None,
) -> Completeness:
    """Whether day `dt` of `dataset` is complete at `now` (aware). `bus` and `lake` are
    opened from the settings (and the bus closed) when not given. Reads only."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    if bus is None:
        from bdp.bus import open_bus

        with open_bus(settings) as opened:
            return day_completeness(settings, dataset, dt, now, bus=opened, lake=lake)
    if lake is None:
        from bdp.lake import open_lake

        lake = open_lake(settings)
    from bdp.datasets import get_dataset

    topic = get_dataset(dataset, settings).topic
    tz = settings.tz
    due = day_due(settings, dt)
    due_ms = int(due.timestamp() * 1000)
    past_due = now >= due
    reasons: list[str] = []
    if not past_due:
        lateness = settings.scheduler.allowed_lateness_minutes
        reasons.append(
            f"waiting until {due.isoformat()} (end of the day + {lateness:g} min allowed lateness)"
        )
    try:
        ends = bus.end_offsets(topic)
        begins = bus.begin_offsets(topic)
    except NotFoundError:
        return Completeness(dataset, topic, dt, due, now, past_due, False, (), tuple(reasons))
    partitions = []
    for partition, end in sorted(ends.items()):
        progress = _progress(lake, topic, partition, begins.get(partition, 0))
        done_by: Literal["watermark", "caught_up"] | None = None
        if not past_due:
            pass  # more may come: nothing is done before the day is due
        elif progress.watermark_ms is not None and progress.watermark_ms >= due_ms:
            done_by = "watermark"
        elif progress.landed_to >= end:
            # A checkpoint read after the end offsets may be further on: still caught up.
            done_by = "caught_up"
        partitions.append(
            PartitionProgress(
                partition, progress.landed_to, end, progress.watermark_ms, progress.pending, done_by
            )
        )
        if past_due and done_by is None:
            reasons.append(_holding_back(partitions[-1], tz))
    return Completeness(
        dataset, topic, dt, due, now, not reasons, True, tuple(partitions), tuple(reasons)
    )


def wait_complete(ctx: TaskContext) -> dict[str, Any]:
    """The daily DAG's sensor: returns what it found once day D is complete; raises
    `NotReady` saying which partitions hold it back, and why, until then. A bus or lake
    that does not answer right now is a "not yet" too: the sensor's timeout bounds it."""
    try:
        found = day_completeness(ctx.settings, ctx.dataset, ctx.dt, ctx.now)
    except TransientError as exc:
        raise NotReady(
            f"cannot tell yet whether {ctx.dataset} {ctx.dt} is complete: {exc}"
        ) from exc
    if not found.complete:
        raise NotReady(found.summary())
    tz = found.due.tzinfo
    assert isinstance(tz, ZoneInfo)
    watermarks = [p.watermark_ms for p in found.partitions if p.watermark_ms is not None]
    return {
        "due": found.due.isoformat(),
        "topic_exists": found.topic_exists,
        "partitions": len(found.partitions),
        "by_watermark": sum(p.done_by == "watermark" for p in found.partitions),
        "caught_up": sum(p.done_by == "caught_up" for p in found.partitions),
        "lag": found.lag,
        "min_watermark": _moment(min(watermarks), tz) if watermarks else None,
    }


@dataclass(frozen=True)
class _Landed:
    landed_to: int
    watermark_ms: int | None
    pending: bool


def _progress(lake: Lake, topic: str, partition: int, begin: int) -> _Landed:
    """The most advanced progress any engine's checkpoint records for the partition."""
    from bdp.stream.checkpoint import CheckpointStore

    # Offsets before the bus's first one are gone: nothing there is left to land.
    landed_to, watermark, pending = begin, None, False
    for job in checkpoint_jobs():
        checkpoint = CheckpointStore(lake, job).load(topic, partition)
        if checkpoint.watermark_ms is not None and (
            watermark is None or checkpoint.watermark_ms > watermark
        ):
            watermark = checkpoint.watermark_ms
        if checkpoint.next_offset is not None and checkpoint.next_offset >= landed_to:
            landed_to = checkpoint.next_offset
            pending = checkpoint.pending is not None
    return _Landed(landed_to, watermark, pending)


def _holding_back(progress: PartitionProgress, tz: ZoneInfo) -> str:
    watermark = _moment(progress.watermark_ms, tz)
    seen = f"landed up to {watermark}" if watermark else "no event landed yet"
    batch = ", a batch mid-landing" if progress.pending else ""
    return f"partition {progress.partition}: {progress.lag:,} records to land, {seen}{batch}"


def _moment(epoch_ms: int | None, tz: ZoneInfo) -> str | None:
    if epoch_ms is None:
        return None
    return datetime.fromtimestamp(epoch_ms / 1000, tz).isoformat(timespec="seconds")
