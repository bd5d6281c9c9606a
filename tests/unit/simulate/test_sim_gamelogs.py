"""LoL game log rules (SCENARIOS §3 with L1–L4 fixed).

Statistical checks use fixed seeds and accept 5 binomial standard deviations,
sqrt(p (1 - p) / n), around the rate the rules imply.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict

import pytest

from bdp.datasets import DATASETS
from bdp.simulate import CHAMPIONS, GameOptions, SimulationParams, simulate


def _ms(text: str) -> int:
    moment = dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)
    return round(moment.timestamp() * 1000)


def _by(events, attribute):
    groups = defaultdict(list)
    for event in events:
        groups[getattr(event, attribute)].append(event)
    return groups


def _within(observed: int, n: int, p: float) -> bool:
    return abs(observed / n - p) <= 5 * math.sqrt(p * (1 - p) / n)


def test_reference_population_ten_rooms_of_ten_unique_players(run):
    events = run("gamelogs").events
    players = {(e.account, e.ip, e.roomID) for e in events}
    assert len(players) == 100
    assert len({p[0] for p in players}) == 100 and len({p[1] for p in players}) == 100
    rooms = _by(events, "roomID")
    assert len(rooms) == 10
    assert all(len({e.account for e in room}) == 10 for room in rooms.values())


def test_exactly_one_suspicious_player_and_distinct_champions_per_room(run):
    for room in _by(run("gamelogs").events, "roomID").values():
        champion_of = {e.account: e.champion for e in room}
        assert list(champion_of.values()).count("viktor") == 1
        assert len(set(champion_of.values())) == 10
        assert set(champion_of.values()) <= set(CHAMPIONS)


def test_suspicious_champions_and_count_are_configurable(start_ms):
    params = SimulationParams(
        start_ms=start_ms,
        users=60,
        minutes=3,
        game=GameOptions(suspicious_champions=("zilean", "neeko"), suspicious_per_room=2),
    )
    decoder = DATASETS["gamelogs"].decoder()
    events = [decoder.decode(v) for b in simulate("gamelogs", params) for v in b.values]
    rooms = _by(events, "roomID")
    assert len(rooms) == 6
    for room in rooms.values():
        champions = sorted({e.account: e.champion for e in room}.values())
        assert [c for c in champions if c in ("zilean", "neeko")] == ["neeko", "zilean"]
        assert len(set(champions)) == 10
        wide = [e for e in room if max(abs(e.x), abs(e.y)) > 1250]
        assert {e.champion for e in wide} <= {"zilean", "neeko"}


def test_ids_follow_event_time_from_one(run):
    events = run("gamelogs").events
    assert [e.id for e in events] == list(range(1, len(events) + 1))


def test_death_count_includes_each_death_and_only_moves_die(run):
    for player in _by(run("gamelogs").events, "account").values():
        count = 0
        for event in player:
            if event.status == 1:
                assert event.method == "/move"
                count += 1
            assert event.deathCount == count


def test_at_most_six_purchases_per_player_and_waits_are_idle(run):
    events = run("gamelogs").events
    for player in _by(events, "account").values():
        assert sum(e.method == "/buyItem" for e in player) <= 6
    waits = [e for e in events if e.method == "/wait"]
    assert all((e.x, e.y, e.inputkey, e.status) == (0, 0, None, 0) for e in waits)
    assert {e.champion for e in waits} >= {"viktor"}  # the wait rule applies to everyone
    assert any(e.method == "/buyItem" and e.champion == "viktor" for e in events)
    assert any(e.deathCount > 0 and e.champion == "viktor" for e in events)


def test_rates_of_waits_deaths_and_keys(run):
    events = run("gamelogs", users=400).events
    waits = sum(e.method == "/wait" for e in events)
    assert _within(waits, len(events), 0.15)
    moves = [e for e in events if e.method == "/move"]
    # A /move is an event that was neither a wait nor a purchase: it dies with p = 0.01.
    assert _within(sum(e.status for e in moves), len(moves), 0.01)
    acting = [e for e in events if e.method != "/wait"]
    assert _within(sum(e.inputkey is None for e in acting), len(acting), 0.95 * 0.25 / 3)
    assert _within(sum(e.inputkey == "alt+tab" for e in acting), len(acting), 0.05 / 6)


def test_only_the_coordinate_rule_sets_the_suspicious_player_apart(run):
    acting = [e for e in run("gamelogs", users=400).events if e.method != "/wait"]
    for suspicious, p_wide, reach in ((True, 0.30, 3000), (False, 0.01, 1250)):
        axes = [v for e in acting if (e.champion == "viktor") == suspicious for v in (e.x, e.y)]
        outside = sum(abs(v) > 400 for v in axes)
        # a wide draw lands outside ±400 with 2 (reach - 400) / (2 reach + 1)
        p = p_wide * 2 * (reach - 400) / (2 * reach + 1)
        assert _within(outside, len(axes), p)
        assert max(abs(v) for v in axes) <= reach


def test_game_time_counts_from_each_rooms_own_creation(run):
    events = run("gamelogs").events
    created = {e.roomID: e.createRoomDate for e in events}
    assert len(set(created.values())) == 10  # staggered, one per room
    for event in events[::7]:
        elapsed = (_ms(event.datetime) - _ms(event.createRoomDate)) // 1000
        assert event.ingametime == f"{elapsed // 60}:{elapsed % 60}"


def _last_elapsed_by_room(events):
    last = defaultdict(dict)
    for e in events:
        last[e.roomID][e.account] = _ms(e.datetime) - _ms(e.createRoomDate)
    return {room: sorted(players.values()) for room, players in last.items()}


def test_room_duration_is_drawn_per_room_and_shared_by_its_players(run):
    # The loop checks the duration before sleeping: a player's last event lands in
    # [duration, duration + max sleep), so players of a room end within 18.05 s.
    durations = []
    for ends in _last_elapsed_by_room(run("gamelogs").events).values():
        assert ends[0] >= 1_200_000 and ends[-1] < 3_600_000 + 18_050
        assert ends[-1] - ends[0] < 18_050
        durations.append(ends[0])
    assert max(durations) - min(durations) > 60_000  # not one shared duration


def test_minutes_sets_every_rooms_duration(run):
    for ends in _last_elapsed_by_room(run("gamelogs", users=50, minutes=5).events).values():
        assert ends[0] >= 300_000 and ends[-1] < 300_000 + 18_050


def test_short_last_room_keeps_its_suspicious_player(run):
    rooms = _by(run("gamelogs", users=25, minutes=2).events, "roomID")
    sizes = sorted(len({e.account for e in room}) for room in rooms.values())
    assert sizes == [5, 10, 10]
    for room in rooms.values():
        assert list({e.account: e.champion for e in room}.values()).count("viktor") == 1


@pytest.mark.parametrize(
    "options",
    [
        GameOptions(room_size=0),
        GameOptions(suspicious_per_room=11),
        GameOptions(room_size=17, suspicious_per_room=0),
        GameOptions(suspicious_champions=()),
        GameOptions(suspicious_wide_probability=1.5),
    ],
)
def test_impossible_game_options_fail_fast(start_ms, options):
    with pytest.raises(ValueError):
        simulate("gamelogs", SimulationParams(start_ms=start_ms, game=options))
