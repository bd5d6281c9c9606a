"""A producer that fails part way, as a full disk or a lost broker would fail a send."""

from __future__ import annotations

import errno
from collections.abc import Sequence

import numpy as np

from bdp.bus.base import Producer

__all__ = ["FailingAfter"]


class FailingAfter(Producer):
    """Hands `limit` records to the real producer, then fails."""

    def __init__(self, inner: Producer, limit: int) -> None:
        self.inner, self.room = inner, limit

    def _send_batch(
        self,
        topic: str,
        values: Sequence[bytes],
        keys: Sequence[bytes | None] | None,
        timestamps_ms: np.ndarray,
        partitions: np.ndarray | None = None,
    ) -> None:
        passed = min(self.room, len(values))
        if passed:
            self.inner.send_batch(topic, values[:passed], None if keys is None else keys[:passed])
            self.room -= passed
        if passed < len(values):
            raise OSError(errno.ENOSPC, "No space left on device")

    def flush(self, timeout_s: float | None = None) -> None:
        self.inner.flush(timeout_s)

    def close(self) -> None:
        self.inner.close()
