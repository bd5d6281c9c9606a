"""File tail: lines appended to log files (JSON lines or the combined access log) put on
a dataset's topic, each exactly once across rotation and restarts (`[[collect.tail]]`)."""

from __future__ import annotations

from bdp.collect.tail.collector import TailCollector
from bdp.collect.tail.source import TailStats

__all__ = ["TailCollector", "TailStats"]
