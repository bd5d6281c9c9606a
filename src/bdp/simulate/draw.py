"""Random draws and simulated clocks shared by the simulators.

Every user of the reference runs `while elapsed < duration: sleep; draw; emit`. Here
all users advance together on a simulated clock: `UserClock` draws the sleeps of every
user at once into a (users × iterations) grid, and the scenario rules then work on
whole columns or on the flattened events, never one event at a time.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

__all__ = [
    "UserClock",
    "categorical",
    "rng_streams",
    "segment_cumsum",
    "time_order",
]


def rng_streams(seed: int, dataset: str, count: int) -> list[np.random.Generator]:
    """Independent generators for the parts of one dataset's run.

    The dataset name is part of the seed, so two datasets simulated with the same seed
    do not share draws; parts (population, clock, per-event draws) get their own stream
    so changing how one is drawn leaves the others as they were.
    """
    root = np.random.SeedSequence([seed, zlib.crc32(dataset.encode())])
    return [np.random.Generator(np.random.PCG64(child)) for child in root.spawn(count)]


class UserClock:
    """Iteration times of users who each sleep `min_ms + floor(U[0,1) * max_ms)` ms
    before every iteration, starting at their own `start_ms`.

    `times[u, k]` is when iteration k of user u happens (after its sleep). The grid
    only grows, column blocks at a time, for the users that need more, so its content
    depends on the seed and on the horizons asked for, never on block sizes.
    `uniforms` U[0,1) arrays of the same shape come along for rules that must be
    decided while the grid grows.
    """

    _PAST = np.iinfo(np.int64).max // 4  # filler for users that need no more iterations

    def __init__(
        self,
        rng: np.random.Generator,
        start_ms: np.ndarray,
        min_ms: int,
        max_ms: int,
        uniforms: int = 0,
    ) -> None:
        self._rng = rng
        self.start = np.asarray(start_ms, dtype=np.int64)
        self._min, self._max = min_ms, max_ms
        users = len(self.start)
        self.times = np.empty((users, 0), dtype=np.int64)
        self.uniforms = [np.empty((users, 0)) for _ in range(uniforms)]

    @property
    def mean_gap_ms(self) -> float:
        return self._min + (self._max - 1) / 2

    def valid(self, duration_ms: np.ndarray | int) -> np.ndarray:
        """Which iterations run: the duration is checked at the top of the loop, so
        iteration k runs when iteration k-1 ended before `start + duration`."""
        duration = np.broadcast_to(np.asarray(duration_ms, dtype=np.int64), self.start.shape)
        out = np.empty(self.times.shape, dtype=bool)
        if out.shape[1]:
            out[:, 0] = duration > 0
            np.less(self.times[:, :-1], (self.start + duration)[:, None], out=out[:, 1:])
        return out

    def cover(self, horizon_ms: np.ndarray | int) -> None:
        """Grow until every user's last iteration ends at or past `horizon_ms` elapsed,
        so any duration up to the horizon is decided by the grid."""
        users = len(self.start)
        horizon = np.broadcast_to(np.asarray(horizon_ms, dtype=np.int64), (users,))
        while True:
            last = self.times[:, -1] if self.times.shape[1] else self.start
            need = np.flatnonzero(last - self.start < horizon)
            if need.size == 0:
                return
            remaining = float((horizon[need] - (last[need] - self.start[need])).max())
            columns = int(remaining / self.mean_gap_ms * 1.1) + 8
            gaps = self._rng.integers(
                self._min, self._min + self._max, (need.size, columns), dtype=np.int32
            )
            block = np.cumsum(gaps, axis=1, dtype=np.int64)
            block += last[need, None]
            extras = [self._rng.random((need.size, columns)) for _ in self.uniforms]
            if need.size < users:  # the others are done: fill their rows with "never"
                block = _spread_rows(block, need, users, self._PAST)
                extras = [_spread_rows(extra, need, users, 1.0) for extra in extras]
            self.times = _append_columns(self.times, block)
            self.uniforms = [
                _append_columns(a, b) for a, b in zip(self.uniforms, extras, strict=True)
            ]


def _spread_rows(block: np.ndarray, rows: np.ndarray, total: int, fill: float) -> np.ndarray:
    out = np.full((total, block.shape[1]), fill, dtype=block.dtype)
    out[rows] = block
    return out


def _append_columns(grid: np.ndarray, block: np.ndarray) -> np.ndarray:
    return block if grid.shape[1] == 0 else np.concatenate([grid, block], axis=1)


def categorical(u: np.ndarray, probabilities: Sequence[float]) -> np.ndarray:
    """Category index for each U[0,1) draw; the last category takes the rounding rest."""
    edges = np.cumsum(np.asarray(probabilities, dtype=np.float64))[:-1]
    dtype = np.int8 if len(probabilities) <= 127 else np.int32
    return np.searchsorted(edges, u, side="right").astype(dtype)


def segment_cumsum(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Inclusive running sum restarted at each segment (segments laid end to end)."""
    total = np.cumsum(values, dtype=np.int64)
    if len(total) == 0:
        return total
    starts = np.minimum(np.cumsum(counts) - counts, len(total) - 1)
    before = total[starts] - values[starts]  # garbage for empty segments, repeated 0 times
    restarted: np.ndarray = total - np.repeat(before, counts)
    return restarted


def time_order(event_ms: np.ndarray) -> np.ndarray:
    """Stable order of event times (ties keep their input order).

    Two 16-bit LSD radix passes when the span fits in 32 bits, which numpy sorts in
    linear time; a general stable sort otherwise.
    """
    if len(event_ms) == 0:
        return np.zeros(0, dtype=np.int64)
    span = event_ms - event_ms.min()
    if span.max() >= 1 << 32:
        return np.argsort(event_ms, kind="stable")
    low = (span & 0xFFFF).astype(np.uint16)
    high = (span >> 16).astype(np.uint16)
    by_low = np.argsort(low, kind="stable")
    return by_low[np.argsort(high[by_low], kind="stable")]
