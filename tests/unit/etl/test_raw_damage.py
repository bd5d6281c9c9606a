"""run_etl refuses a damaged raw file, naming it, and leaves the day as it was."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from bdp.etl import RunLog, run_etl
from bdp.lake import partition_dir
from bdp.lake.manifests import BatchFiles, manifest_path
from bdp.lake.rawfiles import RawFileError, batch_name, decode_lines, encode_lines, raw_file_name
from bdp.warehouse import open_warehouse

DAY = dt.date(2024, 4, 16)


def web(i: int) -> bytes:
    return (
        b'{"ip":"1","datetime":"2024-04-16T00:00:%02d.000Z","method":"GET","url":"/",'
        b'"responseCode":200,"responseTime":5,"sessionID":"s"}' % i
    )


def ad(i: int) -> bytes:
    return (
        b'{"Ad":{"ad_id":"A","viewing_time":"%d","click_count":"0"},'
        b'"User":{"account":"u","view":"true","offset_time":"2024-04-16T00:00:%02dZ"}}' % (i, i)
    )


RECORDS = {"weblogs": web, "adlogs": ad}
"""weblogs publishes its typed rows as a table of their own; adlogs keeps them aside."""


def land(lake, dataset: str, count: int, compression: str = "zstd", first: int = 0) -> str:
    """One batch of `count` records, all of day DAY, landed as the stream job lands it."""
    files = BatchFiles(dataset, 0, first, first + count - 1, count, compression)
    directory = partition_dir("raw", dataset, DAY.isoformat())
    files.add(directory, [RECORDS[dataset](first + i) for i in range(count)])
    files.publish(lake)
    return f"{directory}/{files.name}"


def rewrite(lake, path: str, change: Callable[[bytes], bytes]) -> None:
    local = Path(lake.uri(path))
    local.write_bytes(change(local.read_bytes()))


def cut_in_half(data: bytes) -> bytes:
    return data[: len(data) // 2]


def line_removed(compression: str) -> Callable[[bytes], bytes]:
    """The file without its second record, still valid in its compression."""

    def change(data: bytes) -> bytes:
        lines = decode_lines(data, raw_file_name(0, 0, 0, compression))
        return encode_lines(lines[:1] + lines[2:], compression)

    return change


def loaded_rows(settings, table: str) -> int:
    with open_warehouse(settings) as warehouse:
        return warehouse.row_count(table, DAY)


def assert_refused(settings, lake, engine, path: str, reason: str) -> None:
    with pytest.raises(RawFileError, match=reason) as caught:
        run_etl(settings, "weblogs", DAY, lake=lake, engine=engine)
    assert caught.value.path == lake.uri(path)
    assert str(caught.value).startswith(lake.uri(path))
    # The day keeps what its last good run loaded, in the lake and the warehouse.
    assert loaded_rows(settings, "weblog_access_log") == 5
    [failed, ok] = RunLog(settings.paths.state).last_runs(2)
    assert (failed.status, ok.status) == ("failed", "ok")
    assert lake.uri(path) in (failed.error or "")


@pytest.mark.parametrize("compression", ["zstd", "gzip", "none"])
@pytest.mark.parametrize("damage", ["cut in half", "a line removed"])
def test_a_damaged_file_fails_the_run_naming_it(
    settings, lake, engine, compression: str, damage: str
) -> None:
    path = land(lake, "weblogs", 3, compression)
    land(lake, "weblogs", 2, compression, first=3)
    assert run_etl(settings, "weblogs", DAY, lake=lake, engine=engine).raw_rows == 5
    rewrite(lake, path, cut_in_half if damage == "cut in half" else line_removed(compression))
    assert_refused(settings, lake, engine, path, "were landed")


@pytest.mark.parametrize("dataset", sorted(RECORDS))
def test_a_file_holding_other_records_at_its_landed_size_is_named(
    settings, lake, engine, dataset: str
) -> None:
    path = land(lake, dataset, 3)
    # Its record claims a record more: sizes agree, the rows the engine reads do not.
    location = manifest_path(dataset, batch_name(path) or "")
    record = orjson.loads(lake.read(location))
    record["files"][path]["records"] = 4
    lake.publish(location, orjson.dumps(record))
    with pytest.raises(RawFileError, match="holds 3 records, but 4 were landed") as caught:
        run_etl(settings, dataset, DAY, lake=lake, engine=engine)
    assert caught.value.path == lake.uri(path)


def test_bytes_changed_in_place_are_named_when_the_engine_cannot_read_them(
    settings, lake, engine
) -> None:
    path = land(lake, "weblogs", 3)
    land(lake, "weblogs", 2, first=3)
    run_etl(settings, "weblogs", DAY, lake=lake, engine=engine)

    def flip(data: bytes) -> bytes:
        changed = bytearray(data)
        changed[len(changed) // 2] ^= 0x55
        return bytes(changed)

    rewrite(lake, path, flip)
    assert_refused(settings, lake, engine, path, "cannot be decompressed")


@pytest.mark.parametrize("compression", ["zstd", "gzip"])
def test_files_landed_without_a_record_still_load_and_a_cut_one_is_named(
    settings, lake, engine, compression: str
) -> None:
    directory = partition_dir("raw", "weblogs", DAY.isoformat())
    old = f"{directory}/{raw_file_name(0, 0, 4, compression)}"
    lake.publish(old, encode_lines([web(i) for i in range(5)], compression))
    assert run_etl(settings, "weblogs", DAY, lake=lake, engine=engine).raw_rows == 5
    rewrite(lake, old, cut_in_half)
    assert_refused(settings, lake, engine, old, "cannot be decompressed")
