"""Restarts: a stopped collector resumes without skipping or repeating a line, and one
that died between the bus flush and the position save sends those lines again with the
same ids, which the stream job lands once."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bdp.collect.tail.positions import PositionStore
from bdp.errors import BdpError
from tests.unit.collect.tailing import TailHarness, append, line, run


def test_a_restart_resumes_without_skipping_or_repeating(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness()
    log = tail.logs / "app.log"
    append(log, line(1) + line(2) + line(3))

    async def first_run() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(3)
        await collector.stop(5)

    async def next_run(expected: int) -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(expected)
        await collector.stop(5)

    run(first_run())
    append(log, line(4) + line(5) + '{"n": 6, ')  # written while bdp was down
    append(tail.logs / "new.log", line(7))
    run(next_run(6))
    assert sorted(json.loads(r.value)["n"] for r in tail.drain()) == [1, 2, 3, 4, 5, 7]

    append(log, '"sessionID": "s1"}\n')
    run(next_run(7))
    received = tail.drain()
    assert sorted(json.loads(r.value)["n"] for r in received) == [1, 2, 3, 4, 5, 6, 7]
    assert len({r.id for r in received}) == 7


def test_a_crash_before_the_position_save_resends_the_lines_with_the_same_ids(
    make_harness: Callable[..., TailHarness],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tail = make_harness()
    log = tail.logs / "app.log"
    append(log, line(1) + line(2) + line(3))
    real_save = PositionStore.save

    def save_until_first_send(store: PositionStore, positions: list) -> None:  # type: ignore[type-arg]
        # The file's first sighting is saved; every save after a send is lost, as if
        # the process died right after each flush.
        if tail.ingest.acknowledged:
            raise OSError(5, "simulated crash")
        real_save(store, positions)

    async def one_run(expected: int) -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(expected)
        await collector.stop(5)

    monkeypatch.setattr(PositionStore, "save", save_until_first_send)
    run(one_run(3))
    first = list(tail.drain())
    monkeypatch.setattr(PositionStore, "save", real_save)
    run(one_run(6))
    received = tail.drain()
    assert len(received) == 6
    assert [r.value for r in received[3:]] == [r.value for r in first]
    assert [r.id for r in received[3:]] == [r.id for r in first]

    append(log, line(4))
    run(one_run(7))
    assert [json.loads(r.value)["n"] for r in tail.drain()[6:]] == [4]


def test_unreadable_positions_are_one_clear_error_at_start(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness()
    collector = tail.collector()
    store = collector.sources[0].store
    store.path.parent.mkdir(parents=True)
    store.path.write_text("{not json")

    async def scenario() -> None:
        await collector.start()

    with pytest.raises(BdpError, match=r"tail positions .* are unreadable.*remove the file"):
        run(scenario())
