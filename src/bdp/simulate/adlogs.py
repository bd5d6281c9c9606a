"""Ad log simulator (SCENARIOS §6, [A] numbers), with the fixes G1 and A1.

Four ads, each watched by its own users (distinct accounts across ads). Every
iteration of a (ad, user) pair runs two independent steps, each of which may emit:
a click (p = 0.01, then a cooldown until more than 60 whole seconds have passed) and a
view start (p = 0.05) or end (p = 0.60 while watching). Corrected events say which of
the three they are and carry the per-event deltas beside the running totals.
"""

from __future__ import annotations

import datetime as _dt

import numpy as np

from bdp.datasets.adlogs import EVENT_KINDS
from bdp.simulate.base import EventTable, SimulationParams, ordered_table
from bdp.simulate.draw import categorical, rng_streams, time_order
from bdp.simulate.jsonwire import (
    CORRECTED,
    JSON_SIMPLE,
    Fields,
    Lookup,
    Spec,
    Template,
    int_range,
)
from bdp.simulate.texts import accounts, event_time, uuid4_texts

__all__ = ["CATALOG", "simulate_adlogs"]

REFERENCE_USERS_PER_AD = 1000
REFERENCE_SECONDS = 3600
MIN_SLEEP_MS, MAX_SLEEP_MS = 100, 18_000
P_CLICK, CLICK_COOLDOWN_S = 0.01, 60
P_VIEW_START, P_VIEW_END = 0.05, 0.60
ITERATION_BLOCK = 64
"""Iterations whose sleeps and draws are drawn at once for every pair."""

CATALOG = (
    ("야놀자", "숙박과 관련된 광고입니다.", "lodgment,event"),
    ("리그오브레전드", "리그오브레전드와 관련된 광고입니다.", "game"),
    ("유튜브", "유튜브 광고 입니다.", "youtube"),
    ("로스트아크", "RPG와 관련된 광고입니다.", "game"),
)
"""(ad_name, ad_explain, genre) of the four ads, as emitted."""

AGE_RANGES = ((70, 99), (40, 70), (20, 40))
AGE_PROBABILITIES = (0.01, 0.99 * 0.05, 0.99 * 0.95)
CLICK, VIEW_START, VIEW_END = range(3)


def simulate_adlogs(params: SimulationParams) -> EventTable:
    pairs = params.population(REFERENCE_USERS_PER_AD * len(CATALOG))
    population_rng, clock_rng, event_rng = rng_streams(params.seed, "adlogs", 3)
    day = _dt.datetime.fromtimestamp(params.start_ms / 1000, tz=_dt.UTC).date()
    campaign = params.ads.campaign(day)

    ad_ids = uuid4_texts(population_rng, len(CATALOG))
    ad_of = (np.arange(pairs) % len(CATALOG)).astype(np.int32)  # users spread over the ads
    names = accounts(population_rng, pairs)
    female = population_rng.random(pairs) < 0.5
    band = categorical(population_rng.random(pairs), AGE_PROBABILITIES)
    low = np.array([r[0] for r in AGE_RANGES])[band]
    high = np.array([r[1] for r in AGE_RANGES])[band]
    age = population_rng.integers(low, high + 1)
    start = params.start_ms + population_rng.integers(0, params.spread_ms + 1, pairs)

    duration = params.duration_ms(REFERENCE_SECONDS)
    events = _run_pairs(start, start + duration, clock_rng, event_rng)

    pair = events["pair"]
    event_ms = events["time"]
    columns = {
        "pair": pair,
        "ad": ad_of[pair].astype(np.int8),
        "kind": events["kind"],
        "clicks": events["clicks"],
        "viewed": events["viewed"],
        "last_view": events["last_view"],
        "delta_view": np.where(events["kind"] == VIEW_END, events["last_view"], 0),
        "click_flag": events["click_flag"],
        "view_flag": events["view_flag"],
    }
    maxima = {name: int(columns[name].max(initial=0)) for name in columns}
    ad_texts = {
        "ad_id": ad_ids,
        "ad_name": [name for name, _, _ in CATALOG],
        "ad_explain": [explain for _, explain, _ in CATALOG],
        "genre": [genre for _, _, genre in CATALOG],
        "start_time": [campaign[0].isoformat()] * len(CATALOG),
        "end_time": [campaign[1].isoformat()] * len(CATALOG),
    }
    pair_texts = {
        "account": names,
        "gender": ["female" if f else "male" for f in female],
        "age": age.tolist(),
    }
    ad: dict[str, Spec] = {key: Lookup("ad", texts) for key, texts in ad_texts.items()}
    ad["viewing_time"] = int_range("viewed", 0, maxima["viewed"])
    ad["click_count"] = int_range("clicks", 0, maxima["clicks"])
    user: dict[str, Spec] = {
        key: Lookup("pair", pair_texts[key]) for key in ("account", "gender", "age")
    }
    user["click"] = Lookup("click_flag", (False, True))
    user["view"] = Lookup("view_flag", (False, True))
    user["total_time"] = int_range("last_view", 0, maxima["last_view"])
    time = event_time(event_ms)
    if params.legacy_wire_format:
        user["offset_time"] = time
        ad_order: tuple[str, ...] = (
            "ad_id",
            "ad_name",
            "ad_explain",
            "genre",
            "viewing_time",
            "click_count",
        )
        ad_order += ("start_time", "end_time")
        user_order: tuple[str, ...] = (
            "account",
            "gender",
            "age",
            "click",
            "view",
            "total_time",
            "offset_time",
        )
        fields: Fields = [
            ("Ad", [(k, ad[k]) for k in ad_order]),
            ("User", [(k, user[k]) for k in user_order]),
        ]
        template = Template(fields, JSON_SIMPLE)
    else:
        ad_order = ("viewing_time", "click_count", "ad_id", "ad_name", "ad_explain", "genre")
        ad_order += ("start_time", "end_time")
        user_order = ("account", "gender", "age", "click", "view", "total_time")
        delta = [
            ("click_count", Lookup("kind", (1, 0, 0))),
            ("viewing_time", int_range("delta_view", 0, maxima["delta_view"])),
        ]
        fields = [
            ("event", Lookup("kind", EVENT_KINDS)),
            ("delta", delta),
            ("datetime", time),
            ("Ad", [(k, ad[k]) for k in ad_order]),
            ("User", [(k, user[k]) for k in user_order]),
        ]
        template = Template(fields, CORRECTED)
    return ordered_table(
        event_ms,
        columns,
        key_table=[name.encode() for name in names],
        key_index=pair,
        templates=[template],
        order=time_order(event_ms),
    )


def _run_pairs(
    start: np.ndarray,
    end_ms: np.ndarray,
    clock_rng: np.random.Generator,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Run §6.2 for all pairs, one iteration at a time across all pairs; returns the
    events in iteration order (a click before the view event of the same iteration).

    Each pair sleeps `MIN + floor(U * MAX)` ms before each iteration and runs while its
    previous iteration ended before its `end_ms` (the duration is checked at the top of
    the loop). Sleeps and draws come in blocks of iterations, so memory stays small.
    The draws are float32, whose 2^-24 resolution is far below what any test of these
    rates could see.
    """
    pairs = len(start)
    clicking = np.zeros(pairs, dtype=bool)
    cool_until = np.zeros(pairs, dtype=np.int64)
    clicks = np.zeros(pairs, dtype=np.int32)
    watching = np.zeros(pairs, dtype=bool)
    view_from = np.zeros(pairs, dtype=np.int64)
    viewed = np.zeros(pairs, dtype=np.int32)
    last_view = np.zeros(pairs, dtype=np.int32)
    out: dict[str, list[np.ndarray]] = {k: [] for k in _EVENT_FIELDS}

    def record(rows: np.ndarray, now: np.ndarray, kind: int) -> None:
        out["pair"].append(rows.astype(np.int32))
        out["time"].append(now[rows])
        out["kind"].append(np.full(rows.size, kind, dtype=np.int8))
        out["clicks"].append(clicks[rows])
        out["viewed"].append(viewed[rows])
        out["last_view"].append(last_view[rows])
        out["click_flag"].append(clicking[rows].astype(np.int8))
        out["view_flag"].append(watching[rows].astype(np.int8))

    now = start.astype(np.int64)
    live = np.ones(pairs, dtype=bool)
    k = ITERATION_BLOCK
    while True:
        if k == ITERATION_BLOCK:
            shape = (ITERATION_BLOCK, pairs)
            gaps = clock_rng.integers(MIN_SLEEP_MS, MIN_SLEEP_MS + MAX_SLEEP_MS, shape, np.int32)
            click_u = rng.random(shape, dtype=np.float32)
            view_u = rng.random(shape, dtype=np.float32)
            k = 0
        now += gaps[k]
        click_k, u = click_u[k], view_u[k]
        k += 1
        # Step 1: a click needs the flag down at the top of the step; the flag comes
        # down once more than 60 whole seconds have passed since the counted click.
        clicked = (click_k < P_CLICK) & live & ~clicking
        clicking &= now < cool_until
        rows = np.flatnonzero(clicked)
        if rows.size:
            clicking[rows] = True
            cool_until[rows] = now[rows] + (CLICK_COOLDOWN_S + 1) * 1000
            clicks[rows] += 1
            record(rows, now, CLICK)
        # Step 2: a view ends (p = 0.6) or starts (p = 0.05).
        ends = np.flatnonzero((u < P_VIEW_END) & live & watching)
        starts = np.flatnonzero((u < P_VIEW_START) & live & ~watching)
        if ends.size:
            seconds = ((now[ends] - view_from[ends]) // 1000).astype(np.int32)
            last_view[ends] = seconds
            viewed[ends] += seconds
            watching[ends] = False
            record(ends, now, VIEW_END)
        if starts.size:
            last_view[starts] = 0
            view_from[starts] = now[starts]
            watching[starts] = True
            record(starts, now, VIEW_START)
        np.less(now, end_ms, out=live)  # whether the next iteration runs
        if not live.any():
            break
    return {
        name: np.concatenate(parts) if parts else np.zeros(0, dtype=_EVENT_FIELDS[name])
        for name, parts in out.items()
    }


_EVENT_FIELDS = {
    "pair": np.int32,
    "time": np.int64,
    "kind": np.int8,
    "clicks": np.int32,
    "viewed": np.int32,
    "last_view": np.int32,
    "click_flag": np.int8,
    "view_flag": np.int8,
}
