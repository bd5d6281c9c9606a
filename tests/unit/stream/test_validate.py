"""Each kind of bad input is rejected with its own reason; good records get their event date."""

from zoneinfo import ZoneInfo

import numpy as np
import pytest

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
