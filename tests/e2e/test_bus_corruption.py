"""Damaged bus segments from the CLI: the stream job names the damage and fails, the
other partitions land all the same, and `bdp bus repair` lets the rest land."""

from __future__ import annotations

import os
from pathlib import Path

from bdp.bus.local.frame import FrameHeader
from bdp.bus.local.segment import iter_frames
from tests.e2e.conftest import as_json

DAY = "2024-04-16"


def simulate(bdp, *seeds: int) -> int:
    return sum(
        as_json(
            bdp("simulate", "weblogs", "--date", DAY, "--users", "40", "--seed", str(s), "--json")
        )["generated"]
        for s in seeds
    )


def frames_of(log: Path) -> list[tuple[int, FrameHeader]]:
    fd = os.open(log, os.O_RDONLY)
    try:
        return [(at, h) for at, h, _ in iter_frames(fd, 0, os.fstat(fd).st_size, None)]
    finally:
        os.close(fd)


def rows(status: dict) -> int:
    lake = status["lake"]["weblogs"]
    return sum(lake["raw"].values()) + sum(lake["quarantine"].values())


def test_a_corrupt_frame_fails_the_job_by_name_and_a_repair_lands_the_rest(
    bdp, tmp_path: Path
) -> None:
    generated = simulate(bdp, 1, 2, 3)  # three frames in every partition
    log = tmp_path / "home" / "bus" / "weblogs" / "0" / "00000000000000000000.log"
    frames = frames_of(log)
    assert len(frames) == 3
    at, header = frames[1]
    with open(log, "r+b") as handle:
        handle.seek(at + header.size // 2)
        byte = handle.read(1)
        handle.seek(at + header.size // 2)
        handle.write(bytes([byte[0] ^ 0x20]))
    behind = sum(h.record_count for _, h in frames[1:])

    failed = bdp("stream", "run", "--until-idle", check=False)
    assert failed.returncode == 1
    (line,) = failed.stderr.strip().splitlines()
    assert f"'weblogs' partition 0 is corrupt at offset {header.base_offset}" in line
    assert f"byte {at} of {log}" in line
    assert "bdp bus repair weblogs --partition 0" in line
    status = as_json(bdp("status", "--json"))
    assert status["topics"]["weblogs"]["corrupt"] == {
        "0": {"offset": header.base_offset, "file": str(log), "position": at}
    }
    assert status["topics"]["weblogs"]["lag"] == behind
    assert rows(status) == generated - behind  # every other partition landed

    assert as_json(bdp("bus", "repair", "weblogs", "--dry-run", "--json"))[0]["saved"] is None
    (repair,) = as_json(bdp("bus", "repair", "weblogs", "--partition", "0", "--json"))
    assert (repair["partition"], repair["offset"]) == (0, header.base_offset)
    assert (repair["skipped"], repair["action"]) == (header.record_count, "skipped")
    assert Path(repair["saved"]).stat().st_size == header.size
    assert as_json(bdp("bus", "repair", "weblogs", "--json")) == []

    landed = as_json(bdp("stream", "run", "--until-idle", "--json"))
    assert landed["weblogs"]["read"] == behind - header.record_count
    status = as_json(bdp("status", "--json"))
    topic = status["topics"]["weblogs"]
    assert (topic["corrupt"], topic["lag"], topic["skipped"]) == ({}, 0, {"0": header.record_count})
    assert rows(status) + header.record_count == generated  # reconciled with the skipped offsets


def test_a_torn_tail_is_reported_and_the_partition_goes_on(bdp, tmp_path: Path) -> None:
    generated = simulate(bdp, 1, 2)
    log = tmp_path / "home" / "bus" / "weblogs" / "1" / "00000000000000000000.log"
    at, header = frames_of(log)[-1]
    os.truncate(log, at + header.size - 100)  # the last frame loses its end
    torn = header.size - 100

    landed = bdp("stream", "run", "--until-idle", "--json")
    assert f"{torn} bytes where offset {header.base_offset} would start" in landed.stderr
    assert as_json(landed)["weblogs"]["read"] == generated - header.record_count

    appended = bdp("simulate", "weblogs", "--date", DAY, "--users", "40", "--seed", "3", "--json")
    lost = f"offsets {header.base_offset}..{header.base_offset + header.record_count - 1}"
    assert f"cut a torn tail of {torn} bytes at byte {at}" in appended.stderr
    assert lost in appended.stderr
    landed = as_json(bdp("stream", "run", "--until-idle", "--json"))
    assert landed["weblogs"]["read"] == as_json(appended)["generated"]
    assert as_json(bdp("status", "--json"))["topics"]["weblogs"]["lag"] == 0


def test_repair_is_for_the_embedded_bus_and_existing_topics(bdp) -> None:
    kafka = bdp("bus", "repair", "weblogs", check=False, env_extra={"BDP_BUS__BACKEND": "kafka"})
    assert kafka.returncode == 2 and "embedded bus" in kafka.stderr
    missing = bdp("bus", "repair", "nosuchtopic", check=False)
    assert missing.returncode == 1 and "nosuchtopic" in missing.stderr
    bdp("simulate", "weblogs", "--date", DAY, "--users", "5")
    beyond = bdp("bus", "repair", "weblogs", "--partition", "9", check=False)
    assert beyond.returncode == 1 and "partitions 0..3" in beyond.stderr
    assert "Traceback" not in beyond.stderr
