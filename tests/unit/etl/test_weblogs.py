"""Web log transform: typed requests and exact per-URL percentiles, worked by hand."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from .conftest import build, rows


def request(url: str, code: int, millis: int, second: int, legacy: bool = False) -> str:
    code_text, millis_text = (f'"{code}"', f'"{millis}"') if legacy else (code, millis)
    return (
        f'{{"ip":"10.0.0.1","datetime":"2024-04-16T00:00:{second:02d}.000Z","method":"GET",'
        f'"url":"{url}","responseCode":{code_text},"responseTime":{millis_text},'
        f'"sessionID":"s1"}}'
    )


EVENTS = [
    request("/", 200, 100, 0, legacy=True),
    request("/", 404, 200, 1, legacy=True),
    request("/", 200, 400, 2),
    request("/ads/page", 503, 1000, 3),
    request("/doc/page", 200, 300, 4),
    request("/doc/page", 301, 100, 5),
    request("/doc/page", 200, 400, 6),
    request("/doc/page", 200, 200, 7),
]


@pytest.fixture
def tables(engine, tmp_path: Path):
    return build(engine, tmp_path, "weblogs", EVENTS)


def test_access_log_typed_with_error_flag(tables) -> None:
    found = rows(tables["weblog_access_log"], "datetime")
    assert found[1] == {
        "ip": "10.0.0.1",
        "datetime": dt.datetime(2024, 4, 16, 0, 0, 1),
        "method": "GET",
        "url": "/",
        "responseCode": 404,
        "responseTime": 200,
        "sessionID": "s1",
        "is_error": True,
    }
    assert [r["is_error"] for r in found] == [False, True, False, True, False, False, False, False]


def test_url_daily_counts_and_interpolated_percentiles(tables) -> None:
    found = rows(tables["weblog_url_daily"], "url")
    assert [(r["url"], r["requests"], r["errors"]) for r in found] == [
        ("/", 3, 1),
        ("/ads/page", 1, 1),
        ("/doc/page", 4, 0),
    ]
    assert [r["error_rate"] for r in found] == pytest.approx([1 / 3, 1.0, 0.0])
    # "/": 100, 200, 400 → rank 0.5·2 = 1 → 200; rank 0.95·2 = 1.9 → 200 + 0.9·200.
    # "/doc/page": 100..400 → rank 1.5 → 250; rank 2.85 → 300 + 0.85·100.
    assert [r["p50_ms"] for r in found] == pytest.approx([200.0, 1000.0, 250.0])
    assert [r["p95_ms"] for r in found] == pytest.approx([380.0, 1000.0, 385.0])
