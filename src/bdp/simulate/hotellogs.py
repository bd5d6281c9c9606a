"""Hotel web log simulator (SCENARIOS §4), with the fixes G1 and H1.

Every user browses for the session length: a method drawn by the reference's cascade
(§4.2), then the booking state rules (§4.3) — a booking sets the state, a booked user
refunds with p = 0.02, a female user without a booking books with p = 0.06. The state
is sequential per user, so the rules run one iteration column at a time across all
users at once.
"""

from __future__ import annotations

import numpy as np

from bdp.simulate.base import EventTable, SimulationParams, ordered_table
from bdp.simulate.draw import UserClock, categorical, rng_streams, time_order
from bdp.simulate.jsonwire import CORRECTED, JSON_SIMPLE, Lookup, Spec, Template, Text
from bdp.simulate.options import HotelOptions
from bdp.simulate.texts import accounts, draw_uuid_bits, event_time, ip_addresses, uuid_texts

__all__ = ["AGE_BANDS", "METHOD_PROBABILITIES", "simulate_hotellogs"]

REFERENCE_USERS = 200
REFERENCE_SECONDS = 3600
MIN_SLEEP_MS, MAX_SLEEP_MS = 100, 18_000
PROPERTIES = 50

AGE_BANDS = ("20-29", "30-39", "40-49", "50-59", "60-100")
AGE_PROBABILITIES = (0.70, 0.30 * 0.5, 0.15 * 0.3, 0.105 * 0.1, 0.105 * 0.9)
"""The reference's cascade of fresh draws (> 0.3, > 0.5, > 0.7, > 0.9)."""
GENDERS = ("male", "female")

_MENU = (
    ("/sub-home/hotel", 0.15),
    ("/sub-home/pension", 0.15),
    ("/sub-home/residence", 0.15),
    ("/sub-home/motel", 0.15),
    ("/flights", 0.125),
    ("/sub-home/global", 0.125),
    ("/sub-home/transportation", 0.125),
    ("/leisure", 1.0),
)
"""Top-menu cascade: each entry takes its share of what the ones before it left."""
P_MENU, P_PROPERTY, P_BOOK_PROPERTY = 0.30, 0.70 * 0.30, 0.03


def _menu_probabilities() -> list[float]:
    left, out = P_MENU, []
    for _, share in _MENU:
        out.append(left * share)
        left -= left * share
    return out


# Draw categories: "/", a property click, a property booking, then the menu entries.
HOME, CLICK, BOOK = 0, 1, 2
METHOD_PROBABILITIES = (
    1 - P_MENU - P_PROPERTY,
    P_PROPERTY * (1 - P_BOOK_PROPERTY),
    P_PROPERTY * P_BOOK_PROPERTY,
    *_menu_probabilities(),
)

# Emitted method texts: "/", /places/N, /buy/places/N, the menu entries, the refund.
_CLICK_AT, _BOOK_AT = 1, 1 + PROPERTIES
_MENU_AT = 1 + 2 * PROPERTIES
REFUND = _MENU_AT + len(_MENU)
METHOD_TEXTS = (
    "/",
    *(f"/places/{n}" for n in range(PROPERTIES)),
    *(f"/buy/places/{n}" for n in range(PROPERTIES)),
    *(path for path, _ in _MENU),
)


def simulate_hotellogs(params: SimulationParams) -> EventTable:
    opts = params.hotel
    opts.validate()
    users = params.population(REFERENCE_USERS)
    population_rng, clock_rng, event_rng = rng_streams(params.seed, "hotellogs", 3)

    ips = ip_addresses(population_rng, users)
    names = accounts(population_rng, users)
    female = population_rng.random(users) < 0.5
    age = categorical(population_rng.random(users), AGE_PROBABILITIES)
    start = params.start_ms + population_rng.integers(0, params.spread_ms + 1, users)

    duration = params.duration_ms(REFERENCE_SECONDS)
    clock = UserClock(clock_rng, start, MIN_SLEEP_MS, MAX_SLEEP_MS)
    clock.cover(duration)
    valid = clock.valid(duration)
    shape = valid.shape
    drawn = categorical(event_rng.random(shape), METHOD_PROBABILITIES)
    state_u = event_rng.random(shape)  # refund or female booking: one rule applies per event
    place = event_rng.integers(0, PROPERTIES, shape, dtype=np.int16)

    first_text = np.array([0, _CLICK_AT, _BOOK_AT, *range(_MENU_AT, REFUND)], dtype=np.int16)
    method = first_text[drawn] + np.where((drawn == CLICK) | (drawn == BOOK), place, 0)
    status = _booking_states(drawn == BOOK, state_u, female, method, place, opts)

    event_ms = clock.times[valid]
    user = np.repeat(np.arange(users, dtype=np.int32), valid.sum(axis=1))
    columns = {
        "user": user,
        "method": method[valid],
        "status": status[valid].astype(np.int8),
        "uuid": draw_uuid_bits(event_rng, len(event_ms)),
    }
    fields_by_key: dict[str, Spec] = {
        "id": Text("uuid", uuid_texts),
        "ip": Lookup("user", ips),
        "datetime": event_time(event_ms),
        "account": Lookup("user", names),
        "method": Lookup("method", (*METHOD_TEXTS, "/refund"), legacy=(*METHOD_TEXTS, "/fefund")),
        "status": Lookup("status", (0, 1)),
        "gender": Lookup("user", [GENDERS[int(f)] for f in female]),
        "age": Lookup("user", [AGE_BANDS[a] for a in age]),
    }
    if params.legacy_wire_format:
        order: tuple[str, ...] = (
            "id",
            "ip",
            "datetime",
            "account",
            "method",
            "status",
            "gender",
            "age",
        )
        template = Template([(k, fields_by_key[k]) for k in order], JSON_SIMPLE)
    else:
        order = ("ip", "account", "gender", "age", "id", "datetime", "method", "status")
        template = Template([(k, fields_by_key[k]) for k in order], CORRECTED)
    return ordered_table(
        event_ms,
        columns,
        key_table=[name.encode() for name in names],
        key_index=user,
        templates=[template],
        order=time_order(event_ms),
    )


def _booking_states(
    booked_by_draw: np.ndarray,
    state_u: np.ndarray,
    female: np.ndarray,
    method: np.ndarray,
    place: np.ndarray,
    opts: HotelOptions,
) -> np.ndarray:
    """Apply §4.3 column by column; rewrites `method` for refunds and female bookings
    and returns the booking state after each event (the emitted status)."""
    users, iterations = booked_by_draw.shape
    status = np.empty((users, iterations), dtype=bool)
    booked = np.zeros(users, dtype=bool)
    for k in range(iterations):
        drawn_booking = booked_by_draw[:, k]
        u = state_u[:, k]
        refund = ~drawn_booking & booked & (u < opts.refund_probability)
        books = ~drawn_booking & ~booked & female & (u < opts.female_booking_probability)
        booked = (booked | drawn_booking | books) & ~refund
        status[:, k] = booked
        if refund.any():
            method[refund, k] = REFUND
        if books.any():
            method[books, k] = _BOOK_AT + place[books, k]
    return status
