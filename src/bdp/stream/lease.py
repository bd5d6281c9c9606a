"""One lander per partition: an exclusive lock held while a job lands it.

Two jobs landing the same partition at once would each record their own pending
ranges and publish overlapping files, so the second to arrive waits for the first
to go and then fails with a clear error. The lock is an `flock` on a file in the
data home, released by the kernel when its holder dies, however it dies.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from bdp.errors import TransientError

__all__ = ["LEASE_TIMEOUT_S", "PartitionBusy", "PartitionLease"]

LEASE_TIMEOUT_S = 10.0
"""How long a starting job waits for a previous holder of a partition to go away."""


class PartitionBusy(TransientError):
    """Another job is landing this partition."""


class PartitionLease:
    def __init__(self, directory: Path, topic: str, partition: int) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.path = directory / f"{topic}-{partition:05d}.lock"
        self.topic, self.partition = topic, partition
        self._fd: int | None = None

    def acquire(self, timeout_s: float) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise PartitionBusy(
                        f"another stream job is landing {self.topic} partition "
                        f"{self.partition} (lock {self.path}); stop it first"
                    ) from None
                time.sleep(0.05)  # a dying holder releases within milliseconds
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the flock
            self._fd = None
