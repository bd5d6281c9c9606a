"""Lost Ark raid log rules (SCENARIOS §5, [A], with R1–R3 and G7 fixed)."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pytest

from bdp.datasets.lostarklogs import RAID_RESULT, game_seconds
from bdp.simulate import BOSSES, RaidOptions, SimulationParams, simulate, simulate_table
from bdp.simulate.lostarklogs import CLASSES


def _ms(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


def _rooms(events):
    rooms = defaultdict(lambda: ([], defaultdict(list)))
    for event in events:
        results, players = rooms[event.sessionID]
        if event.method == RAID_RESULT:
            results.append(event)
        else:
            players[event.User.account].append(event)
    return rooms


def test_reference_population_twelve_rooms_of_eight(run):
    rooms = _rooms(run("lostarklogs").events)
    assert len(rooms) == 12
    assert all(len(players) == 8 for _, players in rooms.values())
    accounts = [a for _, players in rooms.values() for a in players]
    assert len(set(accounts)) == 96
    assert len(CLASSES) == len(set(CLASSES)) == 26


def test_each_player_ends_with_exactly_one_death_or_clear(run):
    for _, players in _rooms(run("lostarklogs").events).values():
        for events in players.values():
            endings = [e for e in events if e.status == 1 or e.success == 1]
            assert endings == [events[-1]]
            assert not (events[-1].status == 1 and events[-1].success == 1)
            assert events[-1].method != "/wait"


def test_clear_is_the_first_action_past_the_time_limit(run):
    for _, players in _rooms(run("lostarklogs").events).values():
        for events in players.values():
            limit = events[0].Boss.endTime
            actions = [e for e in events if e.method != "/wait"]
            assert all(game_seconds(e.gametime) <= limit for e in actions[:-1])
            if events[-1].success:
                assert game_seconds(events[-1].gametime) > limit


def test_waits_are_idle_and_keep_their_key(run):
    waits = [e for e in run("lostarklogs").events if e.method == "/wait"]
    assert all((e.x, e.y, e.status, e.success) == (0, 0, 0, 0) for e in waits)
    assert len({e.inputkey for e in waits}) > 5


def test_one_consistent_result_event_per_room(run):
    events = run("lostarklogs").events
    for session, (results, players) in _rooms(events).items():
        assert len(results) == 1
        result = results[0]
        last = [p[-1] for p in players.values()]
        survivors = sum(e.success for e in last)
        assert result.survivors == survivors
        assert result.result == ("cleared" if survivors else "wiped")
        assert result.datetime == max((e.datetime for e in last), key=_ms)
        assert result.Boss == last[0].Boss and result.startTime == last[0].startTime
        elapsed = (_ms(result.datetime) - _ms(result.startTime)) // 1000
        assert game_seconds(result.gametime) == elapsed
        room_events = [e for e in events if e.sessionID == session]
        assert room_events[-1] is result  # nothing of the room follows its result


def test_room_start_is_shared_and_game_time_counts_from_it(run):
    for _, players in _rooms(run("lostarklogs").events).values():
        starts = {e.startTime for events in players.values() for e in events}
        assert len(starts) == 1
        for events in players.values():
            for e in events[::5]:
                elapsed = (_ms(e.datetime) - _ms(e.startTime)) // 1000
                assert game_seconds(e.gametime) == elapsed


def test_survival_to_the_time_limit(run):
    # Per player, survival to 600 s is about exp(-0.85 * 0.005 * 600 / 4.55) = 0.57;
    # accept 5 binomial standard deviations plus 0.01 for the approximation.
    lasts = [
        p[-1]
        for _, players in _rooms(run("lostarklogs", users=1600).events).values()
        for p in players.values()
        if p[-1].Boss.endTime == 600
    ]
    expected = math.exp(-0.85 * 0.005 * 600 / 4.5495)
    observed = sum(e.success for e in lasts) / len(lasts)
    assert abs(observed - expected) <= 5 * math.sqrt(expected * (1 - expected) / len(lasts)) + 0.01


def test_bosses_are_the_configured_table(run):
    bosses = {e.Boss.name: e.Boss for e in run("lostarklogs", users=400).events}
    assert set(bosses) == {b.name for b in BOSSES}
    for boss in BOSSES:
        assert (bosses[boss.name].item_level, bosses[boss.name].endTime) == (
            boss.item_level,
            boss.end_seconds,
        )


def test_a_short_cap_stops_players_without_an_ending(start_ms):
    params = SimulationParams(start_ms=start_ms, users=16, minutes=2)
    from bdp.datasets import DATASETS

    decoder = DATASETS["lostarklogs"].decoder()
    events = [decoder.decode(v) for b in simulate("lostarklogs", params) for v in b.values]
    rooms = _rooms(events)
    for results, players in rooms.values():
        assert len(results) == 1 and results[0].survivors == 0
        assert all(not any(e.success for e in p) for p in players.values())


def test_unknown_platform_zone_fails_fast(start_ms):
    with pytest.raises(ValueError, match="time zone"):
        simulate(
            "lostarklogs", SimulationParams(start_ms=start_ms, raid=RaidOptions(tz="Mars/Base"))
        )


def test_a_session_before_1970_ends_its_rooms_after_they_start() -> None:
    # Event times are negative then; each room's result came out at the epoch (and its
    # time table spanned every second from the session to 1970).
    start = _ms("1969-12-31T12:00:00.000Z")
    params = SimulationParams(start_ms=start, users=16, minutes=2, start_spread_seconds=5)
    table = simulate_table("lostarklogs", params)
    # Two minutes' play plus the last sleep; the epoch is twelve hours later.
    assert start <= table.event_ms.min() and table.event_ms.max() < start + 5 * 60_000
