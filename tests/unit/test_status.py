"""Lake rows for `bdp status`: from landing records, without reading the files."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from bdp.lake import partition_dir
from bdp.lake.manifests import BatchFiles
from bdp.lake.rawfiles import RAW_SUFFIXES, encode_lines, raw_file_name
from bdp.status import dataset_rows

LINE = b'{"ip":"1"}'


def land(lake, first: int, days: dict[tuple[str, str], int], compression: str = "zstd") -> None:
    """One batch from offset `first`: `days` maps (zone, day) to its number of records."""
    total = sum(days.values())
    files = BatchFiles("weblogs", 0, first, first + total - 1, total, compression)
    for (zone, day), count in days.items():
        files.add(partition_dir(zone, "weblogs", day), [LINE] * count)
    files.publish(lake)


def landed_lake(lake) -> None:
    land(lake, 0, {("raw", "2024-04-16"): 5, ("raw", "2024-04-17"): 3})
    land(lake, 8, {("raw", "2024-04-17"): 4, ("quarantine", "2024-04-17"): 2})


def test_status_counts_rows_without_reading_a_single_file(recording_lake) -> None:
    landed_lake(recording_lake)
    rows = dataset_rows(recording_lake, "weblogs")
    assert rows.zones == {
        "raw": {"2024-04-16": 5, "2024-04-17": 7},
        "quarantine": {"2024-04-17": 2},
    }
    assert rows.damaged == []
    assert recording_lake.reads  # the two batches' records, nothing else
    assert not [path for path in recording_lake.reads if path.endswith(RAW_SUFFIXES)]


def test_status_reports_a_file_cut_short_and_verify_what_keeps_its_size(recording_lake) -> None:
    landed_lake(recording_lake)
    [first, second] = [
        info.path
        for info in recording_lake.list_files("raw/weblogs/dt=2024-04-17")
        if info.path.endswith(".zst")
    ]
    cut = Path(recording_lake.uri(first))
    cut.write_bytes(cut.read_bytes()[:-5])
    rows = dataset_rows(recording_lake, "weblogs")
    assert [check.path for check in rows.damaged] == [first]
    assert rows.zones["raw"]["2024-04-17"] == 7  # as landed; the file is reported
    # Bytes changed in place: the size is the same, only decompressing tells.
    flipped = Path(recording_lake.uri(second))
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x55
    flipped.write_bytes(bytes(data))
    assert [check.path for check in dataset_rows(recording_lake, "weblogs").damaged] == [first]
    verified = dataset_rows(recording_lake, "weblogs", verify=True)
    assert [check.path for check in verified.damaged] == [first, second]


def test_files_landed_without_records_are_counted_and_a_broken_one_reported(
    recording_lake,
) -> None:
    day = partition_dir("raw", "weblogs", "2024-04-16")
    recording_lake.publish(
        f"{day}/{raw_file_name(0, 0, 2, 'gzip')}", encode_lines([LINE] * 3, "gzip")
    )
    cut = encode_lines([LINE] * 4, "gzip")[:-6]
    recording_lake.publish(f"{day}/{raw_file_name(0, 3, 6, 'gzip')}", cut)
    rows = dataset_rows(recording_lake, "weblogs")
    assert rows.zones["raw"] == {"2024-04-16": 3}
    [broken] = rows.damaged
    assert broken.path.endswith(raw_file_name(0, 3, 6, "gzip"))
    assert broken.problem is not None and "cannot be decompressed" in broken.problem


def test_the_rows_of_one_day_list_only_that_day(recording_lake) -> None:
    landed_lake(recording_lake)
    rows = dataset_rows(recording_lake, "weblogs", only=date(2024, 4, 17))
    assert rows.zones == {"raw": {"2024-04-17": 7}, "quarantine": {"2024-04-17": 2}}
    nothing = dataset_rows(recording_lake, "weblogs", only=date(2024, 4, 18))
    assert nothing.zones == {"raw": {}, "quarantine": {}}
