"""Wire contract of every simulator: schema, timestamps, keys, legacy spellings, order."""

from __future__ import annotations

import datetime as dt
import re

import msgspec
import numpy as np
import orjson
import pytest

from bdp.datasets import DATASETS
from bdp.simulate import RaidOptions, SimulationParams, simulate
from bdp.simulate.jsonwire import (
    CORRECTED,
    JSON_SIMPLE,
    Lookup,
    Template,
    int_range,
    java_hashmap_order,
)

START_MS = 1_713_225_600_000
DATASET_NAMES = ("gamelogs", "hotellogs", "lostarklogs", "adlogs", "weblogs")
TIMESTAMP = re.compile(rb'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)"')


def _iso_ms(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


@pytest.mark.parametrize("legacy", [False, True], ids=["corrected", "legacy"])
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_every_event_decodes_and_passes_the_dataset_check(run, name, legacy):
    events = run(name, legacy).events
    dataset = DATASETS[name]
    assert len(events) > 0
    failures = [why for e in events if dataset.check and (why := dataset.check(e))]
    assert failures == []


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_event_ms_is_the_events_own_time_in_order(run, start_ms, name):
    result = run(name)
    dataset = DATASETS[name]
    times = [_iso_ms(dataset.event_time(e)) for e in result.events]
    assert times == result.event_ms.tolist()
    assert (result.event_ms[1:] >= result.event_ms[:-1]).all()
    assert result.event_ms.min() >= start_ms


@pytest.mark.parametrize("legacy", [False, True], ids=["corrected", "legacy"])
@pytest.mark.parametrize("name", DATASET_NAMES)
def test_every_timestamp_has_milliseconds_and_z(run, name, legacy):
    result = run(name, legacy)
    for value in result.values[:2000]:
        for text in re.findall(rb'"\d{4}-\d\d-\d\dT[^"]*"', value):
            if name == "lostarklogs" and legacy:
                continue  # startTime is zone-less local time there, checked below
            assert TIMESTAMP.fullmatch(text), text


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_keys_are_the_key_field_of_each_event(run, name):
    result = run(name)
    path = DATASETS[name].key_field.split(".")
    for event, key in zip(result.events, result.keys, strict=True):
        value = event
        for part in path:
            value = getattr(value, part)
        assert key == value.encode()


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_same_params_give_identical_bytes_whatever_the_block_size(name):
    params = SimulationParams(start_ms=START_MS, seed=7, users=30, minutes=10)
    first = [v for block in simulate(name, params, block_size=100_000) for v in block.values]
    second = [v for block in simulate(name, params, block_size=333) for v in block.values]
    assert first == second
    other = SimulationParams(start_ms=START_MS, seed=8, users=30, minutes=10)
    assert first != [v for block in simulate(name, other) for v in block.values]


def test_blocks_hold_at_most_block_size_events(run):
    params = SimulationParams(start_ms=START_MS, users=20, minutes=5)
    sizes = [len(block) for block in simulate("hotellogs", params, block_size=100)]
    assert max(sizes) == 100
    assert sum(sizes) == len(run("hotellogs", users=20, minutes=5).values)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_corrected_values_are_typed(run, name):
    doc = orjson.loads(run(name).values[0])
    leaves = list(_leaves(doc))
    assert any(isinstance(v, int) and not isinstance(v, bool) for v in leaves)


@pytest.mark.parametrize("name", DATASET_NAMES)
def test_legacy_leaves_are_all_strings(run, name):
    for value in run(name, legacy=True).values[:500]:
        assert all(isinstance(v, str) for v in _leaves(orjson.loads(value)))


def _leaves(doc):
    for value in doc.values():
        if isinstance(value, dict):
            yield from _leaves(value)
        else:
            yield value


def test_legacy_spellings_of_the_reference(run):
    game = b"\n".join(run("gamelogs", legacy=True).values)
    assert b'"method":"\\/move"' in game and b'"/move"' not in game
    assert b'"inputkey":"null"' in game  # no key is the string "null"
    assert b'"method":"\\/wait"' in game
    waits = [v for v in run("gamelogs", legacy=True).values if b"\\/wait" in v]
    assert all(b'"inputkey":"0"' in v and b'"x":"0"' in v for v in waits)
    assert b'"champion":"ari"' in game and b'"champion":"rux"' in game
    assert b'"ahri"' not in game and b'"lux"' not in game
    hotel = b"\n".join(run("hotellogs", legacy=True).values)
    assert b'"\\/fefund"' in hotel and b"refund" not in hotel
    raid = run("lostarklogs", legacy=True).values
    assert all(b'"inpukey"' in v for v in raid if b"raid_result" not in v)
    assert not any(b'"inputkey"' in v or b'"datetime"' in v for v in raid)
    ads = run("adlogs", legacy=True).values
    assert all(b'"offset_time"' in v and b'"event"' not in v for v in ads)
    assert not any(b'"delta"' in v or b'"datetime"' in v for v in ads)


def test_corrected_spellings(run):
    game = b"\n".join(run("gamelogs").values)
    assert b'"inputkey":null' in game and b'"null"' not in game
    assert b'"champion":"ahri"' in game and b'"champion":"lux"' in game
    assert b'"ari"' not in game and b'"rux"' not in game
    hotel = b"\n".join(run("hotellogs").values)
    assert b'"method":"/refund"' in hotel and b"fefund" not in hotel
    raid = run("lostarklogs").values
    assert all(b'"datetime"' in v for v in raid)
    assert all(b'"inputkey"' in v for v in raid if b"raid_result" not in v)


# Orders printed by java.util.HashMap (OpenJDK 17) after inserting the keys in the
# reference's text order; json-simple serialises in exactly this order.
JAVA_ORDERS = {
    "gamelogs": "createRoomDate,method,ingametime,ip,deathCount,roomID,datetime,x,y,id,"
    "inputkey,account,champion,status",
    "hotellogs": "datetime,method,gender,ip,id,account,age,status",
    "lostarklogs": "inpukey,Boss,User,gametime,method,success,x,y,startTime,sessionID,status",
    "adlogs": "Ad,User",
}


@pytest.mark.parametrize("name", sorted(JAVA_ORDERS))
def test_legacy_key_order_is_java_hashmap_order(run, name):
    value = next(v for v in run(name, legacy=True).values if b"raid_result" not in v)
    assert ",".join(orjson.loads(value)) == JAVA_ORDERS[name]


def test_java_hashmap_order_of_nested_objects():
    assert java_hashmap_order(["class", "account", "ip"]) == ["ip", "class", "account"]
    assert java_hashmap_order(["name", "item_level", "endTime"]) == [
        "item_level",
        "name",
        "endTime",
    ]
    ad = ["ad_id", "ad_name", "ad_explain", "genre", "viewing_time", "click_count"]
    ad += ["start_time", "end_time"]
    assert java_hashmap_order(ad) == [
        "start_time", "ad_id", "ad_name", "genre", "end_time", "click_count",
        "viewing_time", "ad_explain",
    ]  # fmt: skip


def test_legacy_weblogs_are_the_hand_written_text(run):
    value = run("weblogs", legacy=True).values[0]
    assert re.fullmatch(
        rb'\{"ip": "192\.168\.\d+\.\d+","datetime": "[^"]+","method": "(GET|POST)",'
        rb'"url": "/[a-z/]*","responseCode": "(200|404)","responseTime": "\d+",'
        rb'"sessionID": "[0-9a-f-]{36}"\}',
        value,
    ), value


def test_legacy_raid_start_time_is_zone_less_local_time():
    seoul = RaidOptions(tz="Asia/Seoul")
    params = SimulationParams(start_ms=START_MS, users=16, legacy_wire_format=True, raid=seoul)
    corrected = SimulationParams(start_ms=START_MS, users=16)
    legacy_events = _decode("lostarklogs", params)
    events = _decode("lostarklogs", corrected)
    assert len(legacy_events) == len(events)
    for old, new in zip(legacy_events, events, strict=True):
        assert not old.startTime.endswith("Z")
        local = dt.datetime.fromisoformat(old.startTime).replace(
            tzinfo=dt.timezone(dt.timedelta(hours=9))
        )
        assert round(local.timestamp() * 1000) == _iso_ms(new.startTime)
        # Legacy event time is startTime + whole seconds of gametime: within 1 s, not after.
        derived = dt.datetime.fromisoformat(DATASETS["lostarklogs"].event_time(old))
        derived_ms = round(derived.replace(tzinfo=local.tzinfo).timestamp() * 1000)
        assert 0 <= _iso_ms(new.datetime) - derived_ms < 1000


def _decode(name: str, params: SimulationParams) -> list:
    decoder = DATASETS[name].decoder()
    return [decoder.decode(v) for block in simulate(name, params) for v in block.values]


def test_strings_are_escaped_in_both_styles():
    fields = [("text", Lookup("i", ['a"b\\c/d\n', "프로/젝트"])), ("n", int_range("n", -2, 2))]
    columns = {"i": np.array([0, 1]), "n": np.array([-2, 2])}
    corrected = Template(fields, CORRECTED).render(columns, 2).tolist()
    legacy = Template(fields, JSON_SIMPLE).render(columns, 2).tolist()
    assert [msgspec.json.decode(v) for v in corrected] == [
        {"text": 'a"b\\c/d\n', "n": -2},
        {"text": "프로/젝트", "n": 2},
    ]
    assert [msgspec.json.decode(v) for v in legacy] == [
        {"text": 'a"b\\c/d\n', "n": "-2"},
        {"text": "프로/젝트", "n": "2"},
    ]
    assert legacy[1] == '{"text":"프로\\/젝트","n":"2"}'.encode()  # HashMap order
    assert "프로".encode() in corrected[1]  # UTF-8 as is, not \u escapes
