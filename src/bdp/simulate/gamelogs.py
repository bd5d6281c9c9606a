"""LoL game log simulator (SCENARIOS §3), with the fixes L1–L4 and G1–G8.

Rooms of `room_size` players start a little apart; a room lasts U{1200..3600} s (or
`minutes`), shared by its players. Champions are distinct within a room; exactly
`suspicious_per_room` players per room play a suspicious champion, and the only thing
that sets them apart is their coordinate rule. Wait, purchase and death rules apply to
every player; a death is one `/move` event with status 1, counted in its own deathCount.
"""

from __future__ import annotations

import math

import numpy as np

from bdp.simulate.base import EventTable, SimulationParams, ordered_table
from bdp.simulate.draw import UserClock, categorical, rng_streams, segment_cumsum, time_order
from bdp.simulate.jsonwire import (
    CORRECTED,
    JSON_SIMPLE,
    Fields,
    Lookup,
    Number,
    Template,
    int_range,
)
from bdp.simulate.options import GameOptions
from bdp.simulate.texts import (
    accounts,
    elapsed_lookup,
    event_time,
    format_timestamp,
    ip_addresses,
    uuid4_texts,
)

__all__ = ["KEYS", "KEY_PROBABILITIES", "METHODS", "simulate_gamelogs"]

REFERENCE_ROOMS = 10
MIN_SLEEP_MS, MAX_SLEEP_MS = 50, 18_000
ROOM_SECONDS = (1200, 3600)

P_WAIT = 0.15
P_PURCHASE = 0.03
MAX_PURCHASES = 6
P_DEATH = 0.01
P_WIDE, WIDE_RANGE, NORMAL_RANGE = 0.01, 1250, 400

METHODS = ("/move", "/wait", "/buyItem")
MOVE, WAIT, BUY = 0, 1, 2

_SYSTEM_KEYS = ("alt", "tab", "alt+tab", "esc", "shift", "enter")
_SIDE_KEYS = ("d", "f", None)
_SKILL_KEYS = ("q", "w", "e", "r", "space", "b")
KEYS = (*_SYSTEM_KEYS, *_SIDE_KEYS, *_SKILL_KEYS)
"""Drawn keys; None is "no key" (the reference's string "null")."""
KEY_PROBABILITIES = (
    (0.05 / 6,) * 6 + (0.95 * 0.25 / 3,) * 3 + (0.95 * 0.75 / 6,) * 6
)  # the reference's cascade: 0.05, then 0.25 of the rest, then the rest
WAIT_KEY = len(KEYS)
"""Key index of /wait events: no key (the reference sends "0")."""

_LEGACY_CHAMPIONS = {"ahri": "ari", "lux": "rux"}


def simulate_gamelogs(params: SimulationParams) -> EventTable:
    opts = params.game
    opts.validate()
    players = params.population(REFERENCE_ROOMS * opts.room_size)
    population_rng, clock_rng, event_rng = rng_streams(params.seed, "gamelogs", 3)

    rooms = math.ceil(players / opts.room_size)
    room_of = np.arange(players) // opts.room_size
    seat = np.arange(players) % opts.room_size
    room_start = params.start_ms + population_rng.integers(0, params.spread_ms + 1, rooms)
    if params.minutes is None:
        low, high = ROOM_SECONDS
        room_ms = population_rng.integers(low, high + 1, rooms) * 1000
    else:
        room_ms = np.full(rooms, round(params.minutes * 60_000))
    room_ids = uuid4_texts(population_rng, rooms)
    champion_names, champion_of, suspicious = _cast_champions(population_rng, opts, room_of, seat)
    ips = ip_addresses(population_rng, players)
    names = accounts(population_rng, players)

    # Every player of a room starts with the room and plays until the room ends.
    start = room_start[room_of]
    clock = UserClock(clock_rng, start, MIN_SLEEP_MS, MAX_SLEEP_MS)
    clock.cover(room_ms[room_of])
    valid = clock.valid(room_ms[room_of])
    counts = valid.sum(axis=1)
    player = np.repeat(np.arange(players, dtype=np.int32), counts)
    event_ms = clock.times[valid]
    n = len(event_ms)

    wait = event_rng.random(n) < P_WAIT
    candidate = ~wait & (event_rng.random(n) < P_PURCHASE)
    buy = candidate & (segment_cumsum(candidate, counts) <= MAX_PURCHASES)
    death = ~wait & ~buy & (event_rng.random(n) < P_DEATH)
    method = np.where(wait, WAIT, np.where(buy, BUY, MOVE)).astype(np.int8)
    deaths = segment_cumsum(death, counts).astype(np.int32)
    key = np.where(wait, WAIT_KEY, categorical(event_rng.random(n), KEY_PROBABILITIES))
    wide_p = np.where(suspicious, opts.suspicious_wide_probability, P_WIDE)[player]
    wide_range = np.where(suspicious, opts.suspicious_wide_range, WIDE_RANGE)[player]
    x, y = (
        np.where(wait, 0, _coordinate(event_rng, wide_p, wide_range)).astype(np.int16)
        for _ in range(2)
    )
    elapsed_s = ((event_ms - start[player]) // 1000).astype(np.int32)

    columns = {
        "player": player,
        "method": method,
        "key": key.astype(np.int8),
        "status": death.astype(np.int8),
        "deaths": deaths,
        "x": x,
        "y": y,
        "elapsed": elapsed_s,
    }
    order = time_order(event_ms)
    columns["id"] = np.empty(n, dtype=np.int64)
    columns["id"][order] = np.arange(1, n + 1)  # the sequence number follows event time

    room_dates = [format_timestamp(int(ms)) for ms in room_start]
    player_texts = {
        "roomID": [room_ids[r] for r in room_of],
        "createRoomDate": [room_dates[r] for r in room_of],
        "ip": ips,
        "account": names,
        "champion": [champion_names[c] for c in champion_of],
    }
    fields = _fields(
        player_texts,
        event_ms,
        max_deaths=int(deaths.max(initial=0)),
        max_elapsed=int(elapsed_s.max(initial=0)),
        reach=max(opts.suspicious_wide_range, WIDE_RANGE),
    )
    if params.legacy_wire_format:
        legacy = dict(fields)
        template = Template([(k, legacy[k]) for k in _LEGACY_TEXT_ORDER], JSON_SIMPLE)
    else:
        template = Template(fields, CORRECTED)
    return ordered_table(
        event_ms,
        columns,
        key_table=[name.encode() for name in names],
        key_index=player,
        templates=[template],
        order=order,
    )


def _fields(
    player_texts: dict[str, list[str]],
    event_ms: np.ndarray,
    max_deaths: int,
    max_elapsed: int,
    reach: int,
) -> Fields:
    legacy_champions = [_LEGACY_CHAMPIONS.get(c, c) for c in player_texts["champion"]]
    return [
        ("roomID", Lookup("player", player_texts["roomID"])),
        ("createRoomDate", Lookup("player", player_texts["createRoomDate"])),
        ("ip", Lookup("player", player_texts["ip"])),
        ("account", Lookup("player", player_texts["account"])),
        ("champion", Lookup("player", player_texts["champion"], legacy=legacy_champions)),
        ("id", Number("id")),
        ("datetime", event_time(event_ms)),
        ("ingametime", elapsed_lookup("elapsed", max_elapsed)),
        ("method", Lookup("method", METHODS)),
        ("inputkey", Lookup("key", (*KEYS, None), legacy=(*KEYS, "0"))),
        ("status", Lookup("status", (0, 1))),
        ("deathCount", int_range("deaths", 0, max_deaths)),
        ("x", int_range("x", -reach, reach)),
        ("y", int_range("y", -reach, reach)),
    ]


_LEGACY_TEXT_ORDER = (
    "roomID", "id", "createRoomDate", "ip", "account", "champion", "method", "datetime",
    "x", "y", "inputkey", "status", "deathCount", "ingametime",
)  # fmt: skip
"""The reference's text order: json-simple's HashMap order is derived from it."""


def _coordinate(rng: np.random.Generator, wide_p: np.ndarray, wide_range: np.ndarray) -> np.ndarray:
    """Per axis: U{-range..range} with the player's wide probability, else U{-400..400}."""
    n = len(wide_p)
    value = rng.integers(-NORMAL_RANGE, NORMAL_RANGE + 1, n)
    wide = np.flatnonzero(rng.random(n) < wide_p)
    reach = wide_range[wide]
    value[wide] = rng.integers(-reach, reach + 1)
    return value


def _cast_champions(
    rng: np.random.Generator, opts: GameOptions, room_of: np.ndarray, seat: np.ndarray
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Champion index (into the returned names) and suspicious flag per player.

    Each room ranks its occupied seats in a random order; the first
    `suspicious_per_room` get a suspicious champion (distinct while there are enough),
    the others distinct champions from the rest of the roster.
    """
    rooms, size = int(room_of.max()) + 1, opts.room_size
    suspects = list(dict.fromkeys(opts.suspicious_champions))
    others = [c for c in dict.fromkeys(opts.roster) if c not in suspects]
    keys = np.full((rooms, size), 2.0)  # empty seats (a short last room) rank last
    keys[room_of, seat] = rng.random(len(room_of))
    rank = np.empty((rooms, size), dtype=np.int64)
    np.put_along_axis(rank, np.argsort(keys, axis=1), np.arange(size)[None, :], axis=1)
    player_rank = rank[room_of, seat]
    suspicious = player_rank < opts.suspicious_per_room

    other_pick = np.argsort(rng.random((rooms, len(others))), axis=1)
    suspect_pick = np.argsort(rng.random((rooms, max(len(suspects), 1))), axis=1)
    champion = np.empty(len(room_of), dtype=np.int32)
    ranks = player_rank[suspicious]
    champion[suspicious] = suspect_pick[room_of[suspicious], ranks % max(len(suspects), 1)]
    regular = ~suspicious
    picks = other_pick[room_of[regular], player_rank[regular] - opts.suspicious_per_room]
    champion[regular] = len(suspects) + picks
    return suspects + others, champion, suspicious
