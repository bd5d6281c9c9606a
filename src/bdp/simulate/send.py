"""Putting simulated events on the bus, at once or paced by their event times."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import numpy as np

from bdp.bus.base import Producer
from bdp.simulate.base import EventBlock

__all__ = ["send_events"]

MIN_WAIT_SECONDS = 0.02
"""Shortest pause between releases in real time: events due within it go together."""
MAX_BATCH = 10_000
"""Most events per `send_batch` call while pacing, so a backlog is not one huge call."""


def send_events(
    producer: Producer,
    topic: str,
    blocks: Iterable[EventBlock],
    realtime: bool = False,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], None] = time.sleep,
    on_block: Callable[[int], None] | None = None,
) -> int:
    """Send every event, keyed; return how many were sent.

    Bus timestamps are the wall clock at sending, not the event time (as a live source
    would produce them). With `realtime`, each event is released once `clock()` reaches
    its event time; events already due go out together and are flushed at once.
    `on_block` gets the running total after each block. The producer is flushed at the end.
    """
    sent = 0
    for block in blocks:
        if realtime:
            _send_paced(producer, topic, block, clock, sleep)
        elif len(block):
            producer.send_batch(topic, block.values, block.keys)
        sent += len(block)
        if on_block is not None:
            on_block(sent)
    producer.flush()
    return sent


def _send_paced(
    producer: Producer,
    topic: str,
    block: EventBlock,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> None:
    done = 0
    while done < len(block):
        now_ms = clock() * 1000
        due = int(np.searchsorted(block.event_ms, now_ms, side="right"))
        if due > done:
            stop = min(due, done + MAX_BATCH)
            producer.send_batch(topic, block.values[done:stop], block.keys[done:stop])
            # A live source: what is released is acknowledged, so consumers see it now.
            producer.flush()
            done = stop
        else:
            # wake a millisecond past the due time so clock rounding cannot leave it
            # a hair early (and cost another pause)
            wait = (int(block.event_ms[done]) - now_ms) / 1000
            sleep(max(wait, MIN_WAIT_SECONDS) + 0.001)
