"""Ad log rules (SCENARIOS §6.2, [A], with G1 and A1 fixed)."""

from __future__ import annotations

import datetime as dt
import itertools
from collections import defaultdict

import pytest

from bdp.simulate import AdOptions, SimulationParams, simulate


def _ms(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


def _pairs(events):
    pairs = defaultdict(list)
    for event in events:
        pairs[(event.Ad.ad_id, event.User.account)].append(event)
    return pairs


def test_four_ads_with_a_thousand_distinct_users_each(run):
    pairs = _pairs(run("adlogs").events)
    by_ad = defaultdict(set)
    for ad_id, account in pairs:
        by_ad[ad_id].add(account)
    assert len(by_ad) == 4
    accounts = [a for users in by_ad.values() for a in users]
    assert len(accounts) == len(set(accounts)) > 3950  # 4000 users, nearly all emit


def test_clicks_are_at_least_a_minute_apart(run):
    # The flag clears at the first iteration more than 60 whole seconds after the
    # click, and a click can only come at a later iteration (>= 100 ms after).
    for events in _pairs(run("adlogs").events).values():
        clicks = [_ms(e.datetime) for e in events if e.event == "click"]
        assert all(b - a >= 61_100 for a, b in itertools.pairwise(clicks))


def test_deltas_add_up_to_the_running_totals(run):
    for events in _pairs(run("adlogs").events).values():
        viewed = clicked = 0
        for e in events:
            viewed += e.delta.viewing_time
            clicked += e.delta.click_count
            assert (e.Ad.viewing_time, e.Ad.click_count) == (viewed, clicked)


def test_event_kinds_match_flags_and_views_alternate(run):
    for events in _pairs(run("adlogs").events).values():
        started = None
        for e in events:
            if e.event == "click":
                assert e.User.click and e.delta.click_count == 1 and e.delta.viewing_time == 0
            elif e.event == "view_start":
                assert started is None
                assert e.User.view and e.User.total_time == 0 and e.delta.viewing_time == 0
                started = _ms(e.datetime)
            else:
                assert started is not None and not e.User.view
                assert e.User.total_time == (_ms(e.datetime) - started) // 1000
                assert e.delta.viewing_time == e.User.total_time
                started = None


def test_click_flag_stays_up_through_the_cooldown(run):
    for events in list(_pairs(run("adlogs").events).values())[:1000]:
        last_click = None
        for e in events:
            if e.event == "click":
                last_click = _ms(e.datetime)
            elif last_click is not None and _ms(e.datetime) - last_click < 61_000:
                assert e.User.click  # still in the cooldown


def test_mean_view_length(run):
    # A view lasts Geometric(0.6) iterations of mean sleep 100 + 8999.5 ms: 15.17 s,
    # floored to whole seconds (about -0.5 s). The sd of one view is about 11.7 s;
    # accept 5 standard errors plus 0.1 s for the flooring approximation.
    lengths = [e.User.total_time for e in run("adlogs").events if e.event == "view_end"]
    mean = sum(lengths) / len(lengths)
    expected = 9_099.5 / 0.6 / 1000 - 0.5
    assert abs(mean - expected) <= 5 * 11.7 / len(lengths) ** 0.5 + 0.1


def test_campaign_dates_default_to_two_weeks_around_the_day(run, start_ms):
    events = run("adlogs").events
    assert {(e.Ad.start_time, e.Ad.end_time) for e in events} == {("2024-04-02", "2024-04-30")}
    options = AdOptions(campaign_start=dt.date(2024, 3, 31), campaign_end=dt.date(2024, 4, 15))
    params = SimulationParams(start_ms=start_ms, users=8, minutes=20, ads=options)
    value = next(iter(simulate("adlogs", params))).values[0]
    assert b'"start_time":"2024-03-31"' in value and b'"end_time":"2024-04-15"' in value


def test_campaign_ending_before_it_starts_fails_fast(start_ms):
    options = AdOptions(campaign_start=dt.date(2024, 5, 1))
    with pytest.raises(ValueError, match="before it starts"):
        simulate("adlogs", SimulationParams(start_ms=start_ms, ads=options))
