"""Lost Ark raid log simulator (SCENARIOS §5, [A] numbers), with the fixes R1–R3, G7.

Rooms of 8 players fight one boss from the room's start. A player's stream ends at
their first non-wait event that is a death (p = 0.005) or, failing that, comes after
the boss's time limit (a clear). When the last player of a room has finished, one
`/raid_result` event closes the room: cleared if anyone cleared, else wiped.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from bdp.datasets.lostarklogs import RAID_RESULT
from bdp.simulate.base import EventTable, SimulationParams, ordered_table
from bdp.simulate.draw import UserClock, categorical, rng_streams, time_order
from bdp.simulate.jsonwire import (
    CORRECTED,
    JSON_SIMPLE,
    Fields,
    Lookup,
    Spec,
    Template,
    int_range,
)
from bdp.simulate.texts import (
    accounts,
    elapsed_lookup,
    event_time,
    format_local_timestamp,
    format_timestamp,
    ip_addresses,
    uuid4_texts,
)

__all__ = ["CLASSES", "KEYS", "METHODS", "simulate_lostarklogs"]

REFERENCE_ROOMS = 12
REFERENCE_CAP_SECONDS = 3600
MIN_SLEEP_MS, MAX_SLEEP_MS = 50, 9_000
HORIZON_STEP_MS = 30_000
"""How far past a boss's time limit the clock is drawn before looking for endings;
a player still undecided there (only waits since the limit) gets more."""

CLASSES = (
    "Berserker", "Destroyer", "Warlord", "Holyknight", "Striker", "Breaker", "Artist",
    "Aeromancer", "Blade", "Arcana", "Bard", "Scouter", "DevilHunter", "Infighter",
    "Slayer", "Battle Master", "Soul Master", "Lance Master", "Blaster", "Hawk Eye",
    "Gunslinger", "Summoner", "Sorceress", "Demonic", "Reaper", "Souleater",
)  # fmt: skip
"""The reference's 27-entry list without its duplicate `Arcana`."""

METHODS = ("/move", "/chat", "/wait")
METHOD_PROBABILITIES = (0.765, 0.85 * 0.10, 0.15)
WAIT = 2
KEYS: tuple[str, ...] = (
    "alt",
    "tab",
    "alt+tab",
    "esc",
    "shift",
    "enter",
    "q",
    "w",
    "e",
    "r",
    "a",
    "s",
    "d",
)
KEYS += ("f", "space", "b")
KEY_PROBABILITIES = (0.20 / 6,) * 6 + (0.80 / 10,) * 10
P_WIDE, WIDE_RANGE, NORMAL_RANGE = 0.01, 1250, 400


def simulate_lostarklogs(params: SimulationParams) -> EventTable:
    opts = params.raid
    opts.validate()
    players = params.population(REFERENCE_ROOMS * opts.room_size)
    population_rng, clock_rng, event_rng = rng_streams(params.seed, "lostarklogs", 3)

    rooms = math.ceil(players / opts.room_size)
    room_of = np.arange(players) // opts.room_size
    room_start = params.start_ms + population_rng.integers(0, params.spread_ms + 1, rooms)
    room_ids = uuid4_texts(population_rng, rooms)
    boss_of_room = population_rng.integers(0, len(opts.bosses), rooms)
    class_of = population_rng.integers(0, len(CLASSES), players)
    ips = ip_addresses(population_rng, players)
    names = accounts(population_rng, players)

    start = room_start[room_of]
    limit_ms = np.array([b.end_seconds for b in opts.bosses], dtype=np.int64)[boss_of_room]
    # "whole seconds elapsed > endTime" holds from (endTime + 1) s on
    clear_ms = (limit_ms[room_of] + 1) * 1000
    cap_ms = params.duration_ms(REFERENCE_CAP_SECONDS)
    player, event_ms, method_u, death, success, ends = _play_by_limit(
        clock_rng, start, clear_ms, cap_ms, opts.death_probability
    )
    method = categorical(method_u, METHOD_PROBABILITIES[::-1])
    method = (WAIT - method).astype(np.int8)  # drawn as wait | chat | move, like the reference
    counts = np.bincount(player, minlength=players)
    is_last = np.zeros(len(event_ms), dtype=bool)
    is_last[np.cumsum(counts) - 1] = True
    status = (is_last & death[player]).astype(np.int8)
    succeeded = (is_last & success[player]).astype(np.int8)

    n = len(event_ms)
    wait = method == WAIT
    key = categorical(event_rng.random(n), KEY_PROBABILITIES)
    x, y = (np.where(wait, 0, _coordinate(event_rng, n)).astype(np.int16) for _ in range(2))
    elapsed = ((event_ms - start[player]) // 1000).astype(np.int32)

    # One result per room, at the time of the room's last player event.
    # From the room's start, not zero: before 1970 every event time is negative.
    room_end = room_start.astype(np.int64)
    np.maximum.at(room_end, room_of, ends)
    survivors = np.bincount(room_of, weights=success, minlength=rooms).astype(np.int32)
    result_elapsed = ((room_end - room_start) // 1000).astype(np.int32)

    all_ms = np.concatenate([event_ms, room_end])
    room_col = np.concatenate([room_of[player], np.arange(rooms)]).astype(np.int32)
    columns = {
        "player": np.concatenate([player, np.zeros(rooms, dtype=np.int32)]),
        "room": room_col,
        "method": np.concatenate([method, np.zeros(rooms, dtype=np.int8)]),
        "key": np.concatenate([key, np.zeros(rooms, dtype=np.int8)]),
        "x": np.concatenate([x, np.zeros(rooms, dtype=np.int16)]),
        "y": np.concatenate([y, np.zeros(rooms, dtype=np.int16)]),
        "status": np.concatenate([status, np.zeros(rooms, dtype=np.int8)]),
        "success": np.concatenate([succeeded, np.zeros(rooms, dtype=np.int8)]),
        "elapsed": np.concatenate([elapsed, result_elapsed]),
    }
    shape = np.concatenate([np.zeros(n, dtype=np.int8), np.ones(rooms, dtype=np.int8)])

    if params.legacy_wire_format:
        started = [format_local_timestamp(int(ms), opts.tz) for ms in room_start]
    else:
        started = [format_timestamp(int(ms)) for ms in room_start]
    bosses = [opts.bosses[b] for b in boss_of_room]
    room = {
        "sessionID": room_ids,
        "startTime": started,
        "name": [b.name for b in bosses],
        "item_level": [b.item_level for b in bosses],
        "endTime": [b.end_seconds for b in bosses],
        "result": ["cleared" if s else "wiped" for s in survivors],
        "survivors": survivors.tolist(),
    }
    texts = _Texts(room, room_of, class_of, ips, names, all_ms, int(columns["elapsed"].max()))
    templates = texts.templates(params.legacy_wire_format)
    return ordered_table(
        all_ms,
        columns,
        key_table=[room_id.encode() for room_id in room_ids],
        key_index=room_col,
        templates=templates,
        order=time_order(all_ms),
        shape=shape,
    )


def _play_by_limit(
    rng: np.random.Generator,
    start: np.ndarray,
    clear_ms: np.ndarray,
    cap_ms: int,
    p_death: float,
) -> tuple[np.ndarray, ...]:
    """Every player's events until death, clear or the duration cap.

    Players are played in groups of equal time limit, so each group's clock grid is
    about as long as its raids. Returns, player-major: each event's player, time and
    method draw; per player: died, cleared and the time of their last event.
    """
    players = len(start)
    death = np.zeros(players, dtype=bool)
    success = np.zeros(players, dtype=bool)
    ends = np.zeros(players, dtype=np.int64)
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for limit in np.unique(clear_ms):
        rows = np.flatnonzero(clear_ms == limit)
        clock = UserClock(rng, start[rows], MIN_SLEEP_MS, MAX_SLEEP_MS, uniforms=2)
        last, death[rows], success[rows] = _play(clock, int(limit), cap_ms, p_death)
        keep = np.arange(clock.times.shape[1])[None, :] <= last[:, None]
        ends[rows] = clock.times[np.arange(len(rows)), last]
        group_player = np.repeat(rows.astype(np.int32), last + 1)
        parts.append((group_player, clock.times[keep], clock.uniforms[0][keep]))
    player, event_ms, method_u = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.argsort(player, kind="stable")  # player-major, as the rules downstream expect
    return player[order], event_ms[order], method_u[order], death, success, ends


def _play(
    clock: UserClock, clear_ms: int, cap_ms: int, p_death: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each player's last iteration and whether it was a death or a clear.

    Grows the clock until every player has died, cleared or hit the duration cap.
    """
    horizon = np.full(len(clock.start), min(clear_ms + HORIZON_STEP_MS, cap_ms))
    while True:
        clock.cover(horizon)
        valid = clock.valid(cap_ms)
        action = clock.uniforms[0] >= METHOD_PROBABILITIES[-1]  # not a /wait
        dies = action & (clock.uniforms[1] < p_death) & valid
        clears = action & ~dies & (clock.times - clock.start[:, None] >= clear_ms) & valid
        ending = dies | clears
        ended = ending.any(axis=1)
        capped = ~valid[:, -1]  # the cap stopped the loop inside the grid
        undecided = ~ended & ~capped
        if not undecided.any():
            break
        horizon = np.where(undecided, np.minimum(horizon + HORIZON_STEP_MS, cap_ms), horizon)
    first = ending.argmax(axis=1)
    last = np.where(ended, first, valid.sum(axis=1) - 1)
    rows = np.arange(len(last))
    return last, ended & dies[rows, first], ended & clears[rows, first]


def _coordinate(rng: np.random.Generator, n: int) -> np.ndarray:
    value = rng.integers(-NORMAL_RANGE, NORMAL_RANGE + 1, n)
    wide = np.flatnonzero(rng.random(n) < P_WIDE)
    value[wide] = rng.integers(-WIDE_RANGE, WIDE_RANGE + 1, wide.size)
    return value


class _Texts:
    """Field specs of the two document shapes: player events and room results."""

    def __init__(
        self,
        room: dict[str, list[Any]],
        room_of: np.ndarray,
        class_of: np.ndarray,
        ips: list[str],
        names: list[str],
        event_ms: np.ndarray,
        max_elapsed: int,
    ) -> None:
        self.room = room
        self.by_player = {k: [v[r] for r in room_of] for k, v in room.items()}
        self.classes = [CLASSES[c] for c in class_of]
        self.ips, self.names = ips, names
        self.time = event_time(event_ms)
        self.gametime = elapsed_lookup("elapsed", max_elapsed)

    def templates(self, legacy: bool) -> list[Template]:
        p, r = self.by_player, self.room
        boss = [
            ("name", Lookup("player", p["name"])),
            ("item_level", Lookup("player", p["item_level"])),
            ("endTime", Lookup("player", p["endTime"])),
        ]
        user = [
            ("class", Lookup("player", self.classes)),
            ("account", Lookup("player", self.names)),
            ("ip", Lookup("player", self.ips)),
        ]
        room_boss = [
            ("name", Lookup("room", r["name"])),
            ("item_level", Lookup("room", r["item_level"])),
            ("endTime", Lookup("room", r["endTime"])),
        ]
        event: dict[str, Spec | Fields] = {
            "sessionID": Lookup("player", p["sessionID"]),
            "startTime": Lookup("player", p["startTime"]),
            "Boss": boss,
            "User": user,
            "gametime": self.gametime,
            "method": Lookup("method", METHODS),
            "x": int_range("x", -WIDE_RANGE, WIDE_RANGE),
            "y": int_range("y", -WIDE_RANGE, WIDE_RANGE),
            "status": Lookup("status", (0, 1)),
            "success": Lookup("success", (0, 1)),
        }
        result: dict[str, Spec | Fields] = {
            "sessionID": Lookup("room", r["sessionID"]),
            "startTime": Lookup("room", r["startTime"]),
            "Boss": room_boss,
            "method": Lookup("room", [RAID_RESULT] * len(r["sessionID"])),
            "result": Lookup("room", r["result"]),
            "survivors": Lookup("room", r["survivors"]),
            "gametime": self.gametime,
        }
        if legacy:
            event["inpukey"] = Lookup("key", KEYS)
            event_order: tuple[str, ...] = (
                "sessionID",
                "startTime",
                "gametime",
                "success",
                "User",
                "Boss",
            )
            event_order += ("method", "x", "y", "inpukey", "status")
            result_order: tuple[str, ...] = (
                "sessionID",
                "startTime",
                "gametime",
                "Boss",
                "method",
                "result",
            )
            result_order += ("survivors",)
            style = JSON_SIMPLE
        else:
            event["inputkey"] = Lookup("key", KEYS)
            event["datetime"] = result["datetime"] = self.time
            event_order = ("sessionID", "startTime", "Boss", "User", "datetime", "gametime")
            event_order += ("method", "inputkey", "x", "y", "status", "success")
            result_order = ("sessionID", "startTime", "Boss", "method", "result", "survivors")
            result_order += ("datetime", "gametime")
            style = CORRECTED
        return [
            Template([(k, event[k]) for k in event_order], style),
            Template([(k, result[k]) for k in result_order], style),
        ]
