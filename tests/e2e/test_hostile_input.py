"""Hostile records from the CLI: none stops landing, none reaches the lake that its ETL
could not load, and a day whose ETL fails does not stop the other days."""

from __future__ import annotations

from pathlib import Path

from bdp.bus import open_bus
from bdp.config import load_settings
from tests.e2e.conftest import as_json

DAY = "2024-04-16"
GOOD = (
    '{"ip":"192.168.0.1","datetime":"2024-04-16T09:00:00.000Z","method":"GET","url":"/%d",'
    '"responseCode":200,"responseTime":12,"sessionID":"s1"}'
)
HOTEL = (
    '{"id":"h%d","ip":"192.168.0.1","datetime":"2024-04-16T01:00:00.000Z","account":"a",'
    '"method":"/","status":0,"gender":"female","age":"20-29"}'
)


def send(home: Path, topic: str, values: list[bytes]) -> None:
    """Records straight onto the data home's bus, as any producer could send them."""
    settings = load_settings(home=home, environ={}, cwd=home)
    with open_bus(settings) as bus, bus.producer() as producer:
        bus.create_topic(topic)
        producer.send_batch(topic, values, [b"k"] * len(values))


def test_hostile_records_are_quarantined_and_the_day_still_loads(bdp, tmp_path) -> None:
    home = tmp_path / "home"
    good = [(GOOD % i).encode() for i in range(5)]
    deep = good[0][:-1] + b',"x":' + b"[" * 1000 + b"]" * 1000 + b"}"
    huge = good[0].replace(b'"responseCode":200', b'"responseCode":3000000000')
    twice = good[0].replace(b'"method":"GET"', b'"method":"GET","method":"POST"')
    send(home, "weblogs", [good[0], deep, good[1], huge, good[2], twice, *good[3:]])
    send(home, "hotellogs", [(HOTEL % i).encode() for i in range(3)])

    landed = as_json(bdp("stream", "run", "--until-idle", "--json"))
    assert landed["weblogs"]["landed"] == 5 and landed["weblogs"]["quarantined"] == 3
    assert landed["weblogs"]["reasons"] == {"too_deep": 1, "out_of_range": 1, "duplicate_key": 1}
    assert landed["hotellogs"]["landed"] == 3
    # Nothing pending: a second run has nothing left to land.
    again = as_json(bdp("stream", "run", "--until-idle", "--json"))
    assert again["weblogs"]["read"] == 0 and again["hotellogs"]["read"] == 0

    result = as_json(bdp("etl", "run", "weblogs", "--date", DAY, "--json"))["weblogs"][DAY]
    assert result["tables"]["weblog_access_log"] == 5


def test_stale_days_go_on_past_a_failing_one(bdp, tmp_path) -> None:
    home = tmp_path / "home"
    send(home, "weblogs", [(GOOD % i).encode() for i in range(4)])
    bdp("stream", "run", "--until-idle")
    # A raw file the stream job would never write, dropped into the day before by hand.
    broken = home / "lake" / "raw" / "weblogs" / "dt=2024-04-15" / "part-manual.jsonl"
    broken.parent.mkdir(parents=True)
    broken.write_text('{"ip": "[not markup]"\n')

    run = bdp("etl", "run", "weblogs", "--stale", check=False)
    assert run.returncode == 1
    assert DAY in run.stdout  # the good day after it still ran, and is reported
    failures = [line for line in run.stderr.splitlines() if line.startswith("error:")]
    assert len(failures) == 1 and failures[0].startswith("error: etl weblogs 2024-04-15: ")

    as_machine = bdp("etl", "run", "weblogs", "--stale", "--json", check=False)
    assert as_machine.returncode == 1
    days = as_json(as_machine)["weblogs"]
    assert list(days) == ["2024-04-15"]  # the good day is done: no longer stale
    assert "Malformed JSON" in days["2024-04-15"]["error"]
    runs = as_json(bdp("status", "--json"))["etl_runs"]
    assert [r["status"] for r in runs if r["dt"] == DAY] == ["ok"]
    assert {r["status"] for r in runs if r["dt"] == "2024-04-15"} == {"failed"}
