"""Log rotation: by rename (the old file is read to its end, the new one from its
start) and by copytruncate (the shrunk file is read again from its start, with new ids)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable

from tests.unit.collect.tailing import TailHarness, append, line, run, until


def test_rename_rotation_delivers_every_line_once_in_order_per_file(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness(paths=["logs/app.log"])
    log = tail.logs / "app.log"
    rotated = tail.logs / "app.log.1"
    append(log, line(1) + line(2))

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(2)
        append(log, line(3))
        os.rename(log, rotated)
        append(log, line(101) + line(102))
        append(rotated, line(4) + '{"n": 5, "sessionID": "s1"}')  # a late writer, unfinished
        await tail.wait_for(6)
        append(log, line(103))
        await tail.wait_for(7)
        await until(lambda: len(collector.sources[0].files) == 1, what="the old file let go")
        await collector.stop(5)

    run(scenario())
    received = tail.drain()
    numbers = [json.loads(r.value)["n"] for r in received]
    assert sorted(numbers) == [1, 2, 3, 4, 5, 101, 102, 103]
    assert [n for n in numbers if n < 100] == [1, 2, 3, 4, 5]
    assert [n for n in numbers if n > 100] == [101, 102, 103]
    old_file, new_file = received[0].file, received[numbers.index(101)].file
    assert old_file != new_file
    assert next(r.offset for r in received if r.file == new_file) == 0
    assert len({r.id for r in received}) == len(received)


def test_copytruncate_reads_the_file_again_from_its_start_with_new_ids(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness(paths=["logs/app.log"])
    log = tail.logs / "app.log"
    append(log, line(1) + line(2) + line(3))

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(3)
        shutil.copyfile(log, tail.logs / "app.log.1")
        os.truncate(log, 0)
        await until(lambda: collector.stats.truncations == 1, what="the truncation seen")
        append(log, line(4) + line(5))
        await tail.wait_for(5)
        await collector.stop(5)

    run(scenario())
    received = tail.drain()
    assert [json.loads(r.value)["n"] for r in received] == [1, 2, 3, 4, 5]
    assert received[0].offset == received[3].offset == 0
    # Same inode and offset, yet another id: the stream job must not take line 4 for a
    # repeat of line 1.
    assert received[0].id != received[3].id
    assert len({r.id for r in received}) == 5
