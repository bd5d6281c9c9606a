"""Sending simulated events: batching, keys, flush and real-time pacing without sleeping."""

from __future__ import annotations

import numpy as np

from bdp.bus.base import Producer
from bdp.simulate import EventBlock, SimulationParams, send_events, simulate
from bdp.simulate.send import MIN_WAIT_SECONDS


class ListProducer(Producer):
    """A producer that keeps what it is sent, with the fake clock's time of each call."""

    def __init__(self, clock=lambda: 0.0) -> None:
        self.calls: list[tuple[float, list[bytes], list[bytes]]] = []
        self.flushes = 0
        self._clock = clock

    def send_batch(self, topic, values, keys=None, timestamps_ms=None) -> None:
        # Records the call as the sender made it, before any checking or defaults.
        assert topic == "t" and timestamps_ms is None  # bus time is the wall clock
        self.calls.append((self._clock(), list(values), list(keys)))

    def _send_batch(self, topic, values, keys, timestamps_ms, partitions=None) -> None:
        raise AssertionError("send_batch is overridden: nothing reaches here")

    def flush(self, timeout_s=None) -> None:
        self.flushes += 1

    def close(self) -> None:
        self.flush()


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.sleeps.append(seconds)
        self.now += seconds


def _blocks(start_ms: int, users: int = 40) -> list[EventBlock]:
    params = SimulationParams(start_ms=start_ms, users=users, minutes=1)
    return list(simulate("hotellogs", params, block_size=500))


def test_sends_every_block_keyed_and_flushes(start_ms):
    blocks = _blocks(start_ms)
    producer = ListProducer()
    seen: list[int] = []
    sent = send_events(producer, "t", blocks, on_block=seen.append)
    total = sum(len(b) for b in blocks)
    assert sent == total and seen[-1] == total and len(seen) == len(blocks)
    assert [v for _, values, _ in producer.calls for v in values] == [
        v for b in blocks for v in b.values
    ]
    assert [k for _, _, keys in producer.calls for k in keys] == [k for b in blocks for k in b.keys]
    assert producer.flushes == 1


def test_realtime_releases_each_event_once_its_time_has_come(start_ms):
    blocks = _blocks(start_ms, users=5000)  # a few hundred events per second
    clock = FakeClock(start_ms / 1000 - 5)
    producer = ListProducer(clock)
    sent = send_events(producer, "t", blocks, realtime=True, clock=clock, sleep=clock.sleep)
    event_ms = np.concatenate([b.event_ms for b in blocks])
    assert sent == len(event_ms)
    released_at = np.concatenate([[now] * len(values) for now, values, _ in producer.calls])
    assert (released_at * 1000 >= event_ms).all()  # never early
    assert (released_at * 1000 - event_ms <= 21 + 1e-3).all()  # late by at most one pause
    assert [v for _, values, _ in producer.calls for v in values] == [
        v for b in blocks for v in b.values
    ]
    # Paced in batches: every pause lasts at least MIN_WAIT_SECONDS, so their number is
    # bounded by the span, not by the number of events.
    span = (event_ms[-1] - event_ms[0]) / 1000
    assert len(clock.sleeps) <= span / MIN_WAIT_SECONDS + 2 < len(event_ms) / 3
    # Each release is flushed, as a live source's records are: consumers see them at once.
    assert producer.flushes == len(producer.calls) + 1


def test_realtime_catches_up_on_past_events_without_sleeping(start_ms):
    blocks = _blocks(start_ms)
    clock = FakeClock(start_ms / 1000 + 86_400)
    producer = ListProducer(clock)
    send_events(producer, "t", blocks, realtime=True, clock=clock, sleep=clock.sleep)
    assert clock.sleeps == []
    assert sum(len(values) for _, values, _ in producer.calls) == sum(len(b) for b in blocks)
