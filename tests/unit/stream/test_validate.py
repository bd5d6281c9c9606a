"""Each kind of bad input is rejected with its own reason; good records get their event date."""

import dataclasses
import json
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bdp.datasets import get_dataset
from bdp.stream.validate import REASONS, event_dates, validate_batch

UTC = ZoneInfo("UTC")
SEOUL = ZoneInfo("Asia/Seoul")

WEB = (
    b'{"ip":"192.168.0.1","datetime":"%s","method":"GET","url":"/",'
    b'"responseCode":200,"responseTime":120,"sessionID":"s1"}'
)


def web(ts: str = "2024-04-16T09:30:05.123Z") -> bytes:
    return WEB % ts.encode()


def test_good_records_get_event_dates_in_the_platform_timezone() -> None:
    values = [web("2024-04-16T14:59:59.999Z"), web("2024-04-16T15:00:00.000Z")]
    utc = validate_batch(get_dataset("weblogs"), values, 1 << 20, UTC)
    seoul = validate_batch(get_dataset("weblogs"), values, 1 << 20, SEOUL)
    assert utc.valid == [0, 1] and not utc.rejected
    assert [str(d) for d in utc.dates] == ["2024-04-16", "2024-04-16"]
    # 15:00 UTC is midnight in Seoul: the second record belongs to the next day there.
    assert [str(d) for d in seoul.dates] == ["2024-04-16", "2024-04-17"]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"", "empty"),
        (b"   ", "empty"),
        (b'{"ip": "' + b"x" * 2000 + b'"}', "too_large"),
        (b'{"ip": "\xff"}', "not_utf8"),
        (b'{"ip": "1", ', "invalid_json"),
        (b'{"ip":"1","datetime":"2024-04-16T09:30:05.123Z"}', "missing_field"),
        (web().replace(b"200", b'"abc"'), "wrong_type"),
        (b"[1,2]", "wrong_type"),
        (web("yesterday"), "bad_timestamp"),
    ],
)
def test_each_bad_input_has_its_reason(value: bytes, reason: str) -> None:
    result = validate_batch(get_dataset("weblogs"), [web(), value, web()], 1000, UTC)
    assert result.valid == [0, 2]
    assert [(r.index, r.reason) for r in result.rejected] == [(1, reason)]
    assert reason in REASONS


def test_legacy_strings_are_accepted_and_dataset_rules_apply() -> None:
    legacy = web().replace(b"200", b'"200"').replace(b"120", b'"120"')
    game = get_dataset("gamelogs")
    bad_method = (
        b'{"roomID":"r","id":"1","createRoomDate":"2024-04-16T09:00:00.000Z","ip":"i",'
        b'"account":"a","champion":"azir","method":"/dance","datetime":"2024-04-16T09:00:01.000Z",'
        b'"x":"1","y":"2","inputkey":"null","status":"0","deathCount":"0","ingametime":"0:1"}'
    )
    assert validate_batch(get_dataset("weblogs"), [legacy], 1000, UTC).valid == [0]
    result = validate_batch(game, [bad_method], 1000, UTC)
    assert [(r.reason, r.detail) for r in result.rejected] == [
        ("invalid_value", "method '/dance' is not /move, /wait or /buyItem")
    ]


def test_zone_less_times_are_local_to_the_platform() -> None:
    dates, bad = event_dates(["2024-04-16T23:30:00.000", "2024-04-16T23:30:00.000Z"], SEOUL)
    assert bad == []
    # The zone-less time is already Seoul time; the UTC one is 08:30 the next day in Seoul.
    assert dates.tolist() == list(np.array(["2024-04-16", "2024-04-17"], dtype="datetime64[D]"))


def test_a_bad_time_does_not_spoil_the_batch() -> None:
    dates, bad = event_dates(["2024-04-16T10:00:00Z", "nope", "2024-04-17T10:00Z"], UTC)
    assert bad == [1]
    assert str(dates[0]) == "2024-04-16" and str(dates[2]) == "2024-04-17"


def deep(levels: int) -> bytes:
    """A good request with an unknown field holding `levels` nested arrays."""
    return web()[:-1] + b',"x":' + b"[" * levels + b"]" * levels + b"}"


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (deep(1000), "too_deep"),
        (web().replace(b"200", b"3000000000"), "out_of_range"),
        (web().replace(b"200", b"-2147483649"), "out_of_range"),
        (web().replace(b"200", b'"3000000000"'), "out_of_range"),
        (web().replace(b"200", b"3e9"), "out_of_range"),
        (web().replace(b"200", b"200.5"), "wrong_type"),
        (web().replace(b'"method":"GET"', b'"method":"GET","method":"POST"'), "duplicate_key"),
        (web()[:-1] + b',"extra":{"k":1,"k":2}}', "duplicate_key"),
        # Parsed by Arrow, refused by DuckDB or Spark.
        (web("2024-04-16T09Z"), "bad_timestamp"),
        (web("2024-04-16"), "bad_timestamp"),
        (web("2024-04-16T09:30:05+23:00"), "bad_timestamp"),
    ],
)
def test_what_the_etl_could_not_load_is_rejected_with_its_reason(value: bytes, reason: str) -> None:
    result = validate_batch(get_dataset("weblogs"), [web(), value, web()], 1 << 20, UTC)
    assert result.valid == [0, 2]
    assert [(r.index, r.reason) for r in result.rejected] == [(1, reason)]
    assert reason in REASONS


def test_the_nesting_limit_counts_containers_not_brackets_in_text() -> None:
    # The record itself is level 1; the unknown field's arrays come on top of it.
    at_limit, over = deep(31), deep(32)
    in_text = web()[:-1] + b',"x":"' + b"[{" * 500 + b'"}'
    result = validate_batch(get_dataset("weblogs"), [at_limit, over, in_text], 1 << 20, UTC, 32)
    assert result.valid == [0, 2]
    assert [(r.index, r.reason) for r in result.rejected] == [(1, "too_deep")]
    assert "33" in result.rejected[0].detail and "32" in result.rejected[0].detail
    assert validate_batch(get_dataset("weblogs"), [over], 1 << 20, UTC, 40).valid == [0]


def test_whole_numbers_in_their_column_range_pass_in_every_spelling() -> None:
    top, bottom = str(2**31 - 1).encode(), str(-(2**31)).encode()
    values = [
        web().replace(b"200", top).replace(b"120", bottom),
        web().replace(b"200", b'"' + top + b'"').replace(b"120", b'"' + bottom + b'"'),
        web().replace(b"200", b"2e2").replace(b"120", b'"1.2E2"'),
        web().replace(b"200", b"200.0").replace(b"120", b'"120.0"'),
    ]
    assert validate_batch(get_dataset("weblogs"), values, 1 << 20, UTC).valid == [0, 1, 2, 3]


def test_keys_repeated_in_different_objects_are_fine() -> None:
    ad = (
        b'{"Ad":{"ad_id":"a","ad_name":"n","ad_explain":"e","genre":"g","viewing_time":5,'
        b'"click_count":1,"start_time":"2024-04-01","end_time":"2024-04-30"},'
        b'"User":{"account":"u","gender":"f","age":20,"click":true,"view":false,'
        b'"total_time":5},"event":"click","datetime":"2024-04-16T09:00:00.000Z",'
        b'"delta":{"viewing_time":0,"click_count":1}}'
    )
    repeated = ad.replace(b'"click_count":1}}', b'"click_count":1,"click_count":2}}')
    result = validate_batch(get_dataset("adlogs"), [ad, repeated], 1 << 20, UTC)
    assert result.valid == [0]
    assert [(r.index, r.reason) for r in result.rejected] == [(1, "duplicate_key")]
    assert "'click_count'" in result.rejected[0].detail


def test_a_check_that_fails_unexpectedly_rejects_only_its_record(monkeypatch) -> None:
    def check(event):
        if event.url == "/boom":
            raise RecursionError("maximum recursion depth exceeded")
        return None

    dataset = dataclasses.replace(get_dataset("weblogs"), check=check)
    values = [web(), web().replace(b'"url":"/"', b'"url":"/boom"'), b"not json", web()]
    result = validate_batch(dataset, values, 1 << 20, UTC)
    assert result.valid == [0, 3]
    assert [str(d) for d in result.dates] == ["2024-04-16", "2024-04-16"]
    assert result.event_ms.tolist() == [1713259805123, 1713259805123]  # 09:30:05.123Z
    assert [(r.index, r.reason) for r in result.rejected] == [
        (1, "unprocessable"),
        (2, "invalid_json"),
    ]
    assert "RecursionError: maximum recursion depth exceeded" in result.rejected[0].detail


JSON_TEXT = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner),
    max_leaves=8,
).map(lambda value: json.dumps(value).encode())


@given(
    st.lists(
        st.one_of(
            JSON_TEXT,
            st.binary(max_size=40),
            st.sampled_from([0, 31, 32, 1000, 5000]).map(deep),
            st.sampled_from(
                [
                    web(),
                    web().replace(b"200", b"1e9"),
                    web().replace(b"200", b"3000000000"),
                    web()[:-1] + b',"ip":"x"}',
                    web("2024-02-30T00:00:00Z"),
                ]
            ),
            # A good record with an extra field: any JSON at all.
            JSON_TEXT.map(lambda extra: web()[:-1] + b',"extra":' + extra + b"}"),
        ),
        max_size=12,
    )
)
@settings(max_examples=150, deadline=None)
def test_any_input_is_either_valid_or_rejected_with_a_reason(values: list[bytes]) -> None:
    result = validate_batch(get_dataset("weblogs"), values, 1 << 20, UTC)
    rejected = [r.index for r in result.rejected]
    assert sorted(result.valid + rejected) == list(range(len(values)))
    assert len(result.dates) == len(result.event_ms) == len(result.valid)
    assert {r.reason for r in result.rejected} <= set(REASONS) - {"unprocessable"}


GAME = (
    b'{"roomID":"r","id":1,"createRoomDate":"%s","ip":"i","account":"a","champion":"azir",'
    b'"method":"/move","datetime":"2024-04-16T09:00:01.000Z","x":1,"y":2,"inputkey":null,'
    b'"status":0,"deathCount":0,"ingametime":"0:1"}'
)


@pytest.mark.parametrize(
    ("created", "valid"),
    [
        ("2024-04-16T08:59:00.000Z", True),
        ("not a date", True),  # not ISO: the ETL reads it as NULL
        ("2024-02-30T08:59:00.000Z", False),  # ISO, but no such day: the cast would fail
        ("2024-04-16T24:00:00Z", False),
        ("2024-04-16T08:59:60", False),
    ],
)
def test_a_time_leaf_in_iso_form_must_be_a_real_time(created: str, valid: bool) -> None:
    result = validate_batch(get_dataset("gamelogs"), [GAME % created.encode()], 1 << 20, UTC)
    assert result.valid == ([0] if valid else [])
    if not valid:
        [rejection] = result.rejected
        assert rejection.reason == "bad_timestamp" and "createRoomDate" in rejection.detail


def test_valid_records_carry_their_event_instant_beside_their_date() -> None:
    # Zoned and zone-less times together take the slower, per-group parse.
    values = [web("2024-04-16T23:30:00.000"), web("bad"), web("2024-04-16T14:30:00.500Z")]
    result = validate_batch(get_dataset("weblogs"), values, 1 << 20, SEOUL)
    assert result.valid == [0, 2]
    # Both are 14:30 UTC; the zone-less one is read as Seoul time (UTC+9).
    assert result.event_ms.tolist() == [1713277800000, 1713277800500]
    assert [str(d) for d in result.dates] == ["2024-04-16", "2024-04-16"]
