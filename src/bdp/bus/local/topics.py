"""The per-topic settings file of the embedded bus.

A topic is a directory `<root>/<topic>/` holding `topic.json` (partition count and
retention overrides) and one directory per partition. Creation is atomic across
processes: the whole tree is built under a temporary name and renamed into place, so
a topic either exists complete or not at all, and exactly one creator wins.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from bdp.bus.checks import check_topic_name
from bdp.bus.local.appender import fsync_dir
from bdp.errors import NotFoundError

__all__ = ["TopicConfig", "create_topic_dir", "delete_topic_dir", "load_topic"]

TOPIC_FILE = "topic.json"


@dataclass(frozen=True)
class TopicConfig:
    partitions: int
    retention_hours: float | None = None
    """None follows the bus default."""
    retention_bytes: int | None = None
    """Per partition; None follows the bus default, -1 is unlimited."""


def load_topic(root: Path, topic: str) -> TopicConfig:
    check_topic_name(topic)
    try:
        raw = (root / topic / TOPIC_FILE).read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError):
        raise NotFoundError(f"topic {topic!r} does not exist") from None
    return TopicConfig(**json.loads(raw))


def create_topic_dir(root: Path, topic: str, config: TopicConfig) -> bool:
    """Create the topic's directory tree; False when it already exists."""
    check_topic_name(topic)
    target = root / topic
    if (target / TOPIC_FILE).exists():
        return False
    staging = root / f".new-{topic}-{uuid.uuid4().hex}"
    staging.mkdir(parents=True)
    try:
        for partition in range(config.partitions):
            (staging / str(partition)).mkdir()
        meta = staging / TOPIC_FILE
        with open(meta, "w", encoding="utf-8") as handle:
            json.dump(asdict(config), handle)
            handle.flush()
            os.fsync(handle.fileno())
        fsync_dir(staging)
        try:
            os.rename(staging, target)
        except OSError:
            if (target / TOPIC_FILE).exists():
                return False  # another process created it first
            raise
        fsync_dir(root)
        return True
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def delete_topic_dir(root: Path, topic: str) -> None:
    check_topic_name(topic)
    target = root / topic
    if not (target / TOPIC_FILE).exists():
        raise NotFoundError(f"topic {topic!r} does not exist")
    # Rename first so the topic vanishes in one step, then remove at leisure.
    doomed = root / f".deleted-{topic}-{uuid.uuid4().hex}"
    os.rename(target, doomed)
    shutil.rmtree(doomed, ignore_errors=True)
