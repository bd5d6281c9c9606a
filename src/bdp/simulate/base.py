"""What a simulation run takes and yields.

A simulator turns `SimulationParams` into an `EventTable`: every event of the session as
numpy columns, already in event-time order, plus the compiled JSON templates of the
chosen wire format. The table is then cut into `EventBlock`s, rendering JSON a chunk of
rows at a time, so a block costs a few array kernels and no per-event Python.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from bdp.clock import EVENT_TIME_RANGE_MS
from bdp.simulate.jsonwire import Template
from bdp.simulate.options import AdOptions, GameOptions, HotelOptions, RaidOptions

__all__ = ["EventBlock", "EventTable", "SimulationParams", "ordered_table"]

RENDER_CHUNK_ROWS = 16_384
"""Rows rendered per arrow call: small enough that the chunk's strings stay in cache."""
MAX_USERS = 1 << 20
"""Most users of a session: beyond it the session would not fit in memory."""
MAX_MINUTES = 7 * 24 * 60
"""Longest session: the simulators' tables span it second by second."""
_DAY_MS = 86_400_000


@dataclass(frozen=True)
class SimulationParams:
    start_ms: int
    """Epoch ms when the session starts; rooms and users start within
    `start_spread_seconds` after it."""
    seed: int = 0
    users: int | None = None
    """Total simulated users (players); None = the reference population."""
    minutes: float | None = None
    """Session length per user or room; None = the reference duration rule."""
    legacy_wire_format: bool = False
    """Emit the reference's spellings (strings everywhere, `\\/`, typos); the behaviour
    stays the corrected one."""
    start_spread_seconds: float = 120.0
    game: GameOptions = field(default_factory=GameOptions)
    hotel: HotelOptions = field(default_factory=HotelOptions)
    raid: RaidOptions = field(default_factory=RaidOptions)
    ads: AdOptions = field(default_factory=AdOptions)

    def __post_init__(self) -> None:
        if self.users is not None and not 1 <= self.users <= MAX_USERS:
            raise ValueError(f"users must be within 1..{MAX_USERS:,}, got {self.users}")
        if self.minutes is not None and not math.isfinite(self.minutes):
            raise ValueError(f"minutes must be a finite number, got {self.minutes}")
        if self.minutes is not None and round(self.minutes * 60_000) < 1:
            raise ValueError(f"minutes must be at least a millisecond, got {self.minutes}")
        if self.minutes is not None and self.minutes > MAX_MINUTES:
            raise ValueError(f"minutes must be at most {MAX_MINUTES} (a week), got {self.minutes}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if not 0 <= self.start_spread_seconds < math.inf:
            raise ValueError("start_spread_seconds must be a non-negative number")
        self._check_time_range()

    def _check_time_range(self) -> None:
        """Events the lake could not date would all be quarantined: refuse them here."""
        first, last = EVENT_TIME_RANGE_MS
        # The reference durations are all under a day.
        length = _DAY_MS if self.minutes is None else self.duration_ms(0) + _DAY_MS
        if not first <= self.start_ms <= last - self.spread_ms - length:
            raise ValueError(
                f"a session starting at {_utc(self.start_ms)} could have events outside "
                f"{_utc(first)} to {_utc(last)}, the times the lake can partition"
            )

    def population(self, reference: int) -> int:
        return reference if self.users is None else self.users

    def duration_ms(self, reference_seconds: int) -> int:
        if self.minutes is None:
            return reference_seconds * 1000
        return round(self.minutes * 60_000)

    @property
    def spread_ms(self) -> int:
        return round(self.start_spread_seconds * 1000)


def _utc(epoch_ms: int) -> str:
    try:
        moment = _dt.datetime.fromtimestamp(epoch_ms / 1000, _dt.UTC)
    except (OverflowError, ValueError, OSError):
        return f"{epoch_ms} ms after 1970"
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class EventBlock:
    values: list[bytes]
    """One JSON document per event, UTF-8, no trailing newline."""
    keys: list[bytes]
    """Bus key per event: the account or session that must stay in order."""
    event_ms: np.ndarray
    """int64 event time per event, non-decreasing."""

    def __len__(self) -> int:
        return len(self.values)


@dataclass
class EventTable:
    """A whole session's events in event-time order, ready to render.

    `columns` feed the templates; `_sec`/`_ms` (the timestamp tables' indices) are
    derived from `event_ms` when a block is cut. With several templates (document
    shapes), the `shape` column says which one renders each event.
    """

    event_ms: np.ndarray
    columns: dict[str, np.ndarray]
    key_table: Sequence[bytes]
    key_index: np.ndarray
    templates: Sequence[Template]
    first_second: int
    shape: np.ndarray | None = None

    def __post_init__(self) -> None:
        self._keys = np.empty(len(self.key_table), dtype=object)
        self._keys[:] = list(self.key_table)

    def __len__(self) -> int:
        return len(self.event_ms)

    def blocks(self, block_size: int) -> Iterator[EventBlock]:
        if block_size < 1:
            raise ValueError(f"block_size must be at least 1, got {block_size}")
        for start in range(0, len(self), block_size):
            yield self.block(start, min(start + block_size, len(self)))

    def block(self, start: int, stop: int) -> EventBlock:
        values: list[bytes] = []
        for lo in range(start, stop, RENDER_CHUNK_ROWS):
            values.extend(self._render(lo, min(lo + RENDER_CHUNK_ROWS, stop)).tolist())
        keys = self._keys[self.key_index[start:stop]].tolist()
        return EventBlock(values, keys, self.event_ms[start:stop].copy())

    def _render(self, start: int, stop: int) -> np.ndarray:
        columns = {name: column[start:stop] for name, column in self.columns.items()}
        event_ms = self.event_ms[start:stop]
        columns["_sec"] = (event_ms // 1000 - self.first_second).astype(np.int32)
        columns["_ms"] = (event_ms % 1000).astype(np.int16)
        if self.shape is None:
            return self.templates[0].render(columns, stop - start)
        shape = self.shape[start:stop]
        out = np.empty(stop - start, dtype=object)
        for index, template in enumerate(self.templates):
            rows = np.flatnonzero(shape == index)
            if rows.size:
                subset = {name: column[rows] for name, column in columns.items()}
                out[rows] = template.render(subset, rows.size)
        return out


def ordered_table(
    event_ms: np.ndarray,
    columns: dict[str, np.ndarray],
    key_table: Sequence[bytes],
    key_index: np.ndarray,
    templates: Sequence[Template],
    order: np.ndarray,
    shape: np.ndarray | None = None,
) -> EventTable:
    """Gather every column into event-time `order` and build the table."""
    sorted_ms = event_ms[order]
    first = int(sorted_ms[0] // 1000) if len(sorted_ms) else 0
    return EventTable(
        event_ms=sorted_ms,
        columns={name: column[order] for name, column in columns.items()},
        key_table=key_table,
        key_index=key_index[order],
        templates=templates,
        first_second=first,
        shape=None if shape is None else shape[order],
    )
