"""Hotel log rules (SCENARIOS §4.2–§4.3 with G1 and H1 fixed).

Statistical checks use fixed seeds and accept 5 binomial standard deviations.
"""

from __future__ import annotations

import math
import re
import uuid
from collections import defaultdict

from bdp.simulate.hotellogs import AGE_BANDS

BOOKING = re.compile(r"/buy/places/(\d+)")


def _within(observed: int, n: int, p: float) -> bool:
    return abs(observed / n - p) <= 5 * math.sqrt(p * (1 - p) / n)


def _by_account(events):
    groups = defaultdict(list)
    for event in events:
        groups[event.account].append(event)
    return groups


def _with_state_before(events):
    """(event, booked before it) for every event, following each user's status."""
    for user in _by_account(events).values():
        booked = 0
        for event in user:
            yield event, booked
            booked = event.status


def test_all_two_hundred_reference_users_are_real(run):
    events = run("hotellogs").events
    users = {(e.account, e.ip, e.gender, e.age) for e in events}
    assert len(users) == 200  # the reference stalls at 100 (G1)
    assert len({u[0] for u in users}) == 200 and len({u[1] for u in users}) == 200


def test_identity_pools_are_sized_from_the_population(run):
    events = run("hotellogs", users=800).events
    assert {e.account for e in events} == {f"testAccount_{n}" for n in range(800)}
    ips = {e.ip for e in events}
    assert ips == {f"192.168.{i // 256}.{i % 256}" for i in range(800)}


def test_status_is_the_booking_state_after_each_event(run):
    for event, booked in _with_state_before(run("hotellogs").events):
        match = BOOKING.fullmatch(event.method)
        if match:
            assert event.status == 1 and 0 <= int(match[1]) < 50
        elif event.method == "/refund":
            assert booked == 1 and event.status == 0  # refunds only follow a booking
        else:
            assert event.status == booked


def test_female_users_book_about_ten_times_as_often(run):
    rates = {}
    for gender in ("female", "male"):
        idle = [e for e, booked in _with_state_before(run("hotellogs", users=800).events)
                if not booked and e.gender == gender]  # fmt: skip
        books = sum(bool(BOOKING.fullmatch(e.method)) for e in idle)
        # drawn booking 0.21 * 0.03, else (female only) the 6% rule
        p = 0.0063 + (0.9937 * 0.06 if gender == "female" else 0)
        assert _within(books, len(idle), p)
        rates[gender] = books / len(idle)
    assert 7 < rates["female"] / rates["male"] < 15  # 10.5 expected


def test_refund_rate_while_booked(run):
    booked = [e for e, before in _with_state_before(run("hotellogs", users=800).events) if before]
    refunds = sum(e.method == "/refund" for e in booked)
    # a drawn booking (0.0063) keeps the booking; otherwise refund with p = 0.02
    assert _within(refunds, len(booked), 0.9937 * 0.02)


def test_method_cascade_of_a_user_the_state_rules_leave_alone(run):
    idle_men = [e for e, booked in _with_state_before(run("hotellogs", users=800).events)
                if not booked and e.gender == "male"]  # fmt: skip
    n = len(idle_men)
    menu = 0.30
    expected = {
        "/": 0.49,
        "/sub-home/hotel": menu * 0.15,
        "/sub-home/motel": menu * 0.85**3 * 0.15,
        "/sub-home/transportation": menu * 0.85**4 * 0.875**2 * 0.125,
        "/leisure": menu * 0.85**4 * 0.875**3,
    }
    for method, p in expected.items():
        assert _within(sum(e.method == method for e in idle_men), n, p), method
    clicks = sum(e.method.startswith("/places/") for e in idle_men)
    assert _within(clicks, n, 0.21 * 0.97)


def test_profiles_follow_the_reference_draws(run):
    users = {e.account: e for e in run("hotellogs", users=800).events}.values()
    assert _within(sum(u.gender == "female" for u in users), len(users), 0.5)
    assert _within(sum(u.age == "20-29" for u in users), len(users), 0.70)
    assert {u.age for u in users} == set(AGE_BANDS)


def test_every_event_id_is_a_fresh_uuid4(run):
    ids = [e.id for e in run("hotellogs").events]
    assert len(set(ids)) == len(ids)
    for text in ids[:1000]:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
        assert str(parsed) == text
