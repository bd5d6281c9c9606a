"""Game log transform: every derived column against hand-worked raw events."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from bdp.etl.transforms import TransformOptions
from bdp.etl.transforms.gamelogs import ANALYSIS_COLUMNS, TRAINING_COLUMNS

from .conftest import build, rows

# Legacy wire form: every leaf a string, slashes escaped, "null" for no key.
LEGACY = [
    r'{"roomID":"R1","id":"1","createRoomDate":"2024-04-15T23:58:02.117Z","ip":"192.168.0.31",'
    r'"account":"a1","champion":"syndra","method":"\/move","datetime":"2024-04-16T00:19:45.902Z",'
    r'"x":"-30","y":"40","inputkey":"e","status":"0","deathCount":"2","ingametime":"21:43"}',
    r'{"roomID":"R1","id":"2","createRoomDate":"2024-04-15T23:58Z","ip":"192.168.0.31",'
    r'"account":"a1","champion":"syndra","method":"\/wait","datetime":"2024-04-16T00:19:47.902Z",'
    r'"x":"0","y":"0","inputkey":"0","status":"1","deathCount":"2","ingametime":"21:45"}',
    r'{"roomID":"R1","id":"4","createRoomDate":"not a date","ip":"192.168.0.31",'
    r'"account":"a1","champion":"syndra","method":"\/getItem",'
    r'"datetime":"2024-04-16T00:19:48.402Z","x":"10","y":"20","inputkey":"null","status":"0",'
    r'"deathCount":"2","ingametime":"x:y"}',
]
# Corrected wire form: typed values, real null.
CORRECTED = [
    '{"roomID":"R1","id":3,"createRoomDate":"2024-04-15T23:58:02.117Z","ip":"192.168.0.31",'
    '"account":"a1","champion":"syndra","method":"/buyItem","datetime":"2024-04-16T00:19:48.402Z",'
    '"x":3,"y":-4,"inputkey":null,"status":0,"deathCount":2,"ingametime":"63:5"}',
    '{"roomID":"R1","id":5,"createRoomDate":"2024-04-15T23:58:02.117Z","ip":"192.168.0.31",'
    '"account":"a1","champion":"syndra","method":"/move","datetime":"2024-04-16T00:19:50.402Z",'
    '"x":18,"y":26,"inputkey":"0","status":0,"deathCount":3,"ingametime":"21:48"}',
    '{"roomID":"R1","id":6,"createRoomDate":"2024-04-15T23:58:02.117Z","ip":"192.168.0.9",'
    '"account":"a2","champion":"viktor","method":"/move","datetime":"2024-04-16T00:00:00.000Z",'
    '"x":100,"y":100,"inputkey":"q","status":0,"deathCount":0,"ingametime":"0:1"}',
    '{"roomID":"R1","id":7,"createRoomDate":"2024-04-15T23:58:02.117Z","ip":"192.168.0.9",'
    '"account":"a2","champion":"viktor","method":"/move","datetime":"2024-04-16T00:00:02.000Z",'
    '"x":400,"y":-300,"inputkey":"alt","status":0,"deathCount":0,"ingametime":"0:3"}',
    # The same account in another room is another player.
    '{"roomID":"R2","id":8,"createRoomDate":"2024-04-16T00:10:00.000Z","ip":"192.168.0.31",'
    '"account":"a1","champion":"ari","method":"/move","datetime":"2024-04-16T00:19:46.000Z",'
    '"x":500,"y":500,"inputkey":"w","status":0,"deathCount":0,"ingametime":"9:46"}',
]
EVENTS = LEGACY + CORRECTED


def ts(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


@pytest.fixture
def tables(engine, tmp_path: Path):
    return build(engine, tmp_path, "gamelogs", EVENTS)


def test_analysis_columns_typed_from_both_wire_forms(tables) -> None:
    by_id = {r["id"]: r for r in rows(tables["lol_analysis_log"], "id")}
    assert list(by_id) == [1, 2, 3, 4, 5, 6, 7, 8]
    assert by_id[1] == {
        "roomID": "R1",
        "createRoomDate": ts("2024-04-15 23:58:02.117"),
        "id": 1,
        "ip": "192.168.0.31",
        "account": "a1",
        "champion": "syndra",
        "method": "/move",
        "datetime": ts("2024-04-16 00:19:45.902"),
        "ingametime": "21:43",
        "ingame_seconds": 1303,
        "x": -30,
        "y": 40,
        "xy": 10,
        "inputkey": "e",
        "status": 0,
        "deathCount": 2,
        "buy_item": 0,
    }
    assert by_id[3]["x"] == 3 and by_id[3]["y"] == -4 and by_id[3]["xy"] == -1
    assert by_id[7]["xy"] == 100


def test_timestamps_accept_java_forms_and_null_garbage(tables) -> None:
    by_id = {r["id"]: r for r in rows(tables["lol_analysis_log"], "id")}
    assert by_id[2]["createRoomDate"] == ts("2024-04-15 23:58:00")
    assert by_id[4]["createRoomDate"] is None
    assert by_id[8]["createRoomDate"] == ts("2024-04-16 00:10:00")


def test_ingame_seconds_from_minutes_and_seconds(tables) -> None:
    seconds = {r["id"]: r["ingame_seconds"] for r in rows(tables["lol_analysis_log"], "id")}
    assert seconds[1] == 21 * 60 + 43
    assert seconds[3] == 63 * 60 + 5
    assert seconds[6] == 1
    assert seconds[4] is None  # "x:y"


def test_inputkey_null_for_every_spelling_of_no_key(tables) -> None:
    keys = {r["id"]: r["inputkey"] for r in rows(tables["lol_analysis_log"], "id")}
    assert keys[2] is None  # legacy "0" on /wait
    assert keys[3] is None  # JSON null
    assert keys[4] is None  # legacy "null"
    assert keys[5] == "0"  # "0" means no key only on /wait
    assert keys[7] == "alt"


def test_buy_item_for_buy_and_legacy_get_item(tables) -> None:
    flags = {r["method"]: r["buy_item"] for r in rows(tables["lol_analysis_log"], "id")}
    assert flags == {"/move": 0, "/wait": 0, "/buyItem": 1, "/getItem": 1}


def test_status_and_death_count_are_integers(tables) -> None:
    by_id = {r["id"]: r for r in rows(tables["lol_analysis_log"], "id")}
    assert (by_id[2]["status"], by_id[2]["deathCount"]) == (1, 2)
    assert (by_id[5]["status"], by_id[5]["deathCount"]) == (0, 3)


def test_training_features_from_previous_event_of_the_player(tables) -> None:
    found = rows(tables["lol_training_log"], "roomID", "account", "datetime", "x")
    a1 = [r for r in found if (r["roomID"], r["account"]) == ("R1", "a1")]
    features = [(r["dx"], r["dy"], r["jump"], r["seconds_since_prev"], r["speed"]) for r in a1]
    assert features == [
        (None, None, None, None, None),  # first event of the player
        (30, -40, 50.0, 2.0, 25.0),  # (-30, 40) → (0, 0)
        (3, -4, 5.0, 0.5, 10.0),  # → (3, -4)
        (7, 24, 25.0, 0.0, None),  # same millisecond: no speed
        (8, 6, 10.0, 2.0, 5.0),  # → (18, 26)
    ]
    viktor = [r for r in found if r["account"] == "a2"]
    assert (viktor[1]["dx"], viktor[1]["dy"], viktor[1]["jump"]) == (300, -400, 500.0)
    assert viktor[1]["speed"] == 250.0
    other_room = [r for r in found if r["roomID"] == "R2"]
    assert other_room[0]["dx"] is None and other_room[0]["speed"] is None


def test_label_marks_suspicious_champions(engine, tmp_path: Path, tables) -> None:
    labels = {r["champion"]: r["label"] for r in rows(tables["lol_training_log"], "datetime")}
    assert labels == {"syndra": 0, "viktor": 1, "ari": 0}
    custom = build(
        engine, tmp_path, "gamelogs", EVENTS, TransformOptions(suspicious_champions=("Ari",))
    )
    labels = {r["champion"]: r["label"] for r in rows(custom["lol_training_log"], "datetime")}
    assert labels == {"syndra": 0, "viktor": 0, "ari": 1}


def test_output_schemas(engine, tmp_path: Path, tables) -> None:
    engine.write_parquet(tables["lol_analysis_log"], str(tmp_path / "analysis"))
    engine.write_parquet(tables["lol_training_log"], str(tmp_path / "training"))
    analysis = pq.read_schema(next((tmp_path / "analysis").glob("*.parquet")))
    training = pq.read_schema(next((tmp_path / "training").glob("*.parquet")))
    assert tuple(analysis.names) == ANALYSIS_COLUMNS
    assert tuple(training.names) == TRAINING_COLUMNS
    kinds = {name: str(analysis.field(name).type) for name in analysis.names}
    assert kinds["createRoomDate"] == kinds["datetime"] == "timestamp[us, tz=UTC]"
    assert kinds["id"] == "int64"
    assert {kinds[c] for c in ("x", "y", "xy", "ingame_seconds", "status", "buy_item")} == {"int32"}
    kinds = {name: str(training.field(name).type) for name in training.names}
    assert {kinds[c] for c in ("jump", "seconds_since_prev", "speed")} == {"double"}
    assert kinds["label"] == kinds["dx"] == "int32"
