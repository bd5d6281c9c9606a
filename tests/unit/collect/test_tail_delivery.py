"""Tailing files onto the bus: appended lines once each, whole lines only, new files,
`start_at`, and files that cannot be read never stopping the source."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bdp.collect.tail import source as source_module
from bdp.collect.tail.lines import LineChunk
from bdp.collect.tail.positions import positions_path
from tests.unit.collect.tailing import TailHarness, append, line, run, until


def test_lines_appended_over_time_are_each_delivered_once(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness()
    log = tail.logs / "app.log"
    append(log, line(1) + line(2, "s2") + line(3))

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        assert collector.ready
        await tail.wait_for(3)
        append(log, line(4))
        await tail.wait_for(4)
        append(log, line(5) + "\r\n" + line(6).replace("\n", "\r\n"))
        await tail.wait_for(6)
        await collector.stop(5)
        assert not collector.ready

    run(scenario())
    received = tail.drain()
    assert [json.loads(r.value)["n"] for r in received] == [1, 2, 3, 4, 5, 6]
    assert received[-1].value == json.dumps({"n": 6, "sessionID": "s1"}).encode()  # no \r
    status = os.stat(log)
    data = log.read_bytes()
    starts = [0, *[i + 1 for i, byte in enumerate(data) if byte == ord("\n")][:-1]]
    starts.remove(data.index(b"\r\n"))  # the empty line carries no record
    assert [r.offset for r in received] == starts
    assert len({r.file for r in received}) == 1
    _, dev, ino, _ = received[0].file.split(b":")
    assert (int(dev), int(ino)) == (status.st_dev, status.st_ino)
    saved = json.loads(positions_path(tail.settings, tail.settings.collect.tail[0]).read_text())
    assert saved["files"][0]["offset"] == len(data)


def test_a_partial_last_line_waits_for_its_newline(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness()
    log = tail.logs / "app.log"
    append(log, line(1) + '{"n": 2, "sess')

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(1)
        polls = collector.stats.polls
        await until(lambda: collector.stats.polls >= polls + 3, what="three more polls")
        assert len(tail.drain()) == 1
        append(log, 'ionID": "s1"}\n')
        await tail.wait_for(2)
        await collector.stop(5)

    run(scenario())
    assert [r.value for r in tail.drain()] == [
        line(1).strip().encode(),
        b'{"n": 2, "sessionID": "s1"}',
    ]


def test_the_globs_pick_up_a_file_created_later_from_its_first_line(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness(start_at="end")
    append(tail.logs / "a.log", line(1))

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        append(tail.logs / "b.log", line(2) + line(3))
        await tail.wait_for(2)
        await collector.stop(5)

    run(scenario())
    assert [json.loads(r.value)["n"] for r in tail.drain()] == [2, 3]


def test_start_at_end_reads_only_what_follows_including_a_line_being_written(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness(start_at="end")
    log = tail.logs / "app.log"
    append(log, line(1) + line(2) + '{"n": 3,')

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        append(log, ' "sessionID": "s1"}\n' + line(4))
        await tail.wait_for(2)
        await collector.stop(5)

    run(scenario())
    assert [json.loads(r.value)["n"] for r in tail.drain()] == [3, 4]


def test_a_json_line_is_sent_as_is_and_an_invalid_one_is_not_dropped(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness()
    raw = b'{ "sessionID" : "s9",  "z": 1.50 }'
    append(tail.logs / "app.log", raw + b"\nnot json at all\n")

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(2)
        await collector.stop(5)

    run(scenario())
    assert [r.value for r in tail.drain()] == [raw, b"not json at all"]


def test_an_oversize_line_goes_on_as_its_head_for_the_quarantine(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness(environ={"BDP_STREAM__MAX_RECORD_BYTES": "64"})
    long_line = json.dumps({"sessionID": "s1", "pad": "x" * 3_000_000}) + "\n"
    append(tail.logs / "app.log", line(1) + long_line + line(3))

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(3)
        assert collector.stats.oversize_lines == 1
        await collector.stop(5)

    run(scenario())
    received = tail.drain()
    assert len(received) == 3
    assert received[1].value == long_line.encode()[:65]  # just over the stream job's limit
    assert json.loads(received[2].value)["n"] == 3


def test_an_unreadable_file_and_a_directory_are_skipped_and_the_rest_is_read(
    make_harness: Callable[..., TailHarness],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    tail = make_harness()
    secret = tail.logs / "b-secret.log"
    append(secret, line(99))
    secret.chmod(0)
    if os.geteuid() == 0:  # root reads any file: refuse it the way permissions would
        real_open = os.open

        def refusing_open(path: str | os.PathLike[str], flags: int, *args: int) -> int:
            if Path(path) == secret:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args)

        monkeypatch.setattr(os, "open", refusing_open)
    (tail.logs / "c-dir.log").mkdir()
    append(tail.logs / "a.log", line(1))

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(1)
        append(tail.logs / "d.log", line(2))
        await tail.wait_for(2)
        assert collector.ready
        await collector.stop(5)

    with caplog.at_level("WARNING", logger="bdp.collect.tail"):
        run(scenario())
    assert [json.loads(r.value)["n"] for r in tail.drain()] == [1, 2]
    skipped = [r.getMessage() for r in caplog.records if "skips" in r.getMessage()]
    assert len(skipped) == 2  # each logged once, however many polls passed
    assert any("b-secret.log" in m and "Permission denied" in m for m in skipped)
    assert any("c-dir.log" in m and "not a regular file" in m for m in skipped)


def test_a_file_that_fails_to_read_does_not_hold_up_the_others(
    make_harness: Callable[..., TailHarness],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tail = make_harness()
    append(tail.logs / "a-broken.log", line(1))
    append(tail.logs / "b.log", line(2))
    real_read_lines = source_module.read_lines
    failures = {"left": 3}

    def flaky_read_lines(fd: int, *args: Any) -> LineChunk:
        if os.readlink(f"/proc/self/fd/{fd}").endswith("a-broken.log") and failures["left"]:
            failures["left"] -= 1
            raise OSError(5, "Input/output error")
        return real_read_lines(fd, *args)

    monkeypatch.setattr(source_module, "read_lines", flaky_read_lines)

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(2)
        await collector.stop(5)

    run(scenario())
    assert [json.loads(r.value)["n"] for r in tail.drain()] == [2, 1]
