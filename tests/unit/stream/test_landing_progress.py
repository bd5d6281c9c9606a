"""What maintenance reads of the stream jobs' checkpoints: which batches are done with,
and from which offset the bus must keep its records."""

from __future__ import annotations

from pathlib import Path

from bdp.lake.local import LocalLake
from bdp.stream.checkpoint import Checkpoint, CheckpointStore, LandingProgress, landing_progress
from bdp.stream.embedded.loop import JOB


def test_progress_combines_every_job_s_checkpoints(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path)
    assert JOB == "stream"  # the embedded job's checkpoints, as found by their place
    CheckpointStore(lake, JOB).save("weblogs", 0, Checkpoint(100))
    CheckpointStore(lake, JOB).save("weblogs", 1, Checkpoint(40, (40, 59)))
    # Another engine's per-partition checkpoints, and its own files beside them.
    CheckpointStore(lake, "spark-stream/partitions").save("weblogs", 0, Checkpoint(80))
    lake.publish("_checkpoints/spark-stream/query/offsets/3", b"v1")
    CheckpointStore(lake, JOB).save("adlogs", 0, Checkpoint())
    progress = landing_progress(lake)
    assert set(progress) == {"weblogs"}  # a checkpoint that never landed tells nothing
    weblogs = progress["weblogs"]
    assert weblogs.next_offsets == {0: 100, 1: 40}
    assert weblogs.pending == {1: [(40, 59)]}
    assert weblogs.landed(0, 90, 99) and not weblogs.landed(0, 90, 100)
    assert weblogs.landed(1, 0, 39) and not weblogs.landed(1, 40, 59)
    assert not weblogs.landed(2, 0, 0)  # no job has landed anything of partition 2
    assert (weblogs.keep_from(0), weblogs.keep_from(1), weblogs.keep_from(2)) == (100, 40, 0)


def test_a_pending_range_below_another_job_s_progress_is_not_done() -> None:
    # One job re-lands 40..59 (pending) while another's checkpoint is past it.
    progress = LandingProgress({0: 100}, {0: [(40, 59)]})
    assert not progress.landed(0, 50, 52) and progress.landed(0, 60, 70)
    assert progress.keep_from(0) == 40
