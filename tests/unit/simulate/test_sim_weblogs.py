"""Web access log draws (SCENARIOS §7.2); 5 binomial standard deviations of slack."""

from __future__ import annotations

import math


def _within(observed: int, n: int, p: float) -> bool:
    return abs(observed / n - p) <= 5 * math.sqrt(p * (1 - p) / n)


def test_fifteen_clients_each_with_its_own_session(run):
    events = run("weblogs").events
    clients = {(e.ip, e.sessionID) for e in events}
    assert len(clients) == 15
    assert len({ip for ip, _ in clients}) == 15 == len({s for _, s in clients})


def test_request_draws(run):
    events = run("weblogs", users=3000).events
    n = len(events)
    assert _within(sum(e.method == "POST" for e in events), n, 0.3)
    assert _within(sum(e.url == "/" for e in events), n, 0.8)
    assert _within(sum(e.url == "/ads/page" for e in events), n, 0.1)
    assert _within(sum(e.responseCode == 404 for e in events), n, 0.03)
    times = [e.responseTime for e in events]
    assert min(times) == 100 and max(times) == 1000
    assert {e.method for e in events} == {"GET", "POST"}


def test_pacing_gives_about_ten_requests_per_client(run):
    # 300 s at a mean sleep of 500 + 29999.5 ms: about 300 / 30.5 + 0.5 requests each.
    events = run("weblogs", users=3000).events
    assert 9.0 < len(events) / 3000 < 11.5
