"""Putting simulated events on the bus, at once or paced by their event times.

`send_session` sends a session once however often it is run: a run that failed part way
(a full disk, a broker away) is completed by running it again, without duplicates. A
consumer group named after the session (`session_group`) bookmarks where its sending
began on each partition; a re-run reads the topic from there, and sends only the
session's events it does not find. Records are identified by their bytes, which the
seed determines. See docs/decisions/0006-simulate-sends-a-session-once.md.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from bdp.bus.base import Bus, Producer
from bdp.errors import TransientError
from bdp.simulate.base import EventBlock, SimulationParams

__all__ = ["SentSession", "send_events", "send_session", "session_group"]

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


READ_BACK_RECORDS = 50_000
"""Records per poll while looking for what an earlier run of a session sent."""
READ_BACK_PATIENCE_S = 30.0
"""How long the read-back waits for records the bus says it holds before giving up."""


@dataclass(frozen=True)
class SentSession:
    generated: int
    """Events in the session."""
    sent: int
    """Events this run put on the bus; the others were there from an earlier run."""


def session_group(dataset: str, params: SimulationParams) -> str:
    """The consumer group that bookmarks a session on its topic: named after everything
    that decides the session's events, so only a re-run of the same session finds it."""
    identity = hashlib.sha256(f"{dataset}|{params!r}".encode()).hexdigest()[:20]
    return f"bdp-simulate-{dataset}-{identity}"


def send_session(
    bus: Bus,
    topic: str,
    group: str,
    blocks: Callable[[], Iterable[EventBlock]],
    on_block: Callable[[int], None] | None = None,
) -> SentSession:
    """Send the session's events that are not on the bus yet; `blocks()` yields them all,
    the same each time it is called.

    The first run records the topic's end offsets as `group`'s committed offsets before
    it sends anything. A later run reads from there and leaves out as many copies of each
    event as it finds: the bus then holds the session exactly once. `on_block` gets the
    running count of events sent.
    """
    ends = bus.end_offsets(topic)
    if any(offset is not None for offset in bus.committed(group, topic).values()):
        found = _already_sent(bus, topic, group, ends, blocks())
    else:
        with bus.consumer(group, topic) as bookmark:
            bookmark.commit(ends)
        found = Counter()
    generated = [0]
    with bus.producer() as producer:
        sent = send_events(producer, topic, _missing(blocks(), found, generated), on_block=on_block)
    return SentSession(generated[0], sent)


def _digest(value: bytes) -> bytes:
    return hashlib.blake2b(value, digest_size=16).digest()


def _already_sent(
    bus: Bus, topic: str, group: str, ends: dict[int, int], blocks: Iterable[EventBlock]
) -> Counter[bytes]:
    """How many copies of each of the session's events lie between the bookmark and
    `ends` (other records there are ignored)."""
    wanted = Counter(_digest(value) for block in blocks for value in block.values)
    found: Counter[bytes] = Counter()
    with bus.consumer(group, topic) as reader:  # reads only: commits nothing
        pending = [p for p in reader.assignment if reader.position(p) < ends.get(p, 0)]
        deadline = time.monotonic() + READ_BACK_PATIENCE_S
        while pending:
            batches = reader.poll(READ_BACK_RECORDS, timeout_ms=500)
            for batch in batches:
                for digest in map(_digest, batch.values):
                    if found[digest] < wanted[digest]:
                        found[digest] += 1
            if batches:
                deadline = time.monotonic() + READ_BACK_PATIENCE_S
            elif time.monotonic() > deadline:
                raise TransientError(
                    f"topic {topic!r}: records up to the end offsets {ends} could not be "
                    f"read back within {READ_BACK_PATIENCE_S:g} s"
                )
            pending = [p for p in pending if reader.position(p) < ends[p]]
    return found


def _missing(
    blocks: Iterable[EventBlock], found: Counter[bytes], generated: list[int]
) -> Iterator[EventBlock]:
    """The blocks without the events in `found` (one copy left out per copy found);
    counts every event into `generated[0]`."""
    for block in blocks:
        generated[0] += len(block)
        if not found:
            yield block
            continue
        keep = np.ones(len(block), dtype=bool)
        for index, digest in enumerate(map(_digest, block.values)):
            if found[digest]:
                found[digest] -= 1
                if not found[digest]:
                    del found[digest]
                keep[index] = False
        if keep.all():
            yield block
        elif keep.any():
            rows = np.flatnonzero(keep).tolist()
            yield EventBlock(
                [block.values[i] for i in rows],
                [block.keys[i] for i in rows],
                block.event_ms[keep],
            )
