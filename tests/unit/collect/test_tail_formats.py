"""Line formats (the combined access log parsed, JSON passed through), partition keys,
and reading whole lines in bounded memory."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from bdp.collect.keys import read_field
from bdp.collect.tail.formats import combined_record
from bdp.collect.tail.lines import offset_after_last_line, read_lines
from tests.unit.collect.tailing import TailHarness, append, run

COMBINED = (
    '203.0.113.9 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif?q=\\x22x\\x22 HTTP/1.0" '
    '200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)"'
)


def test_a_combined_line_becomes_the_documented_fields() -> None:
    assert json.loads(combined_record(COMBINED.encode())) == {
        "remote_addr": "203.0.113.9",
        "remote_user": "frank",
        "time_local": "10/Oct/2000:13:55:36 -0700",
        "time": "2000-10-10T20:55:36.000Z",
        "request": 'GET /apache_pb.gif?q="x" HTTP/1.0',
        "method": "GET",
        "path": '/apache_pb.gif?q="x"',
        "protocol": "HTTP/1.0",
        "status": 200,
        "body_bytes_sent": 2326,
        "http_referer": "http://www.example.com/start.html",
        "http_user_agent": "Mozilla/4.08 [en] (Win98; I ;Nav)",
    }


def test_common_format_and_dashes_become_nulls_and_zero() -> None:
    record = json.loads(
        combined_record(b'::1 - - [01/Jan/2024:00:00:00 +0900] "-" 400 - "-" "-" extra="1"')
    )
    assert record["time"] == "2023-12-31T15:00:00.000Z"
    assert record["remote_user"] is None and record["http_referer"] is None
    assert record["http_user_agent"] is None
    assert (record["method"], record["path"], record["protocol"]) == (None, None, None)
    assert record["body_bytes_sent"] == 0
    common = json.loads(
        combined_record(b'h - - [01/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 304 0')
    )
    assert common["status"] == 304 and common["http_user_agent"] is None


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"just some text", "not in the combined log format"),
        (b'h - - [31/Feb/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1', "unreadable time"),
        (b'h - - [01/Foo/2024:10:00:00 +0000] "GET / HTTP/1.1" 200 1', "unreadable time"),
        (b"caf\xe9 - - [x]", "not UTF-8 text (byte 3)"),
    ],
)
def test_a_line_that_does_not_parse_keeps_its_text_and_says_why(line: bytes, reason: str) -> None:
    record = json.loads(combined_record(line))
    assert set(record) == {"message", "parse_error"}
    assert record["parse_error"].startswith(reason)
    assert record["message"] == line.decode("utf-8", "backslashreplace")


def test_combined_files_are_parsed_and_an_unmatched_line_still_goes_on(
    make_harness: Callable[..., TailHarness],
) -> None:
    tail = make_harness(fmt="combined")
    append(tail.logs / "access.log", COMBINED + "\nGARBAGE LINE\n")

    async def scenario() -> None:
        collector = tail.collector()
        await collector.start()
        await tail.wait_for(2)
        await collector.stop(5)

    run(scenario())
    parsed, garbage = tail.values()
    assert parsed["status"] == 200 and parsed["time"] == "2000-10-10T20:55:36.000Z"
    assert garbage == {"message": "GARBAGE LINE", "parse_error": "not in the combined log format"}


@pytest.mark.parametrize(
    ("record", "field", "key"),
    [
        (b'{"sessionID": "s1"}', "sessionID", b"s1"),
        (b'{"a": {"b": 42}}', "a.b", b"42"),
        (b'{"a": {"b": [1]}}', "a.b", b"[1]"),
        (b'{"a": true}', "a", b"true"),
        (b'{"b": 1}', "a", None),
        (b"not json", "a", None),
        (b'{"a": "x', "a", None),
    ],
)
def test_the_partition_key_is_read_from_the_dotted_field(
    record: bytes, field: str, key: bytes | None
) -> None:
    assert read_field([record], field) == [key]


def _fd(path: Path, data: bytes) -> int:
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


def test_read_lines_stops_at_the_count_and_strips_line_ends(tmp_path: Path) -> None:
    fd = _fd(tmp_path / "f", b"a\r\n\nbb\nccc\ndd")
    try:
        first = read_lines(fd, 0, 2, 100)
        assert [(x.offset, x.data) for x in first.lines] == [(0, b"a"), (4, b"bb")]
        assert (first.next_offset, first.at_eof) == (7, False)
        rest = read_lines(fd, first.next_offset, 10, 100)
        assert [(x.offset, x.data) for x in rest.lines] == [(7, b"ccc")]
        assert (rest.next_offset, rest.at_eof) == (11, True)
        final = read_lines(fd, rest.next_offset, 10, 100, at_end=True)
        assert [(x.offset, x.data) for x in final.lines] == [(11, b"dd")]
        assert final.next_offset == 13
    finally:
        os.close(fd)


def test_an_oversize_line_keeps_only_its_head_even_unfinished(tmp_path: Path) -> None:
    fd = _fd(tmp_path / "f", b"x" * 5000 + b"\n" + b"y" * 3000)
    try:
        chunk = read_lines(fd, 0, 10, 100)
        assert [(x.offset, len(x.data), x.length) for x in chunk.lines] == [(0, 101, 5000)]
        assert chunk.next_offset == 5001  # the unfinished long line waits
        final = read_lines(fd, 5001, 10, 100, at_end=True)
        assert [(x.offset, len(x.data), x.length) for x in final.lines] == [(5001, 101, 3000)]
        assert final.next_offset == 8001
    finally:
        os.close(fd)


@pytest.mark.parametrize(("data", "offset"), [(b"", 0), (b"abc", 0), (b"a\nb\n", 4), (b"a\nbc", 2)])
def test_reading_from_the_end_starts_after_the_last_whole_line(
    tmp_path: Path, data: bytes, offset: int
) -> None:
    fd = _fd(tmp_path / "f", data)
    try:
        assert offset_after_last_line(fd, len(data)) == offset
    finally:
        os.close(fd)
