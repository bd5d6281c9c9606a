"""The stream job: lands bus records in the lake's raw zone, exactly once, by event date.

Records that fail validation go to the quarantine zone with their reason and their
original bytes; nothing is dropped.
"""

from bdp.stream.job import GROUP, DatasetStats, StreamJob

__all__ = ["GROUP", "DatasetStats", "StreamJob"]
